"""Commit certificates: build one from precommits, verify one offline.

``verify_certificate`` needs only the certificate, the block hash and height it should commit,
the validator set of that height and the chain id; a light client or an auditor can run it
without any other chain state. Every failure is a typed :class:`CertificateError`.
"""

from __future__ import annotations

from consensus import crypto
from consensus.crypto import SignPurpose
from consensus.errors import InvalidMessage
from consensus.messages import CommitCertificate, CommitSig, VoteType, compute_vote_sign_payload
from consensus.types import ChainId, Hash32
from consensus.validators import ValidatorSet
from consensus.vote_set import VoteSet


class CertificateError(InvalidMessage):
    """A commit certificate that does not prove what it is presented for."""


class WrongHeight(CertificateError):
    pass


class WrongBlock(CertificateError):
    pass


class DuplicateSigner(CertificateError):
    """The same validator appears twice (or signatures are not sorted by index)."""


class UnknownValidator(CertificateError):
    """A signature's validator index is not in the validator set."""


class BadSignature(CertificateError):
    """A signature does not verify (also what a certificate from another chain gives)."""


class InsufficientPower(CertificateError):
    """The signers hold no more than 2/3 of the voting power."""


def make_certificate(precommits: VoteSet, block_hash: Hash32) -> CommitCertificate:
    """The certificate of ``block_hash`` from a precommit set holding a quorum for it."""
    if precommits.type != VoteType.PRECOMMIT or not precommits.has_quorum_for(block_hash):
        raise ValueError("no precommit quorum for this block")  # caller's bug
    sigs = tuple(
        CommitSig(v.validator_index, v.signature)
        for v in precommits.votes()
        if v.block_hash == block_hash
    )
    return CommitCertificate(precommits.height, precommits.round, block_hash, sigs)


def verify_certificate(
    cert: CommitCertificate,
    block_hash: bytes,
    height: int,
    validator_set: ValidatorSet,
    chain_id: ChainId,
) -> None:
    """Raise a :class:`CertificateError` unless > 2/3 of ``validator_set``'s power precommitted
    ``block_hash`` at ``height`` on ``chain_id``."""
    if cert.height != height:
        raise WrongHeight(f"certificate is for height {cert.height}, not {height}")
    if cert.block_hash != block_hash:
        raise WrongBlock("certificate is for another block")
    power = _validate_signers(cert, validator_set)
    if not validator_set.is_quorum(power):
        raise InsufficientPower(f"signers hold {power} of {validator_set.total_power}")
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, cert.height, cert.round, block_hash)
    for sig in cert.signatures:
        member = validator_set.validators[sig.validator_index]
        if not crypto.verify(member.public_key, SignPurpose.VOTE, chain_id, payload, sig.signature):
            raise BadSignature(f"bad signature of validator {sig.validator_index}")


def _validate_signers(cert: CommitCertificate, validator_set: ValidatorSet) -> int:
    """Check indexes (known, strictly increasing) and return the signers' total power."""
    power = 0
    previous = -1
    for sig in cert.signatures:
        member = validator_set.get_by_index(sig.validator_index)
        if member is None:
            raise UnknownValidator(f"validator index {sig.validator_index} not in the set")
        if sig.validator_index <= previous:
            raise DuplicateSigner(f"validator {sig.validator_index} repeated or out of order")
        previous = sig.validator_index
        power += member.power
    return power
