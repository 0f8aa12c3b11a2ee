"""Generate node home folders: one node (`depochain init`) or a whole local network (`localnet`).

A localnet folder looks like this (node i of N listens on P2P ``base + 10*i`` and RPC
``base + 10*i + 1``, all on 127.0.0.1)::

    <home>/endpoints.json                 what runs where (written last: marks a finished folder)
    <home>/genesis.json                   the same genesis every node holds
    <home>/bank-a … bank-d/               node homes in the layout of node.home, one per bank
    <home>/participants/<ID>.json         operator keys of BANKA…, CB, REG (sign MINT, FREEZE…)
    <home>/accounts/<BANK>/<name>.json    owner keys of the demo customer accounts

``endpoints.json`` holds ``chain_id``, ``base_port``, ``genesis_sha256``; ``nodes`` (moniker, bank,
home, rpc, rpc_port, p2p, p2p_port, node_id, peer_address, validator_public_key, log, and pid while
`localnet` runs them, else null); ``participants`` and ``accounts`` (id, instrument, balance,
key_file relative to <home>). The plan itself (keys, genesis records) is node.localnet.plan.

Everything is generated in a temporary sibling folder and renamed into place, so a crash never
leaves a half-written localnet behind. This module never starts processes (node.localnet.run
does) and never deletes a folder that does not look like one it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey, sha256
from node.config import NodeConfig, load_config, write_config
from node.home import (
    CONFIG_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    VALIDATOR_KEY_FILE,
    HomeError,
    genesis_to_json,
    load_genesis,
    load_key,
    write_key,
)
from node.localnet.plan import (
    ACCOUNTS_DIR,
    DATA_DIR,
    DEFAULT_BASE_PORT,
    ENDPOINTS_FILE,
    LOG_FILE,
    PARTICIPANTS_DIR,
    RESERVE_MINOR,
    SETTLEMENT_AGENT,
    KeySource,
    LocalnetError,
    LocalnetPlan,
    compute_config_header,
    compute_node_config,
    compute_plan,
    get_token_currency,
)


def write_node_home(
    path: Path,
    config: NodeConfig,
    genesis_json: bytes,
    node_key: PrivateKey,
    validator_key: PrivateKey | None,
    header: str = "",
) -> None:
    """Write one node home in the layout of node.home (config, genesis, keys, empty data/)."""
    path.mkdir(parents=True, exist_ok=True)
    write_config(config, path / CONFIG_FILE, header=header)
    (path / GENESIS_FILE).write_bytes(genesis_json)
    write_key(path / NODE_KEY_FILE, node_key)
    if validator_key is not None:
        write_key(path / VALIDATOR_KEY_FILE, validator_key)
    (path / DATA_DIR).mkdir(exist_ok=True)


# ---------------------------------------------------------------------------------------------
# writing a localnet folder


def write_localnet(home: Path, plan: LocalnetPlan, *, seeded: bool = False) -> None:
    """Write the whole localnet into ``home`` (absent or empty), all or nothing."""
    home = home.absolute()
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}.", dir=home.parent))
    try:
        _write_localnet_files(staging, home, plan, seeded)
        if home.exists():
            home.rmdir()  # only an empty folder gets here
        os.rename(staging, home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_localnet_files(staging: Path, home: Path, plan: LocalnetPlan, seeded: bool) -> None:
    genesis_json = genesis_to_json(plan.genesis, plan.params)
    (staging / GENESIS_FILE).write_bytes(genesis_json)
    for node in plan.nodes:
        config = compute_node_config(plan, node)
        header = compute_config_header(node, len(plan.nodes), seeded)
        write_node_home(
            staging / node.moniker, config, genesis_json, node.node_key, node.validator_key, header
        )
    for pid, key in plan.participant_keys.items():
        write_key(staging / PARTICIPANTS_DIR / f"{pid}.json", key)
    for account_id, key in plan.account_keys.items():
        write_key(staging / ACCOUNTS_DIR / f"{account_id}.json", key)
    write_endpoints(staging, compute_endpoints(home, plan, genesis_json))


def compute_endpoints(home: Path, plan: LocalnetPlan, genesis_json: bytes) -> dict[str, Any]:
    nodes = [
        {
            "moniker": node.moniker,
            "bank": node.bank_id,
            "home": str(home / node.moniker),
            "rpc": f"http://127.0.0.1:{node.rpc_port}",
            "rpc_port": node.rpc_port,
            "p2p": f"127.0.0.1:{node.p2p_port}",
            "p2p_port": node.p2p_port,
            "node_id": node.node_key.public_key.hex(),
            "peer_address": node.peer_address,
            "validator_public_key": node.validator_key.public_key.hex(),
            "log": str(home / node.moniker / LOG_FILE),
            "pid": None,
        }
        for node in plan.nodes
    ]
    participants = [
        {
            "id": pid,
            "key_file": f"{PARTICIPANTS_DIR}/{pid}.json",
            "public_key": key.public_key.hex(),
        }
        for pid, key in plan.participant_keys.items()
    ]
    reserves = [
        {
            "id": f"{SETTLEMENT_AGENT}/{node.bank_id}",
            "instrument": f"{SETTLEMENT_AGENT}:{get_token_currency(node.index)}",
            "balance": RESERVE_MINOR,
            "key_file": f"{PARTICIPANTS_DIR}/{node.bank_id}.json",
        }
        for node in plan.nodes
    ]
    customers = [
        {
            "id": a.account_id,
            "instrument": a.instrument_id,
            "balance": a.amount,
            "key_file": a.key_file,
        }
        for a in plan.accounts
    ]
    return {
        "chain_id": plan.chain_id,
        "base_port": plan.base_port,
        "genesis_sha256": sha256(genesis_json).hex(),
        "nodes": nodes,
        "participants": participants,
        "accounts": customers + reserves,
    }


def write_endpoints(home: Path, document: dict[str, Any]) -> None:
    """Write endpoints.json atomically (it is rewritten with pids while nodes run)."""
    target = home / ENDPOINTS_FILE
    temp = target.with_name(target.name + ".tmp")
    temp.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(temp, target)


# ---------------------------------------------------------------------------------------------
# reading a localnet folder back


@dataclass(frozen=True, slots=True)
class NodeEndpoint:
    moniker: str
    home: Path
    rpc_port: int
    p2p_port: int
    node_id: str

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def log_path(self) -> Path:
        return self.home / LOG_FILE


@dataclass(frozen=True, slots=True)
class LocalnetInfo:
    home: Path
    chain_id: str
    base_port: int
    nodes: tuple[NodeEndpoint, ...]
    document: dict[str, Any]
    """endpoints.json as read."""


def is_localnet_folder(home: Path) -> bool:
    return (home / ENDPOINTS_FILE).is_file()


def load_localnet(home: Path) -> LocalnetInfo:
    """Read endpoints.json and check every node home (config, genesis, node key) against it."""
    home = home.absolute()
    try:
        document = json.loads((home / ENDPOINTS_FILE).read_text())
        nodes = tuple(
            NodeEndpoint(
                moniker=str(entry["moniker"]),
                home=home / str(entry["moniker"]),
                rpc_port=int(entry["rpc_port"]),
                p2p_port=int(entry["p2p_port"]),
                node_id=str(entry["node_id"]),
            )
            for entry in document["nodes"]
        )
        info = LocalnetInfo(
            home, str(document["chain_id"]), int(document["base_port"]), nodes, document
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LocalnetError(f"{home / ENDPOINTS_FILE} is unreadable ({exc}); use --fresh") from exc
    for node in nodes:
        validate_node_home(info, node)
    return info


def validate_node_home(info: LocalnetInfo, node: NodeEndpoint) -> None:
    try:
        config = load_config(node.home / CONFIG_FILE)
        genesis = load_genesis(node.home / GENESIS_FILE)
        node_key = load_key(node.home / NODE_KEY_FILE)
        load_key(node.home / VALIDATOR_KEY_FILE)
    except (HomeError, ValueError) as exc:  # ConfigError is a ValueError
        raise LocalnetError(f"{node.moniker}: {exc}; use --fresh to regenerate") from exc
    problems = [
        (config.node.chain_id != info.chain_id, "config chain_id differs from endpoints.json"),
        (genesis.chain_id != info.chain_id, "genesis chain_id differs from endpoints.json"),
        (config.rpc.listen_port != node.rpc_port, "config RPC port differs from endpoints.json"),
        (config.p2p.listen_port != node.p2p_port, "config P2P port differs from endpoints.json"),
        (node_key.public_key.hex() != node.node_id, "node_key.json differs from endpoints.json"),
    ]
    for bad, message in problems:
        if bad:
            raise LocalnetError(f"{node.moniker}: {message}; use --fresh to regenerate")


def prepare_localnet(
    home: Path,
    *,
    fresh: bool = False,
    validators: int | None = None,
    base_port: int | None = None,
    keys: KeySource | None = None,
) -> tuple[LocalnetInfo, bool]:
    """Reuse the localnet in ``home`` or generate one; returns (info, was_generated).

    ``validators`` / ``base_port`` of None mean "as generated before" (or the defaults)."""
    home = home.absolute()
    if fresh:
        wipe_localnet(home)
    if is_localnet_folder(home):
        info = load_localnet(home)
        validate_reuse(info, validators, base_port)
        return info, False
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise LocalnetError(
            f"{home} exists but is not a localnet folder (no {ENDPOINTS_FILE}): "
            "choose another --home or remove it yourself"
        )
    plan = compute_plan(
        validators=4 if validators is None else validators,
        base_port=DEFAULT_BASE_PORT if base_port is None else base_port,
        keys=keys,
    )
    write_localnet(home, plan)
    return load_localnet(home), True


def validate_reuse(info: LocalnetInfo, validators: int | None, base_port: int | None) -> None:
    if validators is not None and validators != len(info.nodes):
        raise LocalnetError(
            f"{info.home} holds {len(info.nodes)} nodes, not {validators}: "
            "run with --fresh to regenerate"
        )
    if base_port is not None and base_port != info.base_port:
        raise LocalnetError(
            f"{info.home} uses base port {info.base_port}, not {base_port}: "
            "run with --fresh to regenerate"
        )


def get_running_pids(home: Path) -> list[int]:
    """Node pids recorded in endpoints.json that still run (from this folder, where /proc
    can tell: a recycled pid must not block a wipe forever)."""
    try:
        nodes = json.loads((home / ENDPOINTS_FILE).read_text())["nodes"]
        pids = [entry["pid"] for entry in nodes]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [pid for pid in pids if type(pid) is int and pid > 0 and _is_node_of(pid, home)]


def _is_node_of(pid: int, home: Path) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but another user's
    try:
        return str(home).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: assume the worst


def wipe_localnet(home: Path) -> None:
    """Delete a localnet folder; refuse anything that is not one (or empty), or one in use."""
    if not home.exists():
        return
    running = get_running_pids(home)
    if running:
        raise LocalnetError(
            f"refusing to wipe {home}: its nodes are running (pids "
            f"{', '.join(map(str, running))}); stop that localnet first"
        )
    if home.is_dir() and (is_localnet_folder(home) or not any(home.iterdir())):
        shutil.rmtree(home)
        return
    raise LocalnetError(
        f"refusing to wipe {home}: it is not a localnet folder (no {ENDPOINTS_FILE})"
    )
