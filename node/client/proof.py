"""Offline verification of a transaction's finality proof, with nothing but the proof and a
trusted validator set.

A proof (``GET /api/v1/txs/{hash}/proof``) holds the raw tx, the encoded block header, the
commit certificate and the tx's Merkle inclusion proof. It verifies when: the tx bytes hash to
the claimed hash; the Merkle proof places them under the header's ``txs_root``; the trusted
validator set hashes to the header's ``validators_hash``; and > 2/3 of that set's power signed
the certificate for this header's hash at its height on its chain. The receipt (the outcome) is
not covered by the header: it follows from deterministic execution and is served as data.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus import codec
from consensus.blocks import Header
from consensus.certificate import CertificateError, verify_certificate
from consensus.codec import CodecError
from consensus.crypto import MerkleProof, sha256, verify_merkle_proof
from consensus.ledger import SignedTx, build_genesis_state, decode_tx, get_validators
from consensus.messages import CommitCertificate
from consensus.types import Hash32, PublicKey, VotingPower
from consensus.validators import InvalidValidatorSet, Validator, ValidatorSet
from node.client.errors import ProofError

MERKLE_AUNTS_MAX = 64


@dataclass(frozen=True, slots=True)
class VerifiedTx:
    """What a verified proof establishes."""

    tx_hash: Hash32
    chain_id: str
    height: int
    index: int
    block_hash: Hash32
    tx: SignedTx


def verify_finality_proof(
    proof: dict[str, Any], validators: ValidatorSet, chain_id: str | None = None
) -> VerifiedTx:
    """Check ``proof`` against the TRUSTED ``validators``; raise :class:`ProofError` if any
    part fails. ``chain_id``, when given, must be the header's."""
    try:
        raw = _b64(proof["tx"])
        header = Header.from_wire(codec.decode(_b64(proof["header"]["encoded"])))
        certificate = CommitCertificate.decode(_b64(proof["certificate"]["encoded"]))
        inclusion = read_merkle_proof(proof["merkle_proof"])
        claimed_hash = bytes.fromhex(proof["hash"])
    except (KeyError, TypeError, ValueError, CodecError, binascii.Error) as exc:
        raise ProofError(f"unreadable proof: {exc}") from exc
    tx_hash = sha256(raw)
    _check(tx_hash == claimed_hash, "the tx bytes do not hash to the claimed hash")
    _check(chain_id is None or header.chain_id == chain_id, "the proof is for another chain")
    _check(proof.get("height") == header.height, "the proof's height is not the header's")
    _check(proof.get("index") == inclusion.index, "the proof's index is not the Merkle index")
    _check(
        verify_merkle_proof(header.txs_root, raw, inclusion),
        "the Merkle proof does not place the tx under the header's txs_root",
    )
    _check(
        validators.compute_hash() == header.validators_hash,
        "the trusted validator set is not the one the header names",
    )
    try:
        verify_certificate(certificate, header.hash, header.height, validators, header.chain_id)
    except CertificateError as exc:
        raise ProofError(f"commit certificate: {exc}") from exc
    try:
        tx = decode_tx(raw)
    except CodecError as exc:
        raise ProofError(f"the committed bytes are not a transaction: {exc}") from exc
    return VerifiedTx(tx_hash, header.chain_id, header.height, inclusion.index, header.hash, tx)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ProofError(message)


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    return base64.b64decode(value, validate=True)


def read_merkle_proof(value: Any) -> MerkleProof:
    aunts = value["aunts"]
    if not isinstance(aunts, list) or len(aunts) > MERKLE_AUNTS_MAX:
        raise ValueError("merkle_proof.aunts: a list of at most 64 hashes")
    index, total = value["index"], value["total"]
    if not isinstance(index, int) or not isinstance(total, int):
        raise ValueError("merkle_proof: index and total are integers")
    return MerkleProof(index, total, tuple(Hash32(bytes.fromhex(a)) for a in aunts))


def validator_set_from_json(value: Any) -> ValidatorSet:
    """A validator set as the API serves it (``{"validators": [{public_key, power}]}``).

    Only as trustworthy as where it came from: to verify a proof offline, prefer a set from
    genesis (:func:`validator_set_from_genesis`) or from a node you trust."""
    try:
        members = [
            Validator(PublicKey(bytes.fromhex(v["public_key"])), VotingPower(int(v["power"])))
            for v in value["validators"]
        ]
        return ValidatorSet.of(members)
    except (KeyError, TypeError, ValueError, InvalidValidatorSet) as exc:
        raise ProofError(f"unreadable validator set: {exc}") from exc


def validator_set_from_genesis(path: Path, height: int = 1) -> ValidatorSet:
    """The validator set of ``height`` (default 1) as fixed by a genesis file."""
    from node.home import HomeError, load_genesis

    try:
        genesis = load_genesis(path)
    except HomeError as exc:
        raise ProofError(str(exc)) from exc
    return ValidatorSet.of(get_validators(build_genesis_state(genesis.ledger), height))
