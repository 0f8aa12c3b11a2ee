"""One simulated node: a replica (or none while crashed), its app, its store and its memory.

What survives a crash is what a real node keeps on disk: the committed blocks with their
certificates, the application state, and the last persisted SignState. Everything else (the
replica object, its mempool, what it has seen) is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.blocks import Block
from consensus.crypto import PrivateKey
from consensus.messages import CommitCertificate
from consensus.replica import Replica
from consensus.safety import SignState
from consensus.simulation.app import SimApp
from consensus.simulation.byzantine import ByzantineOutbox
from consensus.simulation.faults import Behaviour
from consensus.simulation.network import NodeId
from consensus.types import Hash32

SEEN_PER_HEIGHT_MAX = 4_096
"""Gossip memory per height is bounded: a Byzantine flood cannot grow it without limit."""


@dataclass(slots=True)
class SimNode:
    node_id: NodeId
    validator_index: int
    key: PrivateKey
    behaviour: Behaviour
    outbox: ByzantineOutbox | None
    """Rewrites outgoing traffic for Byzantine nodes; None for honest ones."""
    app: SimApp = field(default_factory=SimApp)
    replica: Replica | None = None
    """The running replica; None while crashed (or for a SILENT node, which runs none)."""
    incarnation: int = 0
    """Bumped at each crash so timers and callbacks of a dead replica are ignored."""
    sign_state: SignState = field(default_factory=SignState)
    """Last SignState the node persisted (survives crashes)."""
    blocks: dict[int, tuple[Block, CommitCertificate]] = field(default_factory=dict)
    committed_height: int = 0
    entered_height: int = 1
    """Height the replica works on: committed_height + 1 once BlockExecuted was delivered."""
    crash_after_actions: int | None = None
    """If set, the next handled event runs only this many actions before the node crashes."""
    seen: dict[int, dict[Hash32, bytes]] = field(default_factory=dict)
    """Messages sent or received, by height, for gossip (relayed to peers that lack them)."""
    received: dict[int, set[Hash32]] = field(default_factory=dict)
    """Digests of messages delivered to this node, by height (what gossip need not resend)."""
    restarts: int = 0
    wal: dict[int, dict[Hash32, tuple[bytes, int | None]]] = field(default_factory=dict)
    """Consensus messages the node received or signed, by height, for heights it has not left:
    durable, as the node's write-ahead log is. A restarted replica is fed them again (and they
    are gossiped again), so a crash neither erases the only copy of a vote a round needs (the
    signer may not sign that step twice) nor the polka that justified a lock. Each message
    with its arrival time on the node's clock (None for our own), as the node's WAL keeps it."""
    clock_skew_ms: int = 0
    """How far this node's clock is from the simulation's true time (proposer-based time)."""

    @property
    def is_honest(self) -> bool:
        return self.behaviour is Behaviour.HONEST

    @property
    def is_up(self) -> bool:
        return self.replica is not None

    @property
    def public_key(self) -> bytes:
        return self.key.public_key

    @property
    def last_block_hash(self) -> Hash32 | None:
        entry = self.blocks.get(self.committed_height)
        return None if entry is None else entry[0].hash

    def remember(self, height: int, digest: Hash32, payload: bytes) -> None:
        bucket = self.seen.setdefault(height, {})
        if len(bucket) < SEEN_PER_HEIGHT_MAX:
            bucket[digest] = payload

    def mark_received(self, height: int, digest: Hash32) -> None:
        self.received.setdefault(height, set()).add(digest)

    def has_received(self, height: int, digest: Hash32) -> bool:
        bucket = self.received.get(height)
        return bucket is not None and digest in bucket

    def log_wal(
        self, height: int, digest: Hash32, payload: bytes, arrival_ms: int | None = None
    ) -> None:
        log = self.wal.setdefault(height, {})
        if len(log) < SEEN_PER_HEIGHT_MAX and digest not in log:
            log[digest] = (payload, arrival_ms)

    def prune_below(self, height: int) -> None:
        """Forget gossip state (and WAL) of heights the node has left behind."""
        for store in (self.seen, self.received, self.wal):
            for old in [h for h in store if h < height]:
                del store[old]

    def crash(self) -> None:
        self.replica = None
        self.incarnation += 1
        self.crash_after_actions = None
        self.seen.clear()
        self.received.clear()
        self.app.clear_mempool()
