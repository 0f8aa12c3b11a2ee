"""`depochain init`: keys, config and genesis for ONE node home (layout of node.home).

Without ``--genesis`` the home gets a single-validator chain of its own: one participant that is
bank and validator, whose operator key is written to ``<home>/participants/<ID>.json``. With
``--genesis FILE`` the node joins that chain; its validator key is generated anyway and printed,
so governance can add it with PARTICIPANT_UPSERT. An existing home is never overwritten without
``--force`` (which also deletes ``data/``: blocks of another genesis are useless).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey
from consensus.ledger import GenesisDoc, GenesisError, build_genesis_state
from node.config import (
    ConfigError,
    ConsensusSection,
    NodeConfig,
    NodeSection,
    P2PSection,
    RpcSection,
    check_chain_id,
    check_host,
    check_moniker,
    validate_config,
)
from node.home import (
    CONFIG_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    VALIDATOR_KEY_FILE,
    HomeError,
    genesis_to_json,
    load_genesis,
    new_key,
    write_key,
)
from node.localnet.generate import write_node_home
from node.localnet.plan import (
    CONFIG_HOME,
    DATA_DIR,
    PARTICIPANTS_DIR,
    VALIDATOR_POWER,
    KeySource,
    LocalnetError,
)

HOME_ENTRIES = (CONFIG_FILE, GENESIS_FILE, NODE_KEY_FILE, VALIDATOR_KEY_FILE, DATA_DIR)
"""Any of these in a folder makes it an existing home."""


@dataclass(frozen=True, slots=True)
class InitResult:
    home: Path
    chain_id: str
    node_id: str
    """Public key of node_key.json: what peers put in persistent_peers."""
    validator_public_key: str
    participant_id: str | None
    """The single validator's participant (None when joining a given genesis)."""


def compute_participant_id(moniker: str) -> str:
    """``bank-a`` -> ``BANK_A``: an upper-case participant id derived from the moniker."""
    text = re.sub(r"[^A-Z0-9_]", "_", moniker.upper())[:32]
    return text if re.fullmatch(r"[A-Z][A-Z0-9_]*", text) else "NODE"


def init_home(
    home: Path,
    *,
    chain_id: str | None,
    moniker: str | None = None,
    genesis_file: Path | None = None,
    force: bool = False,
    p2p_port: int = 26656,
    rpc_port: int = 26657,
    rpc_host: str = "127.0.0.1",
    keys: KeySource | None = None,
    genesis_time_ms: int | None = None,
) -> InitResult:
    """Write a node home; raise LocalnetError (nothing written) on bad arguments."""
    home = home.absolute()
    moniker = moniker or home.name or "node"
    key_for = keys or (lambda _label: new_key())
    validate_init_target(home, force)
    given = load_given_genesis(genesis_file) if genesis_file is not None else None
    chain_id = validate_chain_id(chain_id, given)
    config = compute_init_config(chain_id, moniker, p2p_port, rpc_port, rpc_host)
    node_key, validator_key = key_for("node key"), key_for("validator key")
    participant_id = None
    if given is None:
        participant_id = compute_participant_id(moniker)
        operator_key = key_for("participant key")
        time_ms = int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms
        doc = compute_single_genesis(chain_id, time_ms, participant_id, operator_key, validator_key)
        genesis_json = genesis_to_json(doc, config.consensus.to_params())
    else:
        genesis_json = given
    if force:
        shutil.rmtree(home / DATA_DIR, ignore_errors=True)
    header = f"DepoChain node {moniker}, written by `depochain init`."
    write_node_home(home, config, genesis_json, node_key, validator_key, header)
    if participant_id is not None:
        write_key(home / PARTICIPANTS_DIR / f"{participant_id}.json", operator_key)
    return InitResult(
        home, chain_id, node_key.public_key.hex(), validator_key.public_key.hex(), participant_id
    )


def validate_init_target(home: Path, force: bool) -> None:
    if home.exists() and not home.is_dir():
        raise LocalnetError(f"{home} exists and is not a folder")
    existing = [name for name in HOME_ENTRIES if (home / name).exists()]
    if existing and not force:
        raise LocalnetError(
            f"{home} already holds a node home ({', '.join(existing)}); "
            "pass --force to overwrite it (this deletes its data/)"
        )


def load_given_genesis(path: Path) -> bytes:
    try:
        genesis = load_genesis(path)
        build_genesis_state(genesis.ledger)
    except (HomeError, GenesisError) as exc:
        raise LocalnetError(str(exc)) from exc
    return genesis.raw


def validate_chain_id(chain_id: str | None, given: bytes | None) -> str:
    if given is not None:
        genesis_chain: str = json.loads(given)["chain_id"]
        if chain_id is not None and chain_id != genesis_chain:
            raise LocalnetError(
                f"--chain-id {chain_id!r} differs from the genesis {genesis_chain!r}"
            )
        chain_id = genesis_chain
    if chain_id is None:
        raise LocalnetError("--chain-id is required (unless --genesis names a genesis file)")
    complaint = check_chain_id(chain_id)
    if complaint is not None:
        raise LocalnetError(f"--chain-id {complaint}")
    return chain_id


def compute_init_config(
    chain_id: str, moniker: str, p2p_port: int, rpc_port: int, rpc_host: str = "127.0.0.1"
) -> NodeConfig:
    complaint = check_moniker(moniker)
    if complaint is not None:
        raise LocalnetError(f"--moniker {complaint}")
    # Secure defaults come from node.config: RPC on 127.0.0.1, admin routes off.
    config = NodeConfig(
        node=NodeSection(chain_id=chain_id, moniker=moniker, home=CONFIG_HOME),
        p2p=P2PSection(listen_port=p2p_port),
        rpc=RpcSection(listen_host=rpc_host, listen_port=rpc_port),
        consensus=ConsensusSection(),
    )
    for port, name in ((p2p_port, "--p2p-port"), (rpc_port, "--rpc-port")):
        if not 1 <= port <= 65535:
            raise LocalnetError(f"{name} must be in 1..65535, got {port}")
    if p2p_port == rpc_port:  # P2P binds 0.0.0.0, which includes the RPC's 127.0.0.1
        raise LocalnetError("--p2p-port and --rpc-port must differ")
    complaint = check_host(rpc_host)
    if complaint is not None:
        raise LocalnetError(f"--rpc-host {complaint}")
    try:
        validate_config(config)
    except ConfigError as exc:
        raise LocalnetError(str(exc)) from exc
    return config


def compute_single_genesis(
    chain_id: str,
    time_ms: int,
    participant_id: str,
    operator_key: PrivateKey,
    validator_key: PrivateKey,
) -> GenesisDoc:
    participant: dict[str, Any] = {
        "id": participant_id,
        "name": participant_id,
        "roles": ["bank", "validator"],
        "status": "active",
        "keys": [operator_key.public_key.hex()],
        "threshold": 1,
        "validator_key": validator_key.public_key.hex(),
        "validator_power": VALIDATOR_POWER,
        "lei": "",
        "bic": "",
    }
    document = {
        "chain_id": chain_id,
        "genesis_time_ms": time_ms,
        "participants": [participant],
        "instruments": [],
        "accounts": [],
        "balances": [],
    }
    doc = GenesisDoc.from_json_dict(document)
    build_genesis_state(doc)  # our own output: a failure here is a bug, let it raise
    return doc
