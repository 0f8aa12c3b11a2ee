"""What the RPC may use of a running node, in one place: the chain, the mempool, submission,
and an event bus of committed blocks.

Submission is the one write path from clients: a transaction is checked and admitted by the
mempool, appended to the mempool journal (the RPC answers only after
:meth:`NodeServices.sync_acknowledged`, so an acknowledged transaction survives a crash), queued
for gossip (in batches: one frame per few milliseconds, not one per tx, on a timer armed
only while transactions wait) and the replica is told
new transactions wait. Subscribers (websocket clients, ``broadcast_tx_commit``,
submit-and-wait) get committed blocks through bounded queues; a subscriber that cannot keep up
is cut off and told so, never allowed to hold memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from consensus.crypto import PrivateKey, sha256
from consensus.types import Hash32, PublicKey
from node.backlog import BacklogGate
from node.chain import Chain, CommittedBlock
from node.config import NodeConfig
from node.disk_space import DiskSpaceGuard, StorageUnavailable
from node.errors import NodeError
from node.gossip import TX_BATCH_MAX, TxBatch, encode_gossip, split_tx_batches
from node.home import ChainGenesis
from node.log_budget import LogBudget
from node.logs import fields
from node.mempool import Accepted, AddOutcome, Mempool, MempoolFull, Rejected
from node.mempool_journal import MempoolJournal
from node.verify_pool import SignatureVerifier

log = logging.getLogger("depochain.services")

SUBSCRIPTION_QUEUE_MAX = 256
SUBSCRIBERS_MAX = 1_000
TX_WAITERS_MAX = 50_000
TX_GOSSIP_FLUSH_S = 0.01
TX_GOSSIP_HOLD_MAX_S = 0.25
"""Longest a held batch's first tx waits for gossip (``TxGossip.held``) before a flush anyway."""


@dataclass(eq=False)
class Subscription:
    """A bounded stream of committed blocks; ``overflowed`` once it fell too far behind.
    Compared by identity: the bus keeps subscriptions in a set."""

    queue: asyncio.Queue[CommittedBlock | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIPTION_QUEUE_MAX)
    )
    overflowed: bool = False


class TooManySubscribers(NodeError):
    pass


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._tx_waiters: dict[Hash32, list[asyncio.Future[CommittedBlock]]] = {}
        self._waiter_count = 0

    def subscribe(self) -> Subscription:
        if len(self._subscriptions) >= SUBSCRIBERS_MAX:
            raise TooManySubscribers(f"at most {SUBSCRIBERS_MAX} subscriptions per node")
        subscription = Subscription()
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, committed: CommittedBlock) -> None:
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(committed)
            except asyncio.QueueFull:
                subscription.overflowed = True
                self._subscriptions.discard(subscription)
        for tx_hash in committed.tx_hashes:
            for waiter in self._tx_waiters.pop(tx_hash, ()):
                self._waiter_count -= 1
                if not waiter.done():
                    waiter.set_result(committed)

    async def wait_for_tx(self, tx_hash: Hash32, timeout_s: float) -> CommittedBlock | None:
        """The committed block holding ``tx_hash``, or None after ``timeout_s``."""
        if self._waiter_count >= TX_WAITERS_MAX:
            return None
        future: asyncio.Future[CommittedBlock] = asyncio.get_running_loop().create_future()
        self._tx_waiters.setdefault(tx_hash, []).append(future)
        self._waiter_count += 1
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            waiters = self._tx_waiters.get(tx_hash)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                self._waiter_count -= 1
                if not waiters:
                    del self._tx_waiters[tx_hash]


class TxGossip:
    """Collects transactions admitted from clients and broadcasts them in batches.

    Only the node a client submitted to gossips a transaction; peers do not pass it on, since
    every validator connects to every other (the allowlist is the validator set). A network
    with observers behind a single validator would need relaying here.

    Batches are capped by count and by bytes (``frame_bytes_max``): a batch never exceeds what
    one P2P frame carries, whatever the size of the transactions or the configured frame.

    While a client's batch is admitted (``held``), the timer does not flush: the batch's calls
    yield to the loop between them, and each tick would otherwise send a frame of the few txs
    admitted since, which every peer then reads, decrypts and decodes on its own."""

    def __init__(
        self,
        broadcast: Callable[[bytes], object],
        frame_bytes_max: int = 8 * 1024 * 1024,
        hold_max_s: float = TX_GOSSIP_HOLD_MAX_S,
    ) -> None:
        self._broadcast = broadcast
        self._frame_bytes_max = frame_bytes_max
        self._pending: list[bytes] = []
        self._holds = 0
        self._hold_max_s = hold_max_s
        self._first_pending_s = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def is_armed(self) -> bool:
        """Whether a flush is scheduled (only while transactions wait)."""
        return self._timer is not None

    def queue(self, raw: bytes) -> None:
        if not self._pending:
            self._first_pending_s = time.monotonic()
            self._arm(TX_GOSSIP_FLUSH_S)
        self._pending.append(raw)
        if len(self._pending) >= TX_BATCH_MAX:
            self.flush()

    def _arm(self, delay_s: float) -> None:
        """Schedule one flush ``delay_s`` from now: the loop wakes for gossip only when a
        transaction waits, never to poll an empty queue. Outside a running loop (a tool, a
        test) nothing is scheduled: the end of a hold or :meth:`flush` sends."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(max(0.0, delay_s), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._pending:
            return
        if self._is_held():  # wait for the hold's end, or until it has held too long
            self._arm(self._first_pending_s + self._hold_max_s - time.monotonic())
            return
        self.flush()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Gossip the txs queued inside the block together, when it ends (or once the first of
        them has waited ``hold_max_s``, or a frame's worth is queued)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self.flush()

    def _is_held(self) -> bool:
        return self._holds > 0 and time.monotonic() - self._first_pending_s < self._hold_max_s

    def flush(self) -> None:
        self.close()  # the timer was for these txs
        pending, self._pending = self._pending, []
        batches, too_large = split_tx_batches(pending, self._frame_bytes_max)
        if too_large:  # only with a frame smaller than a transaction: a config mistake
            log.error("tx gossip: %d transactions larger than a P2P frame not sent", too_large)
        for batch in batches:
            self._broadcast(encode_gossip(TxBatch(tuple(batch))))

    def close(self) -> None:
        """Drop a scheduled flush (the node is stopping, or the txs are being sent now; what
        waits at a stop is in the journal)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def send_pending_to(self, send: Callable[[bytes], object], pending: list[bytes]) -> None:
        """Send a peer that just (re)connected the txs waiting here, in batches: those admitted
        while it was unreachable (a cut link, its restart) were broadcast to nobody, and would
        otherwise wait for this node's own turn to propose."""
        batches, _ = split_tx_batches(pending, self._frame_bytes_max)
        for batch in batches:
            send(encode_gossip(TxBatch(tuple(batch))))


@dataclass
class NodeServices:
    """A running node as the RPC sees it."""

    config: NodeConfig
    genesis: ChainGenesis
    chain: Chain
    mempool: Mempool
    node_key: PrivateKey
    validator_public_key: PublicKey | None
    bus: EventBus
    gossip: TxGossip
    on_txs_added: Callable[[], None]
    get_consensus_state: Callable[[], dict[str, object]]
    get_peers: Callable[[], list[dict[str, object]]]
    is_catching_up: Callable[[], bool]
    render_metrics: Callable[[], str] = lambda: ""
    """Prometheus text exposition of the node's counters (served at GET /metrics)."""
    started_at_s: float = 0.0
    """Wall time the node started, in seconds since the epoch (read from the node's clock)."""
    journal: MempoolJournal | None = None
    """Where admitted transactions are kept until committed (None: memory only, for tools)."""
    disk: DiskSpaceGuard | None = None
    """Refuses new transactions while the data folder's disk is nearly full (None: no check)."""
    backlog: BacklogGate | None = None
    """Refuses client transactions once the mempool holds backlog_ms of commits (None: no check)."""
    verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier(1))
    """Checks a batch's signatures on worker threads before it is admitted (node.verify_pool)."""
    refusal_log: LogBudget = field(default_factory=LogBudget)
    """How many refused submissions get a log line of their own (node.log_budget)."""

    def submit_tx(self, raw: bytes) -> AddOutcome:
        """Admit one transaction; raises MempoolFull when the node cannot take more now (its
        mempool is full, or already holds about a second of the chain's commits: node.backlog), and
        StorageUnavailable when it could not make it durable (a nearly full disk). Before
        answering "accepted", the caller awaits :meth:`sync_acknowledged`."""
        if self.disk is not None:
            self.disk.check_admission()
        if self.backlog is not None:  # before the refusal log: at saturation it refuses a lot
            self.backlog.check(raw, len(self.mempool))
        try:
            outcome = self.mempool.add(raw)
        except MempoolFull as exc:
            if self._may_log_refusal():
                log.warning(
                    "tx %s refused: %s",
                    exc.tx_hash.hex(),
                    exc,
                    extra=fields("tx_refused", tx_hash=exc.tx_hash, reason=exc.reason),
                )
            raise
        if isinstance(outcome, Accepted):  # the common case first
            if self.journal is not None:
                try:
                    self.journal.append(outcome.tx_hash, raw)
                except StorageUnavailable:
                    self.mempool.withdraw(outcome.tx_hash)
                    raise
            self.gossip.queue(raw)
            self.on_txs_added()
        elif isinstance(outcome, Rejected) and self._may_log_refusal():
            log.info(
                "tx %s refused: code %d: %s",
                outcome.tx_hash.hex(),
                outcome.code,
                outcome.log,
                extra=fields("tx_refused", tx_hash=outcome.tx_hash, code=outcome.code),
            )
        return outcome

    def _may_log_refusal(self) -> bool:
        """Whether this refusal gets its own line (``node.log_budget``: a flood of junk must
        not become a flood of log lines); first says how many did not, if any."""
        if not self.refusal_log.allow():
            return False
        unlogged = self.refusal_log.take_unlogged()
        if unlogged:
            log.info(
                "%d refused transactions were not logged (at most %d at once, %g a second)",
                unlogged,
                self.refusal_log.burst,
                self.refusal_log.rate_per_s,
                extra=fields("tx_refusals_unlogged"),
            )
        return True

    async def sync_acknowledged(self) -> None:
        """Return once every transaction admitted so far is on disk (one group fdatasync)."""
        if self.journal is not None and not self.journal.is_synced:
            await self.journal.sync()

    @staticmethod
    def compute_tx_hash(raw: bytes) -> Hash32:
        return sha256(raw)
