"""Crash and fault behaviour of a real 4-validator cluster (node processes, LevelDB, sockets).

- kill -9 of one validator under load: the other three keep committing; restarted, it catches
  up by block sync and signs again; no transaction acknowledged by a live node is lost;
- kill -9 of the validator the clients send to, right after it acknowledged a transaction: every
  transaction it acknowledged commits exactly once (its mempool journal keeps them);
- kill -9 of two: the chain halts without forking and resumes when one returns;
- a crash between persisting the sign state and sending the vote, then a restart: the node
  never signs a conflicting message (an observer peer sees every signed one) and keeps signing;
- a WAL whose last record is torn: the node starts and continues.

After each, the balances of all accounts add up, per instrument, to the genesis issuance plus the
mints minus the redemptions the test itself committed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consensus.ledger.txs import Mint, Redeem, Transfer
from tests.integration.crash_load import (
    Planned,
    Submitter,
    assert_conserved,
    count_committed,
    read_metrics,
    sign_body,
    wait_all_committed,
)
from tests.integration.double_sign import SignedKind
from tests.integration.harness import Cluster
from tests.integration.health_wait import wait_until
from tests.integration.node_process import RpcError
from tests.integration.observer import Observer, observed_cluster
from tests.integration.txs import b64, make_transfer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path / "localnet").running() as running:
        yield running


class Load:
    """Submits transfers from one payer to the given nodes until stopped; keeps the hashes of
    every transaction a node acknowledged (code 0)."""

    def __init__(self, cluster: Cluster, nodes: list[int]) -> None:
        self.cluster, self.nodes = cluster, nodes
        self.acknowledged: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        key = self.cluster.account_key("BANKB/bob")
        nonce = 0
        while not self.stop.is_set():
            nonce += 1
            tx = make_transfer(
                self.cluster.info.chain_id, key, "BANKB/bob", "BANKB/carol", "BANKB:USD", 1, nonce
            )
            node = self.nodes[nonce % len(self.nodes)]
            try:
                answer = self.cluster.call(node, "broadcast_tx_sync", tx=b64(tx))
            except (OSError, RpcError):
                continue
            if answer["code"] == 0:
                self.acknowledged.append(answer["hash"])
            self.stop.wait(0.02)


def wait_committed(cluster: Cluster, node: int, hashes: list[str], timeout_s: float = 60) -> None:
    missing = set(hashes)
    deadline = time.monotonic() + timeout_s
    while missing and time.monotonic() < deadline:
        for tx_hash in list(missing):
            try:
                result = cluster.call(node, "tx", hash=tx_hash)
            except RpcError:
                continue
            assert result["tx_result"]["code"] == 0, result
            missing.discard(tx_hash)
        time.sleep(0.2)
    assert not missing, f"{len(missing)} acknowledged txs never committed"


def wait_signs_at(cluster: Cluster, validator: int, height: int, timeout_s: float = 30) -> None:
    """Wait until ``validator`` has signed at ``height`` or later, as its persisted last-signed
    state shows. (A commit certificate holds the first quorum of precommits, which a validator
    that just caught up may miss, so certificates cannot show this reliably.)"""
    path = cluster.node(validator).home / "data" / "sign_state.json"
    deadline = time.monotonic() + timeout_s
    signed = -1
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            signed = json.loads(path.read_text())["height"]
            if signed >= height:
                return
        time.sleep(0.1)
    raise AssertionError(f"validator {validator} last signed at {signed}, wanted {height}")


def assert_same_blocks(cluster: Cluster, nodes: list[int], up_to: int) -> None:
    for height in range(1, up_to + 1):
        hashes = {cluster.call(i, "block", height=str(height))["block_id"]["hash"] for i in nodes}
        assert len(hashes) == 1, f"fork at height {height}: {hashes}"


def evidence_reported(cluster: Cluster, nodes: list[int]) -> bool:
    return any("evidence of misbehaviour" in cluster.log_tail(i, 100_000) for i in nodes)


def test_one_validator_killed_under_load_then_catches_up(cluster: Cluster) -> None:
    with Load(cluster, [0, 1, 2]) as load:
        cluster.wait_height(0, cluster.height(0) + 2)
        cluster.kill(3)
        killed_at = cluster.height(0)
        cluster.wait_height(0, killed_at + 4)  # three of four keep committing
        cluster.start(3)
        cluster.wait_healthy(3)
        target = cluster.height(0)
        cluster.wait_height(3, target)  # block sync
    wait_committed(cluster, 0, load.acknowledged)
    top = cluster.height(0)
    cluster.wait_height(3, top)
    top = cluster.wait_height(0, top + 3)
    wait_signs_at(cluster, 3, top)
    assert_same_blocks(cluster, [0, 1, 2, 3], min(cluster.height(i) for i in range(4)))
    assert len(load.acknowledged) > 0
    assert_conserved(cluster, [0, 1, 2, 3], [])  # transfers only: genesis amounts at any height


KILLED = 3
KILL_AFTER_ACKS = 40


def make_plans(cluster: Cluster) -> list[Callable[[int], Planned]]:
    """Three clients of bank-d's node: same-bank transfers, mints by bank-d, redemptions."""
    chain_id = cluster.info.chain_id
    bob, issuer = cluster.account_key("BANKB/bob"), cluster.participant_key("BANKD")
    erin = cluster.account_key("BANKD/erin")

    def transfer(nonce: int) -> Planned:
        body = Transfer("BANKB/carol", "BANKB:USD", 1)
        return Planned(sign_body(chain_id, bob, "BANKB/bob", body, nonce), {})

    def mint(nonce: int) -> Planned:
        body = Mint("BANKD/dave", "BANKD:CNH", 7, f"crash-funding-{nonce}")
        return Planned(sign_body(chain_id, issuer, "BANKD", body, nonce), {"BANKD:CNH": 7})

    def redeem(nonce: int) -> Planned:
        body = Redeem("BANKD/erin", "BANKD:CNH", 3, f"crash-payout-{nonce}", None)
        return Planned(sign_body(chain_id, erin, "BANKD/erin", body, nonce), {"BANKD:CNH": -3})

    return [transfer, mint, redeem]


def test_txs_acknowledged_by_a_validator_survive_its_kill_9(cluster: Cluster) -> None:
    """Clients send only to bank-d's node; it is killed -9 right after it acknowledged a
    transaction (from the client thread that just got the answer, so in-flight requests of the
    other clients are cut too), then restarted. Every transaction it acknowledged (code 0)
    commits exactly once, and the books still balance on every node."""
    killed = threading.Event()
    lock = threading.Lock()
    acks = 0

    def on_ack() -> None:
        nonlocal acks
        with lock:
            acks += 1
            if acks == KILL_AFTER_ACKS:
                cluster.kill(KILLED)
                killed.set()

    clients = [Submitter(cluster, KILLED, plan, on_ack) for plan in make_plans(cluster)]
    try:
        for client in clients:
            client.start()
        assert killed.wait(120), f"only {acks} acknowledgements before the deadline"
        cluster.wait_height(0, cluster.height(0) + 2)  # the other three go on
        cluster.start(KILLED)
        cluster.wait_healthy(KILLED)
        for client in clients:
            client.restarted.set()
        wait_until(
            lambda: all(c.acks_after_restart >= 3 or c.refused for c in clients),
            "every client was acknowledged again after the restart",
            timeout_s=90,
        )
    finally:
        for client in clients:
            client.join()
    assert [c.refused for c in clients] == [[], [], []]
    acknowledged = [h for c in clients for h in c.acknowledged]
    top = wait_all_committed(cluster, 0, acknowledged)
    settled = wait_settled(cluster, [0, 1, 2, 3], top)
    counts = count_committed(cluster, 0, settled)
    assert {h: counts[h] for h in acknowledged} == dict.fromkeys(acknowledged, 1)
    assert max(counts.values()) == 1, "a transaction was committed twice"
    assert_same_blocks(cluster, [0, 1, 2, 3], settled)
    changes = [c.sent[h] for c in clients for h in c.sent if counts[h] == 1]
    assert_conserved(cluster, [0, 1, 2, 3], changes)


def wait_settled(cluster: Cluster, nodes: list[int], height: int) -> int:
    """Wait until no node has a pending tx and all reached one height at or above ``height``;
    that height. With nothing pending, later blocks change no balance."""
    wait_until(
        lambda: all(int(cluster.call(i, "num_unconfirmed_txs")["n_txs"]) == 0 for i in nodes),
        "no transaction is pending anywhere",
        timeout_s=90,
    )
    top = max([height, *(cluster.height(i) for i in nodes)])
    for index in nodes:
        cluster.wait_height(index, top)
    return top


VOTES_WHILE_HALTED = 6
"""Votes a live node handles with its height unchanged before the chain counts as halted: the
survivors keep re-sending their votes for the stuck height, and a quorum, had it formed, would
have committed within two of them (a prevote and a precommit per height per peer)."""


def wait_halted(cluster: Cluster, nodes: list[int], timeout_s: float = 90) -> int:
    """Wait until every node in ``nodes`` handled ``VOTES_WHILE_HALTED`` votes while neither
    its committed height nor the height it decides moved; that committed height. A chain that
    keeps committing never satisfies it (the wait times out)."""

    def position(samples: dict[str, float]) -> tuple[float, float]:
        return samples["depochain_height"], samples["depochain_consensus_height"]

    votes = 'depochain_consensus_events_total{kind="VoteReceived"}'
    deadline = time.monotonic() + timeout_s
    baseline = {i: read_metrics(cluster, i) for i in nodes}
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = {i: read_metrics(cluster, i) for i in nodes}
        for i in nodes:
            if position(now[i]) != position(baseline[i]):
                baseline[i] = now[i]  # it moved: watch again from here
        if all(now[i][votes] - baseline[i][votes] >= VOTES_WHILE_HALTED for i in nodes):
            heights = {int(now[i]["depochain_height"]) for i in nodes}
            if len(heights) == 1:
                return heights.pop()
    raise TimeoutError(f"nodes {nodes} did not halt: {[position(baseline[i]) for i in nodes]}")


def test_two_validators_killed_halts_without_fork_and_resumes(cluster: Cluster) -> None:
    cluster.wait_height(0, 2)
    cluster.kill(2)
    cluster.kill(3)
    halted = wait_halted(cluster, [0, 1])  # or it keeps committing without a quorum: fails
    assert_same_blocks(cluster, [0, 1], min(cluster.height(0), cluster.height(1)))
    cluster.start(2)
    cluster.wait_healthy(2)
    resumed = cluster.wait_height(0, halted + 3)
    assert_same_blocks(cluster, [0, 1, 2], min(resumed, cluster.height(2)))
    assert_conserved(cluster, [0, 1, 2], [])


@pytest.fixture
def observed(tmp_path: Path) -> Iterator[tuple[Cluster, Observer]]:
    with observed_cluster(tmp_path / "localnet") as running:
        yield running


@pytest.mark.parametrize(
    ("failpoint", "exit_code"), [("after_sign_state_persist", 99), ("before_vote_send", 96)]
)
def test_crash_between_sign_state_and_send_never_double_signs(
    observed: tuple[Cluster, Observer], failpoint: str, exit_code: int
) -> None:
    cluster, observer = observed
    cluster.wait_height(0, 2)
    cluster.kill(3)
    cluster.start(3, env={"DEPOCHAIN_FAILPOINT": failpoint})
    process = cluster.processes.pop(3)
    assert process.wait(timeout=60) == exit_code
    cluster.start(3)
    cluster.wait_healthy(3)
    # The message the persisted sign state covers was logged with it, and came back.
    replays = [line for line in cluster.log_tail(3, 400).splitlines() if "wal: replayed" in line]
    assert replays and "(0 signed by us)" not in replays[-1], replays
    restarted_at, key = cluster.height(0), cluster.validator_key(3)
    observer.wait_for(
        lambda: len(observer.get_heights(key, SignedKind.PRECOMMIT, above=restarted_at)) >= 3,
        120,
        f"validator 3's precommits at 3 heights above {restarted_at}",
    )
    assert not observer.double_signs(), observer.describe_double_signs()
    assert not evidence_reported(cluster, [0, 1, 2, 3])
    assert_conserved(cluster, [0, 1, 2, 3], [])


def test_torn_last_wal_record_is_dropped_and_node_continues(cluster: Cluster) -> None:
    cluster.wait_height(3, 3)
    cluster.kill(3)
    wal_dir = cluster.node(3).home / "data" / "wal"
    newest = sorted(wal_dir.glob("wal-*.log"))[-1]
    with newest.open("ab") as handle:
        handle.write(b"\x00\x00\x01\x00\xde\xad")  # a length and half a checksum: torn
    cluster.start(3)
    cluster.wait_healthy(3)
    cluster.wait_height(3, cluster.height(0) + 2)
    assert_conserved(cluster, [0, 1, 2, 3], [])
