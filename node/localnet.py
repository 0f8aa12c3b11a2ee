"""Generate node home folders: one node (`depochain init`) or a whole local network (`localnet`).

A localnet folder looks like this (node i of N listens on P2P ``base + 10*i`` and RPC
``base + 10*i + 1``, all on 127.0.0.1)::

    <home>/endpoints.json                 what runs where (written last: marks a finished folder)
    <home>/genesis.json                   the same genesis every node holds
    <home>/bank-a … bank-d/               node homes in the layout of node.home, one per bank
    <home>/participants/<ID>.json         operator keys of BANKA…, CB (sign MINT, ACCOUNT_OPEN…)
    <home>/accounts/<BANK>/<name>.json    owner keys of the demo customer accounts

Everything is generated in a temporary sibling folder and renamed into place, so a crash never
leaves a half-written localnet behind. This module never starts processes (node.localnet_run
does) and never deletes a folder that does not look like one it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey, sha256
from consensus.ledger import GenesisDoc, GenesisError, build_genesis_state
from consensus.params import ConsensusParams
from node.config import (
    ConsensusSection,
    NodeConfig,
    NodeSection,
    P2PSection,
    RpcSection,
    load_config,
    write_config,
)
from node.home import (
    CONFIG_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    VALIDATOR_KEY_FILE,
    HomeError,
    genesis_to_json,
    load_genesis,
    load_key,
    new_key,
    write_key,
)

LOCALNET_CHAIN_ID = "depochain-localnet"
DEFAULT_BASE_PORT = 26656
PORT_STRIDE = 10
"""Node i uses P2P port ``base + PORT_STRIDE * i`` and RPC port one above it."""
LOCALNET_VALIDATORS_MAX = 16
VALIDATOR_POWER = 10
SETTLEMENT_AGENT = "CB"
CURRENCIES = ("USD", "USD", "HKD", "CNH")
"""Currency of bank i's deposit token (cycled beyond four banks)."""
DECIMALS = 2
RESERVE_MINOR = 1_000_000_000 * 100
"""Each bank's settlement-asset balance at CB: 1 billion in minor units."""
CUSTOMER_MINOR = 1_000_000 * 100
CUSTOMER_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
"""Two demo customers per bank: bank i gets names i and i+1 (cycled)."""
KYC_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000

ENDPOINTS_FILE = "endpoints.json"
PARTICIPANTS_DIR = "participants"
ACCOUNTS_DIR = "accounts"
LOG_FILE = "node.log"
DATA_DIR = "data"

LOCALNET_CONSENSUS = ConsensusSection(
    timeout_propose_ms=1000,
    timeout_prevote_ms=500,
    timeout_precommit_ms=500,
    timeout_delta_ms=250,
    timeout_max_ms=10_000,
    timeout_commit_ms=200,
    create_empty_blocks=True,
    empty_block_interval_ms=1000,
)
"""Shorter timeouts than the defaults: every node shares one machine, round trips are tiny."""

KeySource = Callable[[str], PrivateKey]
"""Returns the key for a label such as ``node key bank-a``; fresh random keys unless seeded."""


class LocalnetError(Exception):
    """The localnet or home folder cannot be generated or reused; the message says why."""


def make_key_source(seed: str | None) -> KeySource:
    """Fresh random keys, or keys derived from a PUBLIC ``seed`` (examples and tests only)."""
    if seed is None:
        return lambda _label: new_key()
    return lambda label: PrivateKey(sha256(f"depochain localnet {seed} {label}".encode()))


# ---------------------------------------------------------------------------------------------
# the plan: every key, port and record, computed before anything touches the disk


@dataclass(frozen=True, slots=True)
class NodePlan:
    index: int
    moniker: str
    """Folder name and moniker: ``bank-a``…"""
    bank_id: str
    """The participant this node validates for: ``BANKA``…"""
    p2p_port: int
    rpc_port: int
    node_key: PrivateKey
    validator_key: PrivateKey

    @property
    def peer_address(self) -> str:
        return f"{self.node_key.public_key.hex()}@127.0.0.1:{self.p2p_port}"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    account_id: str
    instrument_id: str
    amount: int
    key_file: str
    """Relative to the localnet folder."""


@dataclass(frozen=True, slots=True)
class LocalnetPlan:
    chain_id: str
    base_port: int
    nodes: tuple[NodePlan, ...]
    participant_keys: dict[str, PrivateKey]
    account_keys: dict[str, PrivateKey]
    accounts: tuple[DemoAccount, ...]
    genesis: GenesisDoc
    params: ConsensusParams


def compute_node_ports(base_port: int, index: int) -> tuple[int, int]:
    """(P2P port, RPC port) of node ``index``."""
    p2p = base_port + PORT_STRIDE * index
    return p2p, p2p + 1


def validate_localnet_args(validators: int, base_port: int) -> None:
    if not 1 <= validators <= LOCALNET_VALIDATORS_MAX:
        raise LocalnetError(f"--validators must be in 1..{LOCALNET_VALIDATORS_MAX}")
    last = compute_node_ports(base_port, validators - 1)[1]
    if base_port < 1024 or last > 65535:
        raise LocalnetError(f"--base-port {base_port}: ports must stay in 1024..65535")


def compute_plan(
    *,
    validators: int = 4,
    base_port: int = DEFAULT_BASE_PORT,
    chain_id: str = LOCALNET_CHAIN_ID,
    genesis_time_ms: int | None = None,
    keys: KeySource | None = None,
) -> LocalnetPlan:
    validate_localnet_args(validators, base_port)
    key_for = keys or make_key_source(None)
    nodes = tuple(_plan_node(i, base_port, key_for) for i in range(validators))
    bank_ids = [node.bank_id for node in nodes]
    participant_keys = {pid: key_for(f"participant key {pid}") for pid in [*bank_ids, "CB"]}
    accounts = _plan_accounts(bank_ids)
    account_keys = {a.account_id: key_for(f"account key {a.account_id}") for a in accounts}
    time_ms = int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms
    document = _genesis_json(chain_id, time_ms, nodes, participant_keys, accounts, account_keys)
    try:
        genesis = GenesisDoc.from_json_dict(document)
        build_genesis_state(genesis)
    except GenesisError as exc:  # our own generator produced a bad genesis
        raise AssertionError(f"localnet genesis is invalid: {exc}") from exc
    return LocalnetPlan(
        chain_id=chain_id,
        base_port=base_port,
        nodes=nodes,
        participant_keys=participant_keys,
        account_keys=account_keys,
        accounts=accounts,
        genesis=genesis,
        params=LOCALNET_CONSENSUS.to_params(),
    )


def _plan_node(index: int, base_port: int, key_for: KeySource) -> NodePlan:
    letter = chr(ord("a") + index)
    moniker = f"bank-{letter}"
    p2p, rpc = compute_node_ports(base_port, index)
    return NodePlan(
        index=index,
        moniker=moniker,
        bank_id=f"BANK{letter.upper()}",
        p2p_port=p2p,
        rpc_port=rpc,
        node_key=key_for(f"node key {moniker}"),
        validator_key=key_for(f"validator key {moniker}"),
    )


def get_token_currency(index: int) -> str:
    return CURRENCIES[index % len(CURRENCIES)]


def _plan_accounts(bank_ids: Sequence[str]) -> tuple[DemoAccount, ...]:
    accounts = []
    for index, bank in enumerate(bank_ids):
        instrument = f"{bank}:{get_token_currency(index)}"
        for offset in (0, 1):
            name = CUSTOMER_NAMES[(index + offset) % len(CUSTOMER_NAMES)]
            account_id = f"{bank}/{name}"
            key_file = f"{ACCOUNTS_DIR}/{account_id}.json"
            accounts.append(DemoAccount(account_id, instrument, CUSTOMER_MINOR, key_file))
    return tuple(accounts)


def _participant_json(
    pid: str, roles: list[str], key: PrivateKey, validator: PrivateKey | None = None
) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"{pid} (localnet)",
        "roles": roles,
        "status": "active",
        "keys": [key.public_key.hex()],
        "threshold": 1,
        "validator_key": None if validator is None else validator.public_key.hex(),
        "validator_power": 0 if validator is None else VALIDATOR_POWER,
        "lei": "",
        "bic": "",
    }


def _account_json(account_id: str, key: PrivateKey, expiry_ms: int) -> dict[str, Any]:
    return {
        "id": account_id,
        "keys": [key.public_key.hex()],
        "threshold": 1,
        "kyc_ref_hash": sha256(f"localnet kyc {account_id}".encode()).hex(),
        "kyc_expiry_ms": expiry_ms,
    }


def _instrument_json(issuer: str, currency: str, settlement: str | None) -> dict[str, Any]:
    return {
        "id": f"{issuer}:{currency}",
        "kind": "settlement_asset" if settlement is None else "deposit_token",
        "issuer": issuer,
        "currency": currency,
        "decimals": DECIMALS,
        "settlement_asset": settlement,
    }


def _genesis_json(
    chain_id: str,
    time_ms: int,
    nodes: Sequence[NodePlan],
    participant_keys: dict[str, PrivateKey],
    accounts: Sequence[DemoAccount],
    account_keys: dict[str, PrivateKey],
) -> dict[str, Any]:
    agent, expiry_ms = SETTLEMENT_AGENT, time_ms + KYC_VALIDITY_MS
    participants = [_participant_json(agent, ["settlement_agent"], participant_keys[agent])]
    currencies = sorted({get_token_currency(node.index) for node in nodes})
    instruments = [_instrument_json(agent, ccy, None) for ccy in currencies]
    ledger_accounts, balances = [], []
    for node in nodes:
        bank, ccy = node.bank_id, get_token_currency(node.index)
        roles = ["bank", "validator"]
        participants.append(
            _participant_json(bank, roles, participant_keys[bank], node.validator_key)
        )
        instruments.append(_instrument_json(bank, ccy, f"{agent}:{ccy}"))
        # The bank's reserve account at the settlement agent, controlled by the bank's key.
        reserve = f"{agent}/{bank}"
        ledger_accounts.append(_account_json(reserve, participant_keys[bank], expiry_ms))
        balances.append(_balance_json(reserve, f"{agent}:{ccy}", RESERVE_MINOR))
    for account in accounts:
        key = account_keys[account.account_id]
        ledger_accounts.append(_account_json(account.account_id, key, expiry_ms))
        balances.append(_balance_json(account.account_id, account.instrument_id, account.amount))
    return {
        "chain_id": chain_id,
        "genesis_time_ms": time_ms,
        # More than two thirds of the banks, as for consensus itself.
        "governance_threshold": len(nodes) * 2 // 3 + 1,
        "participants": participants,
        "instruments": instruments,
        "accounts": ledger_accounts,
        "balances": balances,
    }


def _balance_json(account_id: str, instrument_id: str, amount: int) -> dict[str, Any]:
    return {"account": account_id, "instrument": instrument_id, "amount": amount}


# ---------------------------------------------------------------------------------------------
# node homes and configs


def compute_node_config(plan: LocalnetPlan, node: NodePlan, config_home: str) -> NodeConfig:
    peers = tuple(other.peer_address for other in plan.nodes if other.index != node.index)
    return NodeConfig(
        node=NodeSection(chain_id=plan.chain_id, moniker=node.moniker, home=config_home),
        p2p=P2PSection(listen_host="127.0.0.1", listen_port=node.p2p_port, persistent_peers=peers),
        rpc=RpcSection(listen_host="127.0.0.1", listen_port=node.rpc_port),
        consensus=LOCALNET_CONSENSUS,
    )


def compute_config_header(node: NodePlan, count: int, seeded: bool) -> str:
    lines = [
        f"DepoChain localnet: the node of {node.moniker} (one of {count} banks), "
        "written by node.config.dump_config.",
        "configs/node.example.toml explains every key.",
    ]
    if seeded:
        lines[1] += " The node keys named in persistent_peers are"
        lines.append(
            "EXAMPLE keys derived from public seeds: never use them outside a local test network."
        )
    return "\n".join(lines)


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


def write_localnet(
    home: Path, plan: LocalnetPlan, *, config_home_root: str | None = None, seeded: bool = False
) -> None:
    """Write the whole localnet into ``home`` (absent or empty), all or nothing.

    ``config_home_root`` replaces the absolute folder in each config's ``[node].home`` (the
    examples in configs/ use ``./localnet``)."""
    home = home.absolute()
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}.", dir=home.parent))
    try:
        _write_localnet_files(staging, home, plan, config_home_root, seeded)
        if home.exists():
            home.rmdir()  # only an empty folder gets here
        os.rename(staging, home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_localnet_files(
    staging: Path, home: Path, plan: LocalnetPlan, config_home_root: str | None, seeded: bool
) -> None:
    genesis_json = genesis_to_json(plan.genesis, plan.params)
    (staging / GENESIS_FILE).write_bytes(genesis_json)
    for node in plan.nodes:
        root = str(home) if config_home_root is None else config_home_root
        config = compute_node_config(plan, node, f"{root}/{node.moniker}")
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
