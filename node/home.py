"""A node's home folder: where its config, genesis, keys and data live.

```
<home>/config.toml          node configuration (node.config)
<home>/genesis.json         the chain's genesis: ledger genesis + consensus params
<home>/node_key.json        P2P identity (Ed25519 seed), mode 0600
<home>/validator_key.json   consensus signing key (Ed25519 seed), mode 0600; absent on observers
<home>/data/                LevelDB (chain.db), WAL (wal/), last-signed state (sign_state.json)
```

The P2P key and the validator key are separate, as in CometBFT: a bank can rotate or move its
network identity without touching the key whose double use would be equivocation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey, sha256
from consensus.ledger import GenesisDoc, GenesisError
from consensus.params import ConsensusParams

CONFIG_FILE = "config.toml"
GENESIS_FILE = "genesis.json"
NODE_KEY_FILE = "node_key.json"
VALIDATOR_KEY_FILE = "validator_key.json"
STORE_DIR = "chain.db"
GENESIS_BYTES_MAX = 16 * 1024 * 1024


class HomeError(Exception):
    """A file in the home folder is missing or invalid; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ChainGenesis:
    """Everything every node must agree on before block 1."""

    ledger: GenesisDoc
    params: ConsensusParams
    raw: bytes
    """The genesis file's bytes (served by the RPC `genesis` route and hashed)."""

    @property
    def chain_id(self) -> str:
        return self.ledger.chain_id

    def compute_hash(self) -> bytes:
        return sha256(self.raw)


def genesis_to_json(ledger: GenesisDoc, params: ConsensusParams) -> bytes:
    document = {
        "chain_id": ledger.chain_id,
        "genesis_time_ms": ledger.genesis_time_ms,
        "consensus_params": params_to_json(params),
        "ledger": ledger.to_json_dict(),
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def params_to_json(params: ConsensusParams) -> dict[str, Any]:
    return {name: getattr(params, name) for name in params.__dataclass_fields__}


def load_genesis(path: Path) -> ChainGenesis:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise HomeError(f"cannot read genesis file {path}: {exc.strerror}") from exc
    if len(raw) > GENESIS_BYTES_MAX:
        raise HomeError(f"genesis file {path} is larger than {GENESIS_BYTES_MAX} bytes")
    try:
        document = json.loads(raw)
        ledger = GenesisDoc.from_json_dict(document["ledger"])
        params = ConsensusParams(**document.get("consensus_params", {}))
    except (ValueError, KeyError, TypeError, GenesisError) as exc:
        raise HomeError(f"invalid genesis file {path}: {exc}") from exc
    if document.get("chain_id") != ledger.chain_id:
        raise HomeError(f"genesis file {path}: chain_id differs from ledger.chain_id")
    return ChainGenesis(ledger, params, raw)


def write_key(path: Path, key: PrivateKey) -> None:
    """Write a key file readable by the owner only (created 0600, never world-readable)."""
    document = {"public_key": key.public_key.hex(), "seed": key.seed.hex()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")


def load_key(path: Path) -> PrivateKey:
    try:
        document = json.loads(path.read_text())
        key = PrivateKey(bytes.fromhex(document["seed"]))
    except OSError as exc:
        raise HomeError(f"cannot read key file {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise HomeError(f"invalid key file {path}: {exc}") from exc
    if document.get("public_key") not in (None, key.public_key.hex()):
        raise HomeError(f"key file {path}: public_key does not match the seed")
    return key


def new_key() -> PrivateKey:
    return PrivateKey(os.urandom(32))
