"""Commit certificates verify offline; each way of being wrong fails with its own error."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.certificate import (
    BadSignature,
    CertificateError,
    DuplicateSigner,
    InsufficientPower,
    UnknownValidator,
    WrongBlock,
    WrongHeight,
    make_certificate,
    verify_certificate,
)
from consensus.messages import CommitCertificate, CommitSig, VoteType
from consensus.types import ChainId, Height, Round, ValidatorIndex
from consensus.validators import ValidatorSet
from consensus.vote_set import VoteSet
from tests.consensus.replica_fixtures import CHAIN, VSET, bad_signature, precommit

BLOCK = b"\x0b" * 32


def cert_of(indexes: tuple[int, ...] = (0, 1, 2), block: bytes = BLOCK) -> CommitCertificate:
    votes = VoteSet(Height(1), Round(0), VoteType.PRECOMMIT, VSET)
    for i in indexes:
        votes.add_vote(precommit(i, 0, block))
    votes.add_vote(precommit(3, 0, None))
    return make_certificate(votes, votes.get_quorum_block() or block)  # type: ignore[arg-type]


def test_valid_certificate_verifies() -> None:
    cert = cert_of()
    verify_certificate(cert, BLOCK, 1, VSET, CHAIN)
    assert len(cert.signatures) == 3  # the nil precommit is not part of it
    assert CommitCertificate.decode(cert.encode()) == cert


def test_make_certificate_needs_a_quorum() -> None:
    votes = VoteSet(Height(1), Round(0), VoteType.PRECOMMIT, VSET)
    votes.add_vote(precommit(0, 0, BLOCK))
    with pytest.raises(ValueError):
        make_certificate(votes, BLOCK)  # type: ignore[arg-type]


def expect(error: type[CertificateError], cert: CommitCertificate, **kwargs: object) -> None:
    args: dict[str, object] = {
        "block_hash": BLOCK,
        "height": 1,
        "validator_set": VSET,
        "chain_id": CHAIN,
    }
    args.update(kwargs)
    with pytest.raises(error):
        verify_certificate(cert, **args)  # type: ignore[arg-type]


def test_two_thirds_exactly_is_not_enough() -> None:
    cert = cert_of()
    expect(InsufficientPower, replace(cert, signatures=cert.signatures[:2]))
    # the non-signer (index 3) holds 30 of 60: the three signers' 30 is not > 2/3
    powers = (10, 10, 10, 30)
    heavy = ValidatorSet.of(
        [(v.public_key, p) for v, p in zip(VSET.validators, powers, strict=True)]
    )
    expect(InsufficientPower, cert, validator_set=heavy)
    # exactly 2/3: the three signers hold 30 of 45
    exact = ValidatorSet.of(
        [(v.public_key, p) for v, p in zip(VSET.validators, (10, 10, 10, 15), strict=True)]
    )
    expect(InsufficientPower, cert, validator_set=exact)
    # one unit more than 2/3 is a quorum: 30 of 44
    just_over = ValidatorSet.of(
        [(v.public_key, p) for v, p in zip(VSET.validators, (10, 10, 10, 14), strict=True)]
    )
    verify_certificate(cert, cert.block_hash, cert.height, just_over, CHAIN)


def test_wrong_chain_fails_as_bad_signature() -> None:
    expect(BadSignature, cert_of(), chain_id=ChainId("another-chain"))


def test_wrong_block_and_height() -> None:
    expect(WrongBlock, cert_of(), block_hash=b"\x0c" * 32)
    expect(WrongHeight, cert_of(), height=2)


def test_duplicate_signer() -> None:
    cert = cert_of()
    sigs = cert.signatures
    expect(DuplicateSigner, replace(cert, signatures=(sigs[0], sigs[0], sigs[1], sigs[2])))
    expect(DuplicateSigner, replace(cert, signatures=(sigs[1], sigs[0], sigs[2])))


def test_unknown_validator() -> None:
    cert = cert_of()
    extra = CommitSig(ValidatorIndex(7), cert.signatures[0].signature)
    expect(UnknownValidator, replace(cert, signatures=(*cert.signatures, extra)))


def test_bad_signature() -> None:
    cert = cert_of()
    first = cert.signatures[0]
    broken = CommitSig(first.validator_index, bad_signature(first.signature))
    expect(BadSignature, replace(cert, signatures=(broken, *cert.signatures[1:])))


def test_signature_moved_to_another_index_fails() -> None:
    cert = cert_of((0, 1, 2))
    sigs = cert.signatures
    swapped = (CommitSig(sigs[0].validator_index, sigs[1].signature), *sigs[1:])
    expect(BadSignature, replace(cert, signatures=swapped))


def test_other_round_signatures_do_not_verify() -> None:
    expect(BadSignature, replace(cert_of(), round=Round(1)))
