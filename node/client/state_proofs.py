"""Offline verification of state proofs, receipt proofs and proof-of-liabilities pages, from
``genesis.json`` alone.

Every proven answer carries an *anchor*: header ``h + 1`` (whose ``app_hash`` is the root of the
state after block ``h`` and whose ``last_results_hash`` commits to block ``h``'s receipts), its
commit certificate and the validator set. The anchor verifies when the header is on the trusted
chain id, the validator set the answer carries is the one its ``validators_hash`` names, > 2/3
of that set's power signed the certificate for the header's hash, and that set is the genesis
set or, if it changed since, more than 1/3 of the GENESIS set's power is among the signers and
the header lies within genesis's trust window (governance refuses any change that moves 1/3 or
more of the power within that window, so an honest genesis validator must have signed). A
header past the window that names a changed set is refused: following the changes through a
chain of intermediate headers is not implemented. Signers' names are labels, not proven.

Values are then checked against the anchor's root with ``consensus.merkle`` proofs, decoded
with the ledger's own canonical record readers.
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
from consensus.crypto import verify_merkle_proof
from consensus.ledger import build_genesis_state, get_validators
from consensus.ledger.commitment import instrument_balances_range, to_state_key, to_tree_key
from consensus.ledger.events import Receipt
from consensus.ledger.queries import get_governance
from consensus.ledger.records import Account, Balance, Instrument
from consensus.ledger.state import account_key, balance_key, get_reader, instrument_key, nonce_key
from consensus.merkle import Proof, successor, verify_range
from consensus.merkle import ProofError as TreeProofError
from consensus.messages import CommitCertificate
from consensus.validators import ValidatorSet
from node.client.errors import ProofError
from node.client.proof import read_merkle_proof, validator_set_from_json

INSTRUMENTS_RANGE = (b"I", b"J")


@dataclass(frozen=True, slots=True)
class Trust:
    """What a verifier trusts: the chain id and the validator set genesis fixes."""

    chain_id: str
    validators: ValidatorSet
    window_heights: int = 0
    """Genesis's ``trust_window_heights``: how far a header signed by a changed set can be
    trusted on the genesis set's word (0: never)."""

    @classmethod
    def from_genesis(cls, path: Path) -> Trust:
        from node.home import HomeError, load_genesis

        try:
            genesis = load_genesis(path)
        except HomeError as exc:
            raise ProofError(str(exc)) from exc
        state = build_genesis_state(genesis.ledger)
        validators = ValidatorSet.of(get_validators(state, 1))
        window = get_governance(state).trust_window_heights
        return cls(genesis.chain_id, validators, window)


@dataclass(frozen=True, slots=True)
class Signer:
    public_key: str
    power: int
    name: str | None
    """The participant id the answer gives for the key: a label, not proven."""


@dataclass(frozen=True, slots=True)
class CertifiedRoot:
    """A verified anchor: the state after block ``height`` has root ``app_hash``."""

    height: int
    header_height: int
    block_hash: bytes
    app_hash: bytes
    last_results_hash: bytes
    signers: tuple[Signer, ...]
    signed_power: int
    total_power: int
    """Of the set the header names (the genesis set unless ``trusted_set_changed``)."""
    trusted_set_changed: bool = False
    """The header names another set than genesis's; trusted because > 1/3 of the genesis
    set's power signed it (within the trust window)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ProofError(message)


def b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ProofError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ProofError(f"bad base64: {exc}") from exc


def verify_anchor(anchor: Any, trust: Trust) -> CertifiedRoot:
    """Check the header and its certificate against the trusted set; the certified root."""
    try:
        header = Header.from_wire(codec.decode(b64(anchor["header"]["encoded"])))
        certificate = CommitCertificate.decode(b64(anchor["certificate"]["encoded"]))
        height = anchor["height"]
        named = validator_set_from_json(anchor["validators"])
        names = {
            v["public_key"]: v.get("participant_id") for v in anchor["validators"]["validators"]
        }
    except (KeyError, TypeError, ValueError, CodecError) as exc:
        raise ProofError(f"unreadable anchor: {exc}") from exc
    _check(header.chain_id == trust.chain_id, f"the header is of chain {header.chain_id!r}")
    _check(height == header.height - 1, "the anchor's height is not the header's height - 1")
    _check(
        named.compute_hash() == header.validators_hash,
        f"the validator set in the answer is not the one header {header.height} names",
    )
    try:
        verify_certificate(certificate, header.hash, header.height, named, header.chain_id)
    except CertificateError as exc:
        raise ProofError(f"commit certificate of header {header.height}: {exc}") from exc
    signers = tuple(
        Signer(key.hex(), member.power, names.get(key.hex()))
        for sig in certificate.signatures
        for member in (named.validators[sig.validator_index],)
        for key in (member.public_key,)
    )
    if named.compute_hash() != trust.validators.compute_hash():
        _check_skip(header.height, signers, trust)
    return CertifiedRoot(
        height=height,
        header_height=header.height,
        block_hash=header.hash,
        app_hash=header.app_hash,
        last_results_hash=header.last_results_hash,
        signers=signers,
        signed_power=sum(s.power for s in signers),
        total_power=named.total_power,
        trusted_set_changed=named.compute_hash() != trust.validators.compute_hash(),
    )


def _check_skip(header_height: int, signers: tuple[Signer, ...], trust: Trust) -> None:
    """Trust a header signed by a set other than genesis's when more than 1/3 of the GENESIS
    set's power is among its signers (so at least one honest genesis validator vouches for it),
    and only while genesis's set is within the trust window, over which governance bounds how
    much power may change (docs/domain.md, *Validator set*)."""
    _check(
        header_height <= trust.window_heights + 1,
        f"header {header_height} names a validator set other than genesis's and lies beyond "
        f"the genesis trust window ({trust.window_heights} heights): following the changes "
        "through intermediate headers is not implemented",
    )
    trusted = {v.public_key.hex(): v.power for v in trust.validators.validators}
    overlap = sum(trusted.get(s.public_key, 0) for s in signers)
    _check(
        3 * overlap > trust.validators.total_power,
        f"header {header_height} names another validator set, and its signers hold only "
        f"{overlap} of the genesis set's {trust.validators.total_power} power (> 1/3 needed)",
    )


def verify_range_json(root: bytes, proof: Any, lo: bytes, hi: bytes) -> list[tuple[bytes, bytes]]:
    """Every (tree key, value) of ``[lo, hi)`` under ``root``; the proof's own bounds must be
    the ones asked for."""
    try:
        _check(b64(proof["lo"]) == lo and b64(proof["hi"]) == hi, "the proof is of another range")
        return verify_range(root, lo, hi, Proof.decode(b64(proof["proof"])))
    except (KeyError, TypeError) as exc:
        raise ProofError(f"unreadable range proof: {exc}") from exc
    except (TreeProofError, CodecError) as exc:
        raise ProofError(f"range proof: {exc}") from exc


def verify_key_json(root: bytes, proof: Any, state_key: bytes) -> Any:
    """The decoded record under ledger ``state_key`` (None: proven absent)."""
    tree_key = to_tree_key(state_key)
    try:
        _check(b64(proof["key"]) == tree_key, "the proof is of another key")
        found = verify_range(root, tree_key, successor(tree_key), Proof.decode(b64(proof["proof"])))
    except (KeyError, TypeError) as exc:
        raise ProofError(f"unreadable proof: {exc}") from exc
    except (TreeProofError, CodecError) as exc:
        raise ProofError(f"proof of {state_key!r}: {exc}") from exc
    if not found:
        return None
    return decode_record(state_key, found[0][1])


def decode_record(state_key: bytes, raw: bytes) -> Any:
    try:
        return get_reader(state_key)(codec.decode(raw))
    except CodecError as exc:
        raise ProofError(f"the proven value of {state_key!r} is not a record: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# accounts and instruments


@dataclass(frozen=True, slots=True)
class ProvenAccount:
    root: CertifiedRoot
    account_id: str
    account: Account | None
    nonce: int
    balances: dict[str, Balance]
    """Every instrument's balance of the account that exists (the others are proven absent)."""
    instruments: dict[str, Instrument]
    """Every instrument of the chain (the list is proven complete)."""


def verify_account_proof(doc: Any, trust: Trust, account_id: str) -> ProvenAccount:
    """Verify ``GET /accounts/{id}?prove=true`` for ``account_id``."""
    root = verify_anchor(_field(doc, "anchor"), trust)
    app_hash = root.app_hash
    account = verify_key_json(app_hash, _field(doc, "account"), account_key(account_id))
    nonce = verify_key_json(app_hash, _field(doc, "nonce"), nonce_key(account_id)) or 0
    lo, hi = INSTRUMENTS_RANGE
    listed = verify_range_json(app_hash, _field(doc, "instruments"), lo, hi)
    instruments = {key[1:].decode(): decode_record(key, raw) for key, raw in listed}
    proofs = _field(doc, "balances")
    _check(isinstance(proofs, dict), "balances: a map by instrument")
    _check(set(proofs) == set(instruments), "the balances do not cover every instrument")
    balances: dict[str, Balance] = {}
    for iid in instruments:
        balance = verify_key_json(app_hash, proofs[iid], balance_key(account_id, iid))
        if balance is not None:
            balances[iid] = balance
    return ProvenAccount(root, account_id, account, nonce, balances, instruments)


@dataclass(frozen=True, slots=True)
class ProvenInstrument:
    root: CertifiedRoot
    instrument_id: str
    instrument: Instrument | None


def verify_instrument_proof(doc: Any, trust: Trust, instrument_id: str) -> ProvenInstrument:
    root = verify_anchor(_field(doc, "anchor"), trust)
    record = verify_key_json(
        root.app_hash, _field(doc, "instrument"), instrument_key(instrument_id)
    )
    return ProvenInstrument(root, instrument_id, record)


def _field(doc: Any, name: str) -> Any:
    if not isinstance(doc, dict) or name not in doc:
        raise ProofError(f"the answer has no {name!r}")
    return doc[name]


# ---------------------------------------------------------------------------------------------
# receipts


@dataclass(frozen=True, slots=True)
class ProvenReceipt:
    root: CertifiedRoot
    height: int
    index: int
    receipt: Receipt

    @property
    def accepted(self) -> bool:
        return self.receipt.is_ok


def verify_receipt_proof(proof: Any, trust: Trust) -> ProvenReceipt:
    """Verify a finality proof's ``receipt_proof``: the tx's receipt is the one block
    ``height`` committed to (``last_results_hash`` of header ``height + 1``), at the tx's
    index. The tx's inclusion is verified separately (``verify_finality_proof``)."""
    part = _field(proof, "receipt_proof")
    _check(part is not None, "no receipt proof yet: the next block is not committed")
    root = verify_anchor(_field(part, "anchor"), trust)
    _check(root.height == proof.get("height"), "the receipt is proven for another block")
    try:
        raw = b64(part["receipt"])
        inclusion = read_merkle_proof(part["merkle_proof"])
        receipt = Receipt.decode(raw)
    except (KeyError, TypeError, ValueError, CodecError) as exc:
        raise ProofError(f"unreadable receipt proof: {exc}") from exc
    _check(inclusion.index == proof.get("index"), "the receipt is of another tx of the block")
    _check(
        verify_merkle_proof(root.last_results_hash, raw, inclusion),
        "the receipt is not under the header's last_results_hash",
    )
    return ProvenReceipt(root, root.height, inclusion.index, receipt)


# ---------------------------------------------------------------------------------------------
# proof of liabilities


@dataclass(frozen=True, slots=True)
class ProvenPage:
    root: CertifiedRoot
    supply: int
    balances: tuple[tuple[str, Balance], ...]
    hi: bytes
    """Where the page's proven slice ends: the next page's slice must start here."""


def verify_balance_page(page: Any, trust: Trust, instrument_id: str, lo: bytes) -> ProvenPage:
    """Verify one page of ``GET /instruments/{id}/balances``: the slice ``[lo, hi)`` holds
    exactly these balances under the certified root, and the instrument's supply."""
    root = verify_anchor(_field(page, "anchor"), trust)
    record = verify_key_json(
        root.app_hash, _field(page, "instrument"), instrument_key(instrument_id)
    )
    _check(record is not None, f"instrument {instrument_id} is proven absent")
    range_lo, range_hi = instrument_balances_range(instrument_id)
    hi = b64(_field(_field(page, "slice"), "hi"))
    _check(lo < hi <= range_hi and lo >= range_lo, "the slice lies outside the instrument's range")
    items = verify_range_json(root.app_hash, page["slice"], lo, hi)
    balances = []
    for tree_key, raw in items:
        state_key = to_state_key(tree_key)
        account_id = tree_key[len(range_lo) :].decode()
        balances.append((account_id, decode_record(state_key, raw)))
    return ProvenPage(root, record.supply, tuple(balances), hi)
