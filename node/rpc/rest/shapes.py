"""Domain records in the JSON shapes of the REST API (``/api/v1``), one pure function each.

Conventions: hashes, keys and signatures as lower-case hex; raw tx, encoded header and encoded
certificate bytes as base64 (so a verifier can recompute hashes from the exact bytes); amounts
and heights as JSON integers (all below 2**63). The shapes here are the ones the OpenAPI
document (``node.rpc.rest.openapi``) declares; change both together.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from consensus import codec
from consensus.blocks import Block, Header
from consensus.crypto import MerkleProof
from consensus.ledger.codes import Code
from consensus.ledger.events import Receipt, TxEvent
from consensus.ledger.queries import BalanceView
from consensus.ledger.records import Account, Instrument, Participant
from consensus.ledger.txs import SignedTx
from consensus.messages import CommitCertificate
from consensus.validators import ValidatorSet
from node.mempool import AdmissionCode

Json = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hex_or_none(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def participant_json(participant: Participant) -> Json:
    return {
        "participant_id": participant.participant_id,
        "name": participant.name,
        "roles": sorted(role.name.lower() for role in participant.roles),
        "status": participant.status.name.lower(),
        "keys": [key.hex() for key in participant.keys],
        "threshold": participant.threshold,
        "validator_key": hex_or_none(participant.validator_key),
        "validator_power": participant.validator_power,
        "lei": participant.lei,
        "bic": participant.bic,
    }


def instrument_json(instrument: Instrument) -> Json:
    spec = instrument.spec
    return {
        "instrument_id": spec.instrument_id,
        "kind": spec.kind.name.lower(),
        "issuer": spec.issuer,
        "currency": spec.currency,
        "decimals": spec.decimals,
        "settlement_asset": spec.settlement_asset,
        "supply": instrument.supply,
    }


def balance_json(instrument_id: str, balance: BalanceView) -> Json:
    return {
        "instrument_id": instrument_id,
        "total": balance.total,
        "frozen": balance.frozen,
        "held": balance.held,
        "free": balance.free,
    }


def account_json(account: Account, nonce: int, balances: list[Json]) -> Json:
    return {
        "account_id": account.account_id,
        "bank": account.bank,
        "status": account.status.name.lower(),
        "keys": [key.hex() for key in account.keys],
        "threshold": account.threshold,
        "kyc_ref_hash": account.kyc_ref_hash.hex(),
        "kyc_expiry_ms": account.kyc_expiry_ms,
        "frozen": account.frozen,
        "nonce": nonce,
        "balances": balances,
    }


def event_json(event: TxEvent) -> Json:
    """A typed event: its type name plus its (flat) fields."""
    document: Json = {"type": type(event).__name__}
    for field in dataclasses.fields(event):
        document[field.name] = getattr(event, field.name)
    return document


def receipt_json(receipt: Receipt) -> Json:
    return {
        "code": int(receipt.code),
        "code_name": receipt.code.name,
        "log": receipt.log,
        "events": [event_json(event) for event in receipt.events],
    }


def rejection_json(code: int, log: str) -> Json:
    """A refusal: a ledger receipt code, or the mempool's own (``AdmissionCode``, from 101)."""
    for codes in (Code, AdmissionCode):
        try:
            return {"code": code, "code_name": codes(code).name, "log": log}
        except ValueError:
            continue
    return {"code": code, "code_name": "UNKNOWN", "log": log}


def tx_body_json(tx: SignedTx) -> Json:
    """The decoded transaction (what its signatures cover), for humans and scripts."""
    unsigned = tx.unsigned
    body = {
        field.name: _plain(getattr(unsigned.body, field.name))
        for field in dataclasses.fields(unsigned.body)
    }
    return {
        "chain_id": unsigned.chain_id,
        "type": unsigned.tx_type.name.lower(),
        "submitter": unsigned.submitter,
        "nonce": unsigned.nonce,
        "idempotency_key": unsigned.idempotency_key,
        "valid_until": {
            "kind": unsigned.valid_until.kind.name.lower(),
            "value": unsigned.valid_until.value,
        },
        "memo": unsigned.memo,
        "body": body,
        "signers": [key.hex() for key, _ in tx.signatures],
    }


def _plain(value: Any) -> Any:
    """A body field as JSON: bytes as hex, tuples as lists, records as their fields."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list | frozenset):
        items = sorted(value) if isinstance(value, frozenset) else value
        return [_plain(item) for item in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "name") and hasattr(value, "value"):  # an enum member
        return str(value.name).lower()
    return value


def header_json(header: Header) -> Json:
    return {
        "chain_id": header.chain_id,
        "height": header.height,
        "time_ms": header.time_ms,
        "proposer": header.proposer.hex(),
        "parent_hash": header.parent_hash.hex(),
        "txs_root": header.txs_root.hex(),
        "app_hash": header.app_hash.hex(),
        "last_results_hash": header.last_results_hash.hex(),
        "validators_hash": header.validators_hash.hex(),
        "evidence_hash": header.evidence_hash.hex(),
        "hash": header.hash.hex(),
        "encoded": b64(_encode_header(header)),
    }


def _encode_header(header: Header) -> bytes:
    return codec.encode(header.to_wire())


def block_summary_json(block: Block) -> Json:
    header = block.header
    return {
        "height": header.height,
        "hash": block.hash.hex(),
        "time_ms": header.time_ms,
        "proposer": header.proposer.hex(),
        "num_txs": len(block.txs),
    }


def certificate_json(certificate: CommitCertificate) -> Json:
    return {
        "height": certificate.height,
        "round": certificate.round,
        "block_hash": certificate.block_hash.hex(),
        "signatures": [
            {"validator_index": sig.validator_index, "signature": sig.signature.hex()}
            for sig in certificate.signatures
        ],
        "encoded": b64(certificate.encode()),
    }


def validator_set_json(validators: ValidatorSet, names: dict[bytes, str]) -> Json:
    return {
        "validators": [
            {
                "public_key": v.public_key.hex(),
                "power": v.power,
                "participant_id": names.get(v.public_key),
            }
            for v in validators.validators
        ],
        "total_power": validators.total_power,
        "hash": validators.compute_hash().hex(),
    }


def merkle_proof_json(proof: MerkleProof) -> Json:
    return {"index": proof.index, "total": proof.total, "aunts": [a.hex() for a in proof.aunts]}
