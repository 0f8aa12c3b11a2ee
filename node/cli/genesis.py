"""`depochain genesis card|build|join`: one network of banks, each with keys made on its own host.

The private keys never leave the host that made them (``depochain init``). What travels is
public:

1. ``card``: each bank writes a *card* from its home: participant id, moniker, operator and
   validator public keys, node id (P2P key) and the address the other banks dial.
2. ``build``: one coordinator turns every card (plus an optional *base* file the banks agreed
   on: the settlement agent, instruments, accounts, balances) into ``genesis.json`` and prints
   its SHA-256, which each bank compares over a second channel before trusting the file.
3. ``join``: each bank installs that genesis into its home and names the other banks' nodes as
   its peers (the P2P allowlist). It refuses a genesis that does not make this home's key a
   validator, and a home whose ``data/`` already holds a chain.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.crypto import sha256
from consensus.ledger import GenesisDoc, GenesisError, build_genesis_state
from node import durable
from node.config import ConfigError, ConsensusSection, load_config, parse_peer_address, write_config
from node.home import (
    CONFIG_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    STORE_DIR,
    VALIDATOR_KEY_FILE,
    HomeError,
    genesis_to_json,
    load_genesis,
    load_key,
)
from node.localnet.plan import DATA_DIR, PARTICIPANTS_DIR, VALIDATOR_POWER

CARD_KEYS = ("participant_id", "moniker", "operator_key", "validator_key", "node_id", "p2p")
BASE_KEYS = ("participants", "instruments", "accounts", "balances", "governance")


class GenesisToolError(Exception):
    """A card, base or genesis file is unusable; the message says why (nothing was written)."""


@dataclass(frozen=True, slots=True)
class Card:
    """The public facts of one bank's node, exchanged before the genesis exists."""

    participant_id: str
    moniker: str
    operator_key: str
    validator_key: str
    node_id: str
    p2p: str
    """``host:port`` the other banks dial."""

    @property
    def peer_address(self) -> str:
        return f"{self.node_id}@{self.p2p}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"


def make_card(home: Path, p2p: str) -> Card:
    """The card of the node home ``home`` (written by ``depochain init``)."""
    try:
        config = load_config(home / CONFIG_FILE)
        node_key, validator_key = (
            load_key(home / NODE_KEY_FILE),
            load_key(home / VALIDATOR_KEY_FILE),
        )
        operators = sorted((home / PARTICIPANTS_DIR).glob("*.json"))
        if len(operators) != 1:
            raise GenesisToolError(f"{home / PARTICIPANTS_DIR} must hold exactly one operator key")
        operator = load_key(operators[0])
    except (ConfigError, HomeError) as exc:
        raise GenesisToolError(str(exc)) from exc
    card = Card(
        participant_id=operators[0].stem,
        moniker=config.node.moniker,
        operator_key=operator.public_key.hex(),
        validator_key=validator_key.public_key.hex(),
        node_id=node_key.public_key.hex(),
        p2p=p2p,
    )
    _validate_p2p(card)
    return card


def load_card(path: Path) -> Card:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        card = Card(**{name: str(document[name]) for name in CARD_KEYS})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenesisToolError(f"card {path}: {exc}") from exc
    _validate_p2p(card)
    return card


def _validate_p2p(card: Card) -> None:
    try:
        parse_peer_address(card.peer_address)
    except ValueError as exc:
        raise GenesisToolError(f"card of {card.participant_id}: {exc}") from exc


def build_genesis(
    chain_id: str, cards: list[Card], base: dict[str, Any], genesis_time_ms: int | None
) -> bytes:
    """genesis.json for ``cards`` (each a bank and validator) on top of ``base``."""
    unknown = set(base) - set(BASE_KEYS)
    if unknown:
        raise GenesisToolError(f"base file: unknown keys {sorted(unknown)}")
    banks = [_participant_of(card) for card in cards]
    ids = [p["id"] for p in [*base.get("participants", []), *banks]]
    if len(set(ids)) != len(ids):
        raise GenesisToolError(f"participant ids must be unique, got {ids}")
    document = {
        "chain_id": chain_id,
        "genesis_time_ms": int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms,
        "participants": [*base.get("participants", []), *banks],
        "instruments": base.get("instruments", []),
        "accounts": base.get("accounts", []),
        "balances": base.get("balances", []),
    }
    if "governance" in base:  # else the ledger's defaults: more than 2/3 of the active banks
        document["governance"] = base["governance"]
    try:
        doc = GenesisDoc.from_json_dict(document)
        build_genesis_state(doc)
    except (GenesisError, KeyError, TypeError, ValueError) as exc:
        raise GenesisToolError(f"the genesis would be invalid: {exc}") from exc
    return genesis_to_json(doc, ConsensusSection().to_params())


def _participant_of(card: Card) -> dict[str, Any]:
    return {
        "id": card.participant_id,
        "name": card.moniker,
        "roles": ["bank", "validator"],
        "status": "active",
        "keys": [card.operator_key],
        "threshold": 1,
        "validator_key": card.validator_key,
        "validator_power": VALIDATOR_POWER,
        "lei": "",
        "bic": "",
    }


def load_base(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        base = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenesisToolError(f"base file {path}: {exc}") from exc
    if not isinstance(base, dict):
        raise GenesisToolError(f"base file {path}: must be a JSON object")
    return base


def join_network(home: Path, genesis_path: Path, cards: list[Card]) -> tuple[str, list[str]]:
    """Install the genesis in ``home`` and peer with the other cards; (chain id, peers)."""
    try:
        config = load_config(home / CONFIG_FILE)
        genesis = load_genesis(genesis_path)
        validator = load_key(home / VALIDATOR_KEY_FILE).public_key.hex()
        node_id = load_key(home / NODE_KEY_FILE).public_key.hex()
    except (ConfigError, HomeError) as exc:
        raise GenesisToolError(str(exc)) from exc
    keys = {p.validator_key.hex() for p in genesis.ledger.participants if p.validator_key}
    if validator not in keys:
        raise GenesisToolError(
            f"{genesis_path} does not make this node's key {validator} a validator"
        )
    if (config.get_data_path(home) / STORE_DIR).exists():
        data = home / DATA_DIR
        raise GenesisToolError(f"{data} already holds a chain; a new genesis needs an empty {data}")
    peers = [card.peer_address for card in cards if card.node_id != node_id]
    p2p = dataclasses.replace(config.p2p, persistent_peers=tuple(peers))
    node = dataclasses.replace(config.node, chain_id=genesis.chain_id)
    durable.write_atomically(home / GENESIS_FILE, genesis.raw, mode=0o644)
    write_config(
        dataclasses.replace(config, node=node, p2p=p2p),
        home / CONFIG_FILE,
        header=f"DepoChain node {config.node.moniker}, joined by `depochain genesis join`.",
    )
    return genesis.chain_id, peers


def compute_genesis_sha256(raw: bytes) -> str:
    return sha256(raw).hex()
