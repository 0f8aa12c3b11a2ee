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

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey, sha256
from consensus.ledger import GenesisDoc, GenesisError
from consensus.params import ConsensusParams
from node import durable
from node.errors import NodeError

CONFIG_FILE = "config.toml"
GENESIS_FILE = "genesis.json"
NODE_KEY_FILE = "node_key.json"
VALIDATOR_KEY_FILE = "validator_key.json"
STORE_DIR = "chain.db"
GENESIS_BYTES_MAX = 16 * 1024 * 1024


class HomeError(NodeError):
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


KEY_TEMP_SUFFIX = ".tmp"


def write_key(path: Path, key: PrivateKey) -> None:
    """Write a key file readable by the owner only, safely on a hostile disk.

    The seed goes into a file this call creates itself (``O_EXCL | O_NOFOLLOW``, mode 0600,
    fsynced), renamed over ``path``: a symlink planted at ``path`` or at the temp name is
    replaced or removed, never followed, and an old world-readable file is replaced, not
    rewritten in place with its mode."""
    document = {"public_key": key.public_key.hex(), "seed": key.seed.hex()}
    data = (json.dumps(document, indent=2) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + KEY_TEMP_SUFFIX)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)  # a leftover, or a planted link: unlink removes the link, not its target
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        durable.write_all(fd, data)
        durable.sync_file(fd)
    finally:
        os.close(fd)
    durable.replace_durably(temp, path)


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
