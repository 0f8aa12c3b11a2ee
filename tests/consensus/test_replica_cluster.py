"""Smoke test: 4 replicas passing messages directly (no simulator) commit several heights.

A tiny discrete-event loop: broadcasts are delivered to every other replica after a fixed
delay, timeouts fire at their scheduled simulated time, CommitBlock is answered with
BlockExecuted. The adversarial testing lives in consensus/simulation.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from consensus import crypto
from consensus.actions import Action, Broadcast, CommitBlock, ScheduleTimeout, SendTo
from consensus.blocks import GENESIS_PARENT_HASH, Block
from consensus.crypto import PrivateKey
from consensus.events import (
    BlockExecuted,
    Event,
    EvidenceReceived,
    ProposalReceived,
    Started,
    TimeoutElapsed,
    TxsAvailable,
    VoteReceived,
)
from consensus.messages import CommitCertificate, Vote
from consensus.params import ConsensusParams
from consensus.proposal import Proposal
from consensus.replica import ChainState, Replica
from consensus.types import ChainId, Hash32, Height, TimestampMs
from consensus.validators import ValidatorSet

CHAIN = ChainId("depochain-test")
GENESIS_APP_HASH = crypto.sha256(b"genesis")


def make_keys(n: int) -> list[PrivateKey]:
    return [PrivateKey(bytes([i + 1]) * 32) for i in range(n)]


def make_genesis(vset: ValidatorSet) -> ChainState:
    return ChainState(
        height=Height(0),
        last_block_hash=GENESIS_PARENT_HASH,
        last_commit=None,
        last_block_time_ms=TimestampMs(0),
        app_hash=GENESIS_APP_HASH,
        validator_sets={1: vset, 2: vset},
    )


@dataclass
class Cluster:
    replicas: list[Replica]
    vset: ValidatorSet
    delay_ms: int = 10
    now_ms: int = 1_000
    queue: list[tuple[int, int, int, Event]] = field(default_factory=list)
    commits: dict[int, dict[int, tuple[Block, CommitCertificate]]] = field(default_factory=dict)
    down: set[int] = field(default_factory=set)
    _seq: int = 0

    def push(self, at_ms: int, target: int, event: Event) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (at_ms, self._seq, target, event))

    def start(self) -> None:
        for i in range(len(self.replicas)):
            self.push(self.now_ms, i, Started(TimestampMs(self.now_ms)))

    def effect(self, source: int, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Broadcast):
                for j in range(len(self.replicas)):
                    if j != source:
                        self.push(self.now_ms + self.delay_ms, j, as_event(action.message))
            elif isinstance(action, SendTo):
                j = self.index_of(action.public_key)
                self.push(self.now_ms + self.delay_ms, j, as_event(action.message))
            elif isinstance(action, ScheduleTimeout):
                self.push(
                    self.now_ms + action.delay_ms,
                    source,
                    TimeoutElapsed(action.height, action.round, action.timer),
                )
            elif isinstance(action, CommitBlock):
                block = action.block
                self.commits.setdefault(source, {})[block.height] = (block, action.certificate)
                app_hash = crypto.sha256(self.replicas[source].snapshot().app_hash + block.hash)
                self.push(self.now_ms, source, BlockExecuted(block.height, app_hash, self.vset))

    def index_of(self, public_key: bytes) -> int:
        return next(i for i, r in enumerate(self.replicas) if r.public_key == public_key)

    def run(self, until_height: int, max_events: int = 20_000) -> None:
        for _ in range(max_events):
            if (
                all(
                    max(self.commits.get(i, {0: None}), default=0) >= until_height
                    for i in range(len(self.replicas))
                    if i not in self.down
                )
                or not self.queue
            ):
                return
            at_ms, _, target, event = heapq.heappop(self.queue)
            self.now_ms = max(self.now_ms, at_ms)
            if target in self.down:
                continue
            self.effect(target, self.replicas[target].handle(with_time(event, self.now_ms)))


def as_event(message: Proposal | Vote | object) -> Event:
    if isinstance(message, Proposal):
        return ProposalReceived(message)
    if isinstance(message, Vote):
        return VoteReceived(message)
    return EvidenceReceived(message)  # type: ignore[arg-type]


def with_time(event: Event, now_ms: int) -> Event:
    if isinstance(event, ProposalReceived):
        return ProposalReceived(event.proposal, TimestampMs(now_ms))
    return event


def make_cluster(n: int = 4, params: ConsensusParams | None = None) -> Cluster:
    keys = make_keys(n)
    vset = ValidatorSet.of([(k.public_key, 10) for k in keys])
    params = params or ConsensusParams(
        timeout_propose_ms=300,
        timeout_prevote_ms=100,
        timeout_precommit_ms=100,
        timeout_delta_ms=50,
        timeout_commit_ms=50,
    )
    replicas = [Replica(CHAIN, k, params, make_genesis(vset)) for k in keys]
    return Cluster(replicas, vset)


def assert_agreement(cluster: Cluster) -> None:
    by_height: dict[int, Hash32] = {}
    for commits in cluster.commits.values():
        for height, (block, _) in commits.items():
            assert by_height.setdefault(height, block.hash) == block.hash


def test_four_replicas_commit_several_heights() -> None:
    cluster = make_cluster()
    cluster.start()
    cluster.run(until_height=5)
    assert_agreement(cluster)
    for i in range(4):
        assert max(cluster.commits[i]) >= 5
    blocks = [cluster.commits[0][h][0] for h in range(1, 6)]
    for parent, child in itertools.pairwise(blocks):
        assert child.header.parent_hash == parent.hash
        assert child.header.last_commit is not None
        assert child.header.last_commit.block_hash == parent.hash


def test_commits_with_one_replica_down() -> None:
    cluster = make_cluster()
    cluster.down = {2}
    cluster.start()
    cluster.run(until_height=6)
    assert_agreement(cluster)
    for i in (0, 1, 3):
        assert max(cluster.commits[i]) >= 6


def test_proposed_txs_are_committed_once() -> None:
    cluster = make_cluster()
    txs = (b"tx-1", b"tx-2", b"tx-3")
    for i in range(4):
        cluster.push(cluster.now_ms, i, TxsAvailable(txs))
    cluster.start()
    cluster.run(until_height=3)
    assert_agreement(cluster)
    committed = [tx for h in sorted(cluster.commits[0]) for tx in cluster.commits[0][h][0].txs]
    assert committed == list(txs)


def test_without_empty_blocks_only_txs_make_blocks() -> None:
    params = ConsensusParams(
        timeout_propose_ms=300,
        timeout_prevote_ms=100,
        timeout_precommit_ms=100,
        timeout_delta_ms=50,
        timeout_commit_ms=50,
        create_empty_blocks=False,
    )
    cluster = make_cluster(params=params)
    cluster.start()
    cluster.run(until_height=1, max_events=2_000)  # only rebroadcast timers tick
    assert cluster.commits == {}
    for i in range(4):
        cluster.push(cluster.now_ms, i, TxsAvailable((b"tx-late",)))
    cluster.run(until_height=1)
    assert all(cluster.commits[i][1][0].txs == (b"tx-late",) for i in range(4))
    cluster.run(until_height=2, max_events=2_000)
    assert all(max(cluster.commits[i]) == 1 for i in range(4))


def test_empty_block_interval_makes_empty_blocks_slowly() -> None:
    params = ConsensusParams(
        timeout_propose_ms=300,
        timeout_prevote_ms=100,
        timeout_precommit_ms=100,
        timeout_delta_ms=50,
        timeout_commit_ms=50,
        create_empty_blocks=False,
        empty_block_interval_ms=5_000,
    )
    cluster = make_cluster(params=params)
    start_ms = cluster.now_ms
    cluster.start()
    cluster.run(until_height=3)
    assert all(max(cluster.commits[i]) >= 3 for i in range(4))
    assert cluster.now_ms - start_ms >= 3 * 5_000
