"""Client load and ledger checks for crash tests of a real cluster.

``Submitter`` is one client thread that sends its own sequence of signed transactions (one
submitter id, consecutive nonces) to one node and keeps what that node acknowledged. It behaves
like a careful real client: when a request fails in transport (the node died mid-request) it does
not know whether the node took the transaction, so it sends the very same bytes again until it
gets an answer; a resent transaction that the ledger refuses as a used nonce is looked up and
counted as acknowledged only if it really committed.

The ledger checks read the chain through RPC only: every block's raw transactions (to count how
often each hash was committed) and every account's balances (to add them up per instrument).
The money that should exist is computed apart from the node: the genesis file's balances plus the
mints minus the redemptions this test itself submitted and saw commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consensus.crypto import PrivateKey
from consensus.ledger import SignedTx, UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Body
from consensus.types import ChainId
from tests.integration.harness import Cluster
from tests.integration.node_process import RpcError

CODE_BAD_NONCE = 7
RETRY_PAUSE_S = 0.1
API_PAGE_LIMIT = 100

SupplyChange = dict[str, int]
"""Instrument id -> how much a transaction adds to (mint) or removes from (redeem) the total."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One transaction a submitter will send, with its effect on the total supply."""

    tx: SignedTx
    supply_change: SupplyChange

    @property
    def hash_hex(self) -> str:
        return hashlib.sha256(self.tx.encode()).hexdigest().upper()


def sign_body(chain_id: str, key: PrivateKey, submitter: str, body: Body, nonce: int) -> SignedTx:
    unsigned = UnsignedTx(
        chain_id=ChainId(chain_id),
        submitter=submitter,
        nonce=nonce,
        idempotency_key=f"crash-{submitter}-{nonce}",
        valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**9),
        memo="",
        body=body,
    )
    return sign_tx(unsigned, [key])


@dataclass
class Submitter:
    """Sends ``plan(nonce)`` for nonce 1, 2, ... to node ``node`` until stopped."""

    cluster: Cluster
    node: int
    plan: Callable[[int], Planned]
    on_ack: Callable[[], None] = lambda: None
    sent: dict[str, SupplyChange] = field(default_factory=dict)
    """Hash -> supply change of every tx sent at least once (acknowledged or not)."""
    acknowledged: dict[str, SupplyChange] = field(default_factory=dict)
    """Hash -> supply change of every tx the node answered with code 0."""
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    acks_after_restart: int = 0
    restarted: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=60)
            assert not self.thread.is_alive(), "submitter thread did not stop"

    def _run(self) -> None:
        nonce = 1
        while not self.stop.is_set():
            planned = self.plan(nonce)
            if not self._deliver(planned):
                return
            nonce += 1

    def _deliver(self, planned: Planned) -> bool:
        """Send until answered; True when acknowledged (the caller may go on to the next)."""
        resent = False
        self.sent[planned.hash_hex] = planned.supply_change
        while not self.stop.is_set():
            try:
                answer = self.cluster.call(self.node, "broadcast_tx_sync", tx=_b64(planned.tx))
            except (OSError, urllib.error.URLError, RpcError, ValueError):
                resent = True  # the node may or may not have taken it: send the same bytes
                self.stop.wait(RETRY_PAUSE_S)
                continue
            if answer["code"] == 0 or (
                resent and answer["code"] == CODE_BAD_NONCE and self._is_committed(planned)
            ):
                self._acknowledge(planned)
                return True
            self.refused.append((planned.hash_hex, answer["code"], answer["log"]))
            return False
        return False

    def _acknowledge(self, planned: Planned) -> None:
        self.acknowledged[planned.hash_hex] = planned.supply_change
        if self.restarted.is_set():
            self.acks_after_restart += 1
        self.on_ack()

    def _is_committed(self, planned: Planned) -> bool:
        try:
            result = self.cluster.call(self.node, "tx", hash=planned.hash_hex)
        except (OSError, urllib.error.URLError, RpcError):
            return False
        return bool(result["tx_result"]["code"] == 0)


def _b64(tx: SignedTx) -> str:
    return base64.b64encode(tx.encode()).decode()


# -- reading the chain ----------------------------------------------------------------------------


def wait_all_committed(
    cluster: Cluster, node: int, hashes: list[str], timeout_s: float = 90
) -> int:
    """Wait until every hash is committed with code 0 on ``node``; the highest height."""
    missing = set(hashes)
    top = 0
    deadline = time.monotonic() + timeout_s
    while missing and time.monotonic() < deadline:
        for tx_hash in sorted(missing):
            try:
                result = cluster.call(node, "tx", hash=tx_hash)
            except (OSError, urllib.error.URLError, RpcError):
                continue
            assert result["tx_result"]["code"] == 0, result
            top = max(top, int(result["height"]))
            missing.discard(tx_hash)
        time.sleep(0.2)
    assert not missing, f"{len(missing)} of {len(hashes)} acknowledged txs never committed"
    return top


def count_committed(cluster: Cluster, node: int, up_to: int) -> Counter[str]:
    """How often each tx hash appears in blocks 1..``up_to`` of ``node``."""
    counts: Counter[str] = Counter()
    for height in range(1, up_to + 1):
        block = cluster.call(node, "block", height=str(height))
        for raw in block["block"]["data"]["txs"] or ():
            counts[hashlib.sha256(base64.b64decode(raw)).hexdigest().upper()] += 1
    return counts


def read_metrics(cluster: Cluster, node: int) -> dict[str, float]:
    """The node's Prometheus samples: ``name{labels}`` -> value."""
    with urllib.request.urlopen(cluster.url(node) + "/metrics", timeout=15) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=15) as response:
        return json.loads(response.read())


def sum_balances(cluster: Cluster, node: int) -> dict[str, int]:
    """Instrument id -> sum of ``total`` over every account, paging through the REST API."""
    sums: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        query = f"?limit={API_PAGE_LIMIT}" + ("" if cursor is None else f"&cursor={cursor}")
        page = get_json(cluster.url(node) + "/api/v1/accounts" + query)
        for account in page["items"]:
            for balance in account["balances"]:
                sums[balance["instrument_id"]] += balance["total"]
        cursor = page["next_cursor"]
        if cursor is None:
            return dict(sums)


def genesis_issuance(cluster: Cluster) -> Counter[str]:
    """Instrument id -> total of the genesis file's balances."""
    genesis = json.loads((cluster.home / "genesis.json").read_text())
    issued: Counter[str] = Counter()
    for entry in genesis["ledger"]["balances"]:
        issued[entry["instrument"]] += entry["amount"]
    return issued


def assert_conserved(
    cluster: Cluster, nodes: list[int], committed_changes: list[SupplyChange]
) -> None:
    """On every node, the balances of all accounts add up, per instrument, to the genesis
    issuance plus the committed mints minus the committed redemptions. Call it once no
    transaction is pending, so that all nodes hold the same state."""
    expected = genesis_issuance(cluster)
    for change in committed_changes:
        expected.update(change)
    wanted = {instrument: amount for instrument, amount in expected.items() if amount}
    for node in nodes:
        found = {instrument: amount for instrument, amount in sum_balances(cluster, node).items()}
        assert {k: v for k, v in found.items() if v} == wanted, f"node {node}: {found} != {wanted}"
