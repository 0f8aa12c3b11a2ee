"""Proving a snapshot's root: the app hash of height ``h`` from a certified header ``h + 1``.

A peer's manifest only *claims* an app hash. The joining node trusts the root only once header
``h + 1`` (whose ``app_hash`` is the state after block ``h``) verifies:

- the validator set the peer sends is the one the header names (``validators_hash``) and more
  than 2/3 of its power signed the header's commit certificate;
- that set is trusted: it is the genesis set; or the operator's trusted block
  (``[statesync].trust_height``/``trust_hash``) is this very header; or, as the SDK's light
  client does (``node.client.state_proofs``), more than 1/3 of the GENESIS set's power is among
  the signers and the header lies within genesis's trust window, over which governance bounds
  how much power may change (so at least one honest genesis validator vouches for it).

Block ``h`` (the new tip), its receipts and its certificate come with it: the block must be the
header's parent, the receipts must hash to its ``last_results_hash``, and the certificate is for
that block (its signatures are checked once the state, and so the set of height ``h``, is known).
So do the headers of the blocks before ``h`` that leader skipping reads: each must be the parent
of the next, the last block ``h``'s parent (:mod:`node.leader_window`).
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import codec
from consensus.blocks import Block, Header
from consensus.certificate import CertificateError, verify_certificate
from consensus.codec import CodecError
from consensus.ledger import build_genesis_state, decode_receipts, get_validators
from consensus.ledger.commitment import compute_receipts_hash
from consensus.ledger.queries import get_governance
from consensus.messages import CommitCertificate
from consensus.validators import ValidatorSet
from node.errors import NodeError
from node.home import ChainGenesis
from node.leader_window import decode_headers, verify_window_headers
from node.statesync.messages import AnchorResponse


class AnchorError(NodeError):
    """The anchor does not prove the snapshot's root."""


@dataclass(frozen=True, slots=True)
class Trust:
    chain_id: str
    genesis_validators: ValidatorSet
    window_heights: int
    trusted_block: tuple[int, bytes] | None = None
    """(height, hash) the operator trusts, if configured."""

    @classmethod
    def from_genesis(
        cls, genesis: ChainGenesis, trusted_block: tuple[int, bytes] | None = None
    ) -> Trust:
        state = build_genesis_state(genesis.ledger)
        validators = ValidatorSet.of(get_validators(state, 1))
        window = get_governance(state).trust_window_heights
        return cls(genesis.chain_id, validators, window, trusted_block)


@dataclass(frozen=True, slots=True)
class VerifiedAnchor:
    height: int
    app_hash: bytes
    """Certified root of the state after block ``height``."""
    block: Block
    certificate: CommitCertificate
    anchor: AnchorResponse


def verify_anchor(anchor: AnchorResponse, height: int, trust: Trust) -> VerifiedAnchor:
    """The certified app hash of ``height``; AnchorError unless everything above holds."""
    try:
        header = Header.from_wire(codec.decode(anchor.next_header))
        named = ValidatorSet.from_wire(codec.decode(anchor.next_validators))
        next_certificate = CommitCertificate.decode(anchor.next_certificate)
        block = Block.decode(anchor.block)
        certificate = CommitCertificate.decode(anchor.certificate)
        receipts = decode_receipts(anchor.results)
    except (CodecError, ValueError) as exc:
        raise AnchorError(f"unreadable anchor: {exc}") from exc
    _check(anchor.height == height and header.height == height + 1, "anchor of another height")
    _check(header.chain_id == trust.chain_id, f"header of chain {header.chain_id!r}")
    _check(named.compute_hash() == header.validators_hash, "not the set the header names")
    try:
        verify_certificate(next_certificate, header.hash, header.height, named, header.chain_id)
    except CertificateError as exc:
        raise AnchorError(f"certificate of header {header.height}: {exc}") from exc
    _check_set_trusted(header, named, next_certificate, trust)
    _check(block.height == height and block.hash == header.parent_hash, "block is not the parent")
    _check(
        certificate.height == height and certificate.block_hash == block.hash,
        "certificate is not block's",
    )
    _check(
        compute_receipts_hash(receipts) == header.last_results_hash,
        "receipts do not hash to the header's last_results_hash",
    )
    try:
        verify_window_headers(decode_headers(anchor.window_headers), block)
    except (CodecError, ValueError) as exc:
        raise AnchorError(f"leader window headers: {exc}") from exc
    return VerifiedAnchor(height, header.app_hash, block, certificate, anchor)


def _check_set_trusted(
    header: Header, named: ValidatorSet, certificate: CommitCertificate, trust: Trust
) -> None:
    if trust.trusted_block == (header.height, header.hash):
        return
    if named.compute_hash() == trust.genesis_validators.compute_hash():
        return
    _check(
        header.height <= trust.window_heights + 1,
        f"header {header.height} names a validator set other than genesis's beyond the trust "
        f"window ({trust.window_heights} heights): configure [statesync].trust_height/trust_hash",
    )
    genesis_power = {v.public_key: v.power for v in trust.genesis_validators.validators}
    overlap = sum(
        genesis_power.get(named.validators[sig.validator_index].public_key, 0)
        for sig in certificate.signatures
    )
    _check(
        3 * overlap > trust.genesis_validators.total_power,
        f"header {header.height}: its signers hold only {overlap} of the genesis set's power",
    )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AnchorError(message)
