"""Vectors of the ledger: transactions (encoding, signatures, hash), receipts, the genesis state
and app hash, and each block's state changes and app hash.

Each ``*_document()`` recomputes one file from the fixed inputs with today's code.
"""

from __future__ import annotations

from collections.abc import Iterable

from consensus import crypto
from consensus.crypto import SignPurpose
from consensus.ledger import Code, encode_receipts
from consensus.ledger.commitment import compute_receipts_hash
from consensus.ledger.events import EventType
from consensus.ledger.records import AccountStatus, InstrumentKind, ParticipantStatus, Role
from consensus.ledger.state import META_KEY
from consensus.ledger.txs import TxType, ValidUntilKind, compute_tx_hash, decode_tx

from .chain import build_chain
from .jsonform import Json, enum_table, to_json
from .store import make_document, make_vector
from .world import all_txs, block_txs, genesis_json, key_json

TX_LAYOUT = [
    "chain_id",
    "type",
    "submitter",
    "nonce",
    "idempotency_key",
    "valid_until",
    "memo",
    "body",
]
TX_ENUMS = enum_table(TxType, ValidUntilKind, Role, ParticipantStatus, SignPurpose)


def txs_document() -> Json:
    vectors = []
    for spec in all_txs():
        tx = decode_tx(spec.raw)
        payload = spec.unsigned.sign_payload()
        inputs = {
            "tx": to_json(spec.unsigned),
            "signers": [key_json(name) for name in spec.signers],
        }
        expected = {
            "sign_payload": payload.hex(),
            "sign_bytes": crypto.compute_sign_bytes(
                SignPurpose.TRANSACTION, spec.unsigned.chain_id, payload
            ).hex(),
            "signatures": [
                {"public_key": public_key.hex(), "signature": signature.hex()}
                for public_key, signature in tx.signatures
            ],
            "tx_bytes": spec.raw.hex(),
            "tx_hash": compute_tx_hash(spec.raw).hex(),
        }
        vectors.append(make_vector(spec.name, spec.description, inputs, expected))
    return make_document(
        "Transactions: sign_payload is the unsigned tx's encoding; the signers' Ed25519 keys sign "
        "the sign-bytes [domain, purpose, chain_id, payload]; tx_bytes = encoding of [unsigned, "
        "[[public_key, signature]...] sorted by public_key]; tx_hash = sha256(tx_bytes). "
        "A body's fields are positional in the order listed; the envelope's 'type' is the body's.",
        vectors,
        enums=TX_ENUMS,
        layouts={
            "sign_payload": TX_LAYOUT,
            "tx_bytes": ["unsigned", "signatures"],
            "valid_until": ["kind", "value"],
        },
    )


def receipts_document() -> Json:
    vectors = []
    for item in build_chain().blocks:
        receipts = item.result.receipts
        codes = {receipt.code for receipt in receipts}
        kind = "all ok" if codes == {Code.OK} else "ok and rejected"
        inputs = {"receipts": to_json(receipts)}
        expected = {
            "receipt_encodings": [receipt.encode().hex() for receipt in receipts],
            "block_results_encoding": encode_receipts(receipts).hex(),
            "results_hash": compute_receipts_hash(receipts).hex(),
        }
        height = item.block.height
        text = f"receipts of block {height} ({kind}), in block order"
        vectors.append(make_vector(f"block_{height}_receipts", text, inputs, expected))
    return make_document(
        "Receipts: [code, log, [event...]], each event [type, field...] with its fields in the "
        "order listed. A block's results are the list of its receipts; results_hash is the "
        "RFC 6962 Merkle root of the receipt encodings, carried by the NEXT block's header as "
        "last_results_hash.",
        vectors,
        enums=enum_table(Code, EventType),
        layouts={"receipt_encodings[]": ["code", "log", "events"], "event": ["type", "fields..."]},
    )


def _pairs(items: Iterable[tuple[bytes, bytes | None]]) -> list[list[str | None]]:
    """Sorted ``[key, value]`` hex pairs, without the unhashed meta record (value None deletes)."""
    return [[k.hex(), None if v is None else v.hex()] for k, v in sorted(items) if k != META_KEY]


def ledger_document() -> Json:
    chain = build_chain()
    genesis_state = chain.genesis_state
    vectors = [
        make_vector(
            "genesis",
            "the genesis document, its state and its app hash",
            {"genesis": genesis_json()},
            {
                "state": _pairs(genesis_state.items()),
                "app_hash": genesis_state.app_hash.hex(),
                "validators_height_1": to_json(chain.validator_set.to_wire()),
            },
        )
    ]
    for item, specs in zip(chain.blocks, block_txs(), strict=True):
        block, result = item.block, item.result
        inputs = {
            "height": block.height,
            "time_ms": block.header.time_ms,
            "previous_app_hash": item.state_before.app_hash.hex(),
            "tx_names": [spec.name for spec in specs],
            "txs": [tx.hex() for tx in block.txs],
        }
        expected = {
            "receipt_codes": [int(receipt.code) for receipt in result.receipts],
            "state_changes": _pairs(result.state_changes.items()),
            "app_hash": result.app_hash.hex(),
        }
        text = f"block {block.height} executed on the state after block {block.height - 1}"
        if block.height == len(chain.blocks):
            text += f"; app_hash is the state after all {block.height} blocks"
        vectors.append(make_vector(f"block_{block.height}", text, inputs, expected))
    return make_document(
        "Ledger execution. The app hash is the root of the state tree (docs/state.md) over every "
        "[key, value] of the state, balances keyed B instrument 0x00 account in the tree: the "
        "genesis state, then the state after applying each block's changes in turn. The meta "
        "record (key 0x006d657461) is stored but not committed, so it is left out here.",
        vectors,
        enums=enum_table(Code, Role, ParticipantStatus, InstrumentKind, AccountStatus),
        layouts={"state keys": ["one-byte prefix", "ASCII id(s), 0x00-separated"]},
    )
