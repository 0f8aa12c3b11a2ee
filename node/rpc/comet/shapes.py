"""Our types in CometBFT v0.38's JSON shapes, so CometBFT clients read them unchanged.

Conventions taken from what CometBFT really emits: 64-bit integers as decimal strings, hashes as
upper-case hex, tx bytes and signatures as base64, times as RFC 3339 with nanoseconds, addresses
as the first 20 bytes of sha256(public key).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
from typing import Any

from consensus.blocks import Block
from consensus.crypto import merkle_leaf_hash, sha256
from consensus.ledger import Receipt
from consensus.messages import CommitCertificate
from consensus.validators import ValidatorSet
from node.config import NodeConfig

COMET_VERSION = "0.38.17"
BLOCK_PROTOCOL = "11"
P2P_PROTOCOL = "8"
PROTOCOL_VERSION = {"p2p": P2P_PROTOCOL, "block": BLOCK_PROTOCOL, "app": "0"}
EMPTY_PARTS = {"total": 0, "hash": ""}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hex_upper(data: bytes | None) -> str:
    return "" if not data else data.hex().upper()


def address(public_key: bytes) -> bytes:
    return sha256(public_key)[:20]


def rfc3339(time_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ms // 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{time_ms % 1000:03d}000000Z"


def pub_key_json(public_key: bytes) -> dict[str, str]:
    return {"type": "tendermint/PubKeyEd25519", "value": b64(public_key)}


def block_id_json(block_hash: bytes | None) -> dict[str, Any]:
    if not block_hash:
        return {"hash": "", "parts": EMPTY_PARTS}
    # One part per block: we gossip whole blocks, so the part-set hash is the block hash.
    return {"hash": hex_upper(block_hash), "parts": {"total": 1, "hash": hex_upper(block_hash)}}


def header_json(block: Block, next_validators: ValidatorSet | None) -> dict[str, Any]:
    """``next_validators`` is the set of the next height, if still known (else this one's)."""
    header = block.header
    last_commit = header.last_commit
    return {
        "version": {"block": BLOCK_PROTOCOL, "app": "0"},
        "chain_id": header.chain_id,
        "height": str(header.height),
        "time": rfc3339(header.time_ms),
        "last_block_id": block_id_json(header.parent_hash if header.height > 1 else None),
        "last_commit_hash": hex_upper(
            sha256(last_commit.encode()) if last_commit is not None else sha256(b"")
        ),
        "data_hash": hex_upper(header.txs_root),
        "validators_hash": hex_upper(header.validators_hash),
        "next_validators_hash": hex_upper(
            next_validators.compute_hash() if next_validators else header.validators_hash
        ),
        "consensus_hash": hex_upper(sha256(b"")),
        "app_hash": hex_upper(header.app_hash),
        "last_results_hash": hex_upper(header.last_results_hash),
        "evidence_hash": hex_upper(header.evidence_hash),
        "proposer_address": hex_upper(address(header.proposer)),
    }


def commit_json(
    certificate: CommitCertificate | None, validators: ValidatorSet | None, time_ms: int
) -> dict[str, Any]:
    if certificate is None:
        return {"height": "0", "round": 0, "block_id": block_id_json(None), "signatures": []}
    by_index = {sig.validator_index: sig for sig in certificate.signatures}
    members = validators.validators if validators is not None else ()
    signatures = []
    for index, member in enumerate(members):
        sig = by_index.get(index)  # type: ignore[call-overload]
        signatures.append(
            {
                "block_id_flag": 2 if sig is not None else 1,
                "validator_address": hex_upper(address(member.public_key)) if sig else "",
                "timestamp": rfc3339(time_ms) if sig else "0001-01-01T00:00:00Z",
                "signature": b64(sig.signature) if sig is not None else None,
            }
        )
    return {
        "height": str(certificate.height),
        "round": certificate.round,
        "block_id": block_id_json(certificate.block_hash),
        "signatures": signatures,
    }


def block_json(
    block: Block, next_validators: ValidatorSet | None, last_validators: ValidatorSet | None
) -> dict[str, Any]:
    return {
        "header": header_json(block, next_validators),
        "data": {"txs": [b64(tx) for tx in block.txs]},
        "evidence": {"evidence": []},
        "last_commit": commit_json(block.header.last_commit, last_validators, block.header.time_ms),
    }


def event_json(event: Any) -> dict[str, Any]:
    name = type(event).__name__
    attributes = [
        {"key": field.name, "value": _attribute_value(getattr(event, field.name)), "index": True}
        for field in dataclasses.fields(event)
    ]
    return {"type": name, "attributes": attributes}


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def tx_result_json(receipt: Receipt) -> dict[str, Any]:
    return {
        "code": int(receipt.code),
        "data": None,
        "log": receipt.log,
        "info": receipt.code.name,
        "gas_wanted": "0",
        "gas_used": "0",
        "events": [event_json(event) for event in receipt.events],
        "codespace": "" if receipt.is_ok else "depochain",
    }


# ---------------------------------------------------------------------------------------------
# shapes added for the full route set (blockchain, commit, validators, events, proofs)


def block_meta_json(
    block: Block, encoded_size: int, next_validators: ValidatorSet | None
) -> dict[str, Any]:
    return {
        "block_id": block_id_json(block.hash),
        "block_size": str(encoded_size),
        "header": header_json(block, next_validators),
        "num_txs": str(len(block.txs)),
    }


def validator_json(public_key: bytes, power: int) -> dict[str, Any]:
    return {
        "address": hex_upper(address(public_key)),
        "pub_key": pub_key_json(public_key),
        "voting_power": str(power),
        # Our proposer rotation is a pure function of the set, not a priority queue.
        "proposer_priority": "0",
    }


def tx_result_event_json(height: int, index: int, raw: bytes, receipt: Receipt) -> dict[str, Any]:
    """The ``TxResult`` CometBFT puts in Tx events (``result``, not ``tx_result``)."""
    return {
        "height": str(height),
        "index": index,
        "tx": b64(raw),
        "result": tx_result_json(receipt),
    }


def tx_proof_json(
    root: bytes, raw: bytes, index: int, total: int, aunts: tuple[bytes, ...]
) -> dict[str, Any]:
    """A Merkle proof of ``raw`` in the block's ``data_hash`` (our RFC 6962 tree of raw txs)."""
    return {
        "root_hash": hex_upper(root),
        "data": b64(raw),
        "proof": {
            "total": str(total),
            "index": str(index),
            "leaf_hash": b64(merkle_leaf_hash(raw)),
            "aunts": [b64(aunt) for aunt in aunts],
        },
    }


def node_info_json(config: NodeConfig, chain_id: str, node_public_key: bytes) -> dict[str, Any]:
    """``status``'s ``node_info``: who this node is and where it listens."""
    return {
        "protocol_version": dict(PROTOCOL_VERSION),
        "id": node_public_key[:20].hex(),
        "listen_addr": f"tcp://{config.p2p.listen_host}:{config.p2p.listen_port}",
        "network": chain_id,
        "version": COMET_VERSION,
        "channels": "40202122233038606100",
        "moniker": config.node.moniker,
        "other": {
            "tx_index": "on",
            "rpc_address": f"tcp://{config.rpc.listen_host}:{config.rpc.listen_port}",
        },
    }
