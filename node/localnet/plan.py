"""The localnet plan: every key, port, account and genesis record, computed in memory.

Nothing here touches the disk (node.localnet writes a plan out). With the same key source and
genesis time the plan is the same, which is how configs/localnet/*.toml are reproduced from the
public seed "example". Bank i (0-based) is ``BANK<letter>``; its node is ``bank-<letter>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consensus.crypto import PrivateKey, sha256
from consensus.ledger import GenesisDoc, GenesisError, build_genesis_state
from consensus.params import ConsensusParams
from node.config import ConsensusSection, NodeConfig, NodeSection, P2PSection, RpcSection
from node.home import new_key

LOCALNET_CHAIN_ID = "depochain-localnet"
DEFAULT_BASE_PORT = 26656
PORT_STRIDE = 10
"""Node i uses P2P port ``base + PORT_STRIDE * i`` and RPC port one above it."""
LOCALNET_VALIDATORS_MAX = 16
VALIDATOR_POWER = 10
SETTLEMENT_AGENT = "CB"
REGULATOR = "REG"
"""A regulator (freezes, pauses, forced transfers: see examples/)."""
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

LOCALNET_READS_CPU_PERCENT = 20
"""Every node of a localnet shares one machine, so a node's heavy-read thread gets a fifth of a
core, not the half of one a validator on its own host may spend (``[rpc].reads_cpu_percent``):
at 50 % a client hammering one node's reads took a quarter of a 2-core machine from the four
validators' consensus (``depochain bench --attack``: 74 % of the unattacked throughput)."""

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
    participant_ids = [*bank_ids, SETTLEMENT_AGENT, REGULATOR]
    participant_keys = {pid: key_for(f"participant key {pid}") for pid in participant_ids}
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
    participants = [
        _participant_json(agent, ["settlement_agent"], participant_keys[agent]),
        _participant_json(REGULATOR, ["regulator"], participant_keys[REGULATOR]),
    ]
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
        # More than two thirds of the banks, as for consensus itself; a short delay and trust
        # window so that a demo sees governance changes apply within minutes.
        "governance": {
            "threshold_numerator": 2,
            "threshold_denominator": 3,
            "change_delay_heights": 100,
            "trust_window_heights": 100,
            "validators_min": 1,
        },
        "participants": participants,
        "instruments": instruments,
        "accounts": ledger_accounts,
        "balances": balances,
    }


def _balance_json(account_id: str, instrument_id: str, amount: int) -> dict[str, Any]:
    return {"account": account_id, "instrument": instrument_id, "amount": amount}


# ---------------------------------------------------------------------------------------------
# node homes and configs


CONFIG_HOME = "."
"""``[node].home`` of generated configs: `depochain start --home DIR` resolves it against DIR,
so a node home (or a whole localnet folder) keeps working when moved."""


def compute_node_config(plan: LocalnetPlan, node: NodePlan) -> NodeConfig:
    peers = tuple(other.peer_address for other in plan.nodes if other.index != node.index)
    return NodeConfig(
        node=NodeSection(chain_id=plan.chain_id, moniker=node.moniker, home=CONFIG_HOME),
        p2p=P2PSection(listen_host="127.0.0.1", listen_port=node.p2p_port, persistent_peers=peers),
        rpc=RpcSection(
            listen_host="127.0.0.1",
            listen_port=node.rpc_port,
            reads_cpu_percent=LOCALNET_READS_CPU_PERCENT,
        ),
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
