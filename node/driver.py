"""The consensus driver: inbox → WAL → ``replica.handle`` → the replica's actions, in order.

One coroutine owns the replica; everything else (peers, timers, the mempool) only puts events in
its inbox. Every input that can change what the replica signs is appended to the WAL before the
replica sees it, and ``PersistSignState`` is fsynced before the signature it covers is sent, so a
``kill -9`` at any instant can neither make the node forget a vote nor sign a conflicting one.

A peer's proposal, vote or evidence is first checked by :mod:`node.wal_admission` (height
window, expected signer, signature, size, a per-height byte budget): junk is dropped and counted
without touching the WAL. Our own messages, timers and synced blocks are always logged.

A decided block is executed and stored by :mod:`node.committer`'s worker thread, and the WAL
syncs, sign-state persists and height markers are written by :mod:`node.persister`'s, while the
event loop keeps serving RPC and P2P: the driver *holds* the effects after such a write and
handles nothing else until it is durable (one at a time, in order). After a block it starts the
next height at once and does the mempool update and the listeners after that.

Never: handle an event outside :meth:`Driver.run`, send a signed message before its sign
state is durable, or hand the replica anything of height h + 1 before block h is stored.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from consensus.actions import (
    Action,
    Broadcast,
    CommitBlock,
    PersistSignState,
    ReportEvidence,
    ScheduleTimeout,
    SendTo,
)
from consensus.effects import Effect, SyncWal, order_effects
from consensus.events import BlockExecuted, Event, Started, TimeoutElapsed, TxsAvailable
from consensus.ledger.queries import get_nonce
from consensus.messages import Vote
from consensus.proposal import Proposal
from consensus.replica import RejectedInput, Replica
from consensus.types import Height
from node.chain import Chain, CommittedBlock
from node.clock import Clock
from node.committer import BlockCommitter
from node.failpoints import Failpoint, Failpoints
from node.gossip import ConsensusPayload, StatusPayload, encode_gossip
from node.logs import fields
from node.loop_watch import LoopWatch
from node.mempool import Mempool
from node.persister import Persister, is_durable_step, split_durable_run
from node.reap_pacing import MIN_GAP_S, reap_gap_s
from node.signer import SignStateFile
from node.wal import WriteAheadLog
from node.wal_admission import PeerEvent, WalAdmission
from node.wal_events import decode_replayable, encode_event, is_logged, is_own_message

log = logging.getLogger("depochain.driver")

INBOX_MAX = 10_000
"""Peer events waiting for the replica; beyond this, peer messages are dropped (and counted):
gossip repeats, and a flood must not grow memory without bound."""

REJECTION_KINDS_MAX = 128
"""Distinct (event kind, reason) pairs counted; the reasons are the replica's fixed messages,
so this is only a guard should one ever carry data."""

TXS_AVAILABLE_MIN_GAP_S = MIN_GAP_S
"""Least time between two TxsAvailable events (each one reaps the mempool: node.reap_pacing)."""


def compute_block_margin_bytes(block_bytes_max: int) -> int:
    """Room left for the header, last commit and evidence when reaping txs for a block: 64
    KiB, or a quarter of a small block (a fixed 64 KiB left nothing for blocks under it)."""
    return min(64 * 1024, block_bytes_max // 4)


class Network(Protocol):
    """What the driver needs from P2P (``node.p2p.P2PNetwork`` satisfies it)."""

    def broadcast(self, payload: bytes) -> int: ...

    def send(self, public_key: bytes, payload: bytes) -> bool: ...


@dataclass
class DriverStats:
    events_handled: int = 0
    peer_events_dropped: int = 0
    wal_records: int = 0
    blocks_committed: int = 0
    last_commit_s: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)
    """(event kind, reason) -> inputs the replica refused (stale, duplicate, badly signed...)."""

    def count_rejected(self, kind: str, reason: str) -> None:
        key = (kind, reason)
        if key not in self.rejected and len(self.rejected) >= REJECTION_KINDS_MAX:
            key = (kind, "other")
        self.rejected[key] = self.rejected.get(key, 0) + 1


CommitListener = Callable[[CommittedBlock], None]


class Driver:
    """Owns the replica and carries out its actions against the node's real parts."""

    def __init__(
        self,
        *,
        replica: Replica,
        chain: Chain,
        mempool: Mempool,
        wal: WriteAheadLog,
        sign_state_file: SignStateFile | None,
        network: Network,
        clock: Clock,
        recheck: Callable[[bytes], object] | None = None,
        failpoints: Failpoints = Failpoints.NONE,
        loop_watch: LoopWatch | None = None,
        io_in_thread: bool = True,
    ) -> None:
        self.replica = replica
        self.chain = chain
        self.mempool = mempool
        self.wal = wal
        self.sign_state_file = sign_state_file
        self.network = network
        self.clock = clock
        self._failpoints = failpoints
        self._recheck = recheck
        self._peer_inbox: collections.deque[PeerEvent] = collections.deque()
        self._admission = WalAdmission(replica.params.block_bytes_max)
        self._internal: collections.deque[Event] = collections.deque()
        self._wakeup = asyncio.Event()
        self._txs_dirty = False
        self._last_txs_available_s: float | None = None
        """Monotonic time of the last TxsAvailable (None: none yet)."""
        self._txs_gap_s = TXS_AVAILABLE_MIN_GAP_S
        """Least time before the next TxsAvailable: follows the last reap's CPU."""
        self._commit_listeners: list[CommitListener] = []
        self.stats = DriverStats()
        self._replaying = False
        self._behind_wal_logged = False
        self.watch = LoopWatch() if loop_watch is None else loop_watch
        self._io_in_thread = io_in_thread  # False: blocks, WAL syncs, sign state on the loop
        self._holding = False
        """True once start-up replay is done: from then on the writes go to the workers."""
        self._committer = BlockCommitter(chain, mempool, self.watch)
        self._persister = Persister(wal, sign_state_file, self.watch)
        self._held: Sequence[Effect] | None = None
        """Effects waiting for a worker: a block or a durable write first, then the rest."""
        self._committed: collections.deque[CommittedBlock] = collections.deque()
        """Committed blocks whose bookkeeping runs once the replica is at the next height."""
        self._post_commit_due = False

    # -- inputs --------------------------------------------------------------------------------

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._commit_listeners.append(listener)

    def deliver_from_peer(self, event: PeerEvent) -> bool:
        """Queue a peer's consensus message; False (and counted) if the inbox is full."""
        if len(self._peer_inbox) >= INBOX_MAX:
            self.stats.peer_events_dropped += 1
            return False
        self._peer_inbox.append(event)
        self._wakeup.set()
        return True

    def deliver_internal(self, event: Event) -> None:
        """Timers, block sync and commits: never dropped (their number is bounded by design)."""
        self._internal.append(event)
        self._wakeup.set()

    def notify_txs_changed(self) -> None:
        self._txs_dirty = True
        self._wakeup.set()

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        # Started first (the replica enters round 0 of its height), then the log gives back
        # every proposal, vote and timeout of this height, which brings back its round and its
        # lock; the sign-state guard refuses anything that would conflict meanwhile.
        self._process(Started(self.clock.now_ms()))
        self._replay_wal()
        self._holding = self._io_in_thread
        self.notify_txs_changed()
        try:
            while True:
                await self._step()
        finally:
            self._committer.close()
            self._persister.close()

    async def _step(self) -> None:
        """One turn of the loop: held effects, the bookkeeping of the last block, or an
        event; nothing else is handled while a block or a durable write is in a worker."""
        if self._held is not None:
            await self._resume_held()
        elif self._post_commit_due:
            self._post_commit_due = False
            await asyncio.sleep(0)  # our first message of the next height leaves first
            while self._committed:
                self._after_commit(self._committed.popleft())
        elif not self._handle_next():
            await self._wait_for_work()
        elif self.stats.events_handled % 64 == 0:
            await asyncio.sleep(0)  # let the RPC and P2P breathe under a flood

    def _handle_next(self) -> bool:
        """Handle the next waiting event (timers, sync and commits first); False if none."""
        if self._internal:
            event = self._internal.popleft()
            self._process(event)
            self._post_commit_due = isinstance(event, BlockExecuted) and bool(self._committed)
        elif self._peer_inbox:
            self._process_from_peer(self._peer_inbox.popleft())
        elif self._txs_dirty and self._is_txs_gap_over():
            self._process(self._make_txs_available())
        else:
            return False
        return True

    async def _wait_for_work(self) -> None:
        self._wakeup.clear()
        timeout = self._txs_gap_s if self._txs_dirty else None
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()

    def _is_txs_gap_over(self) -> bool:
        last = self._last_txs_available_s
        return last is None or self.clock.monotonic_s() - last >= self._txs_gap_s

    def _make_txs_available(self) -> TxsAvailable:
        self._txs_dirty = False
        self._last_txs_available_s = self.clock.monotonic_s()
        params, state, cpu_before = self.replica.params, self.chain.state, time.thread_time()
        txs = self.mempool.reap(
            params.block_txs_max,
            params.block_bytes_max - compute_block_margin_bytes(params.block_bytes_max),
            lambda sender: get_nonce(state, sender) + 1,
        )
        self._txs_gap_s = reap_gap_s(time.thread_time() - cpu_before)
        return TxsAvailable(tuple(txs), self.clock.now_ms())

    def _process_from_peer(self, event: PeerEvent) -> None:
        """A peer's message: logged and handled only if it passes admission."""
        record = encode_event(event)
        reason = self._admission.get_refusal(event, record, self.replica)
        if reason is not None:  # counted as handled and rejected, as the replica would
            kind = type(event).__name__
            self.stats.count_rejected(kind, reason)
            self.stats.events_handled += 1
            self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
            return
        height = self.replica.height
        self._admission.record_logged(record)
        if self._process(event, record):
            self._admission.record_accepted(event, record, height)

    def _process(self, event: Event, record: bytes | None = None) -> bool:
        """Log (if a logged kind), then handle ``event``; True if the replica accepted it."""
        if is_logged(event) and not self._replaying:
            if record is None:
                record = encode_event(event)  # type: ignore[arg-type]
            self.wal.append(record, sync=False)
            self.stats.wal_records += 1
        kind = type(event).__name__
        height, round_before = self.replica.height, self.replica.round
        accepted = True
        started = time.perf_counter()
        try:
            actions = self.replica.handle_strict(event)
        except RejectedInput as exc:  # the replica is unchanged; count why, for operators
            actions, accepted = [], False
            self.stats.count_rejected(kind, str(exc))
        self.watch.record(f"handle {kind}", time.perf_counter() - started)
        if self.replica.height == height and self.replica.round > round_before:
            self._log_round_change(height, round_before, kind)
        self.stats.events_handled += 1
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        self._execute(actions)
        return accepted

    # -- WAL replay ----------------------------------------------------------------------------

    def _log_round_change(self, height: int, round_before: int, cause: str) -> None:
        """Round 0 decides a healthy height; a later round means a timeout or a lost vote."""
        log.info(
            "consensus: height %d moved from round %d to round %d (on %s)",
            height,
            round_before,
            self.replica.round,
            cause,
            extra=fields("round_changed", height=height, round=self.replica.round),
        )

    def _replay_wal(self) -> None:
        """Feed the current height's logged inputs back, so the replica resumes its round with
        its locks and votes, and gets back the messages it signed (to send them again)."""
        replayed = own = 0
        self._replaying = True
        try:
            for event in decode_replayable(self.wal.replay()):
                own += is_own_message(event, self.replica.public_key)
                self._process(event)
                replayed += 1
        finally:
            self._replaying = False
        if replayed:
            log.info(
                "wal: replayed %d records (%d signed by us); resuming at height %d round %d",
                replayed,
                own,
                self.replica.height,
                self.replica.round,
                extra=fields("wal_replayed", height=self.replica.height, round=self.replica.round),
            )

    # -- actions -------------------------------------------------------------------------------

    def _execute(self, actions: list[Action]) -> None:
        # consensus.effects decides the order around a signature: log it, sync, persist, send.
        self._carry_out_effects(order_effects(actions))

    def _carry_out_effects(self, effects: Sequence[Effect]) -> None:
        for index, effect in enumerate(effects):
            if self._holding and (is_durable_step(effect) or isinstance(effect, CommitBlock)):
                # A worker writes it; the effects from here on wait for it (Driver._step).
                self._held = effects[index:]
                return
            if isinstance(effect, SyncWal):
                self._sync_wal(effect.signed)
            else:
                self._carry_out(effect)

    async def _resume_held(self) -> None:
        """The held block or durable write, in its worker; then the effects after it."""
        assert self._held is not None
        effects, self._held = self._held, None
        first = effects[0]
        if isinstance(first, CommitBlock):
            await self._commit_deferred(first)
            rest: Sequence[Effect] = effects[1:]
        else:
            write, rest = split_durable_run(effects)
            await self._persister.write_in_worker(write)
        self._carry_out_effects(rest)

    def _carry_out(self, action: Action) -> None:
        if isinstance(action, PersistSignState):
            with self.watch.stretch("sign state persist (fsync)"):
                self._persister.persist_sign_state(action.sign_state)
        elif isinstance(action, Broadcast):
            self._broadcast(action)
        elif isinstance(action, SendTo):
            payload = encode_gossip(ConsensusPayload(action.message))
            self.network.send(action.public_key, payload)
        elif isinstance(action, ScheduleTimeout):
            self._schedule_timeout(action)
        elif isinstance(action, CommitBlock):
            self._commit(action)
        elif isinstance(action, ReportEvidence):
            log.warning(
                "evidence of misbehaviour: validator %s at height %d",
                action.evidence.validator.hex()[:16],
                action.evidence.height,
                extra=fields(
                    "evidence", height=action.evidence.height, peer=action.evidence.validator
                ),
            )
            self.network.broadcast(encode_gossip(ConsensusPayload(action.evidence)))

    def _sync_wal(self, signed: Proposal | Vote | None) -> None:
        """Log our signed message (already in the log when replayed) and fsync the WAL, before
        the sign state that covers it is persisted (consensus.effects says why)."""
        with self.watch.stretch("wal fsync"):
            self._persister.sync_wal([] if signed is None or self._replaying else [signed])

    def _broadcast(self, action: Broadcast) -> None:
        message = action.message
        if isinstance(message, Vote):
            self._failpoints.crash_if_active(Failpoint.BEFORE_VOTE_SEND)
        self.network.broadcast(encode_gossip(ConsensusPayload(message)))

    def _schedule_timeout(self, action: ScheduleTimeout) -> None:
        event = TimeoutElapsed(action.height, action.round, action.timer)
        loop = asyncio.get_running_loop()
        loop.call_later(action.delay_ms / 1000, self._fire_timeout, event)

    def _fire_timeout(self, event: TimeoutElapsed) -> None:
        now = self.clock.now_ms()
        self.deliver_internal(TimeoutElapsed(event.height, event.round, event.timer, now))

    def _is_marker_due(self, height: int) -> bool:
        """True if the WAL needs its height marker for ``height`` (once per height). A store
        that lost its newest blocks (a damaged LevelDB log) is behind the WAL's last marker:
        those heights were committed before, the sign state already covers them, and they
        come back by block sync without a marker of their own."""
        last = self.wal.last_height
        if last is None or height > last:
            return True
        if height == self.chain.height and not self._behind_wal_logged:
            self._behind_wal_logged = True
            log.warning(
                "the block store is behind the WAL (height %d, WAL marked %d): it lost "
                "committed blocks; catching up from peers",
                height,
                last,
            )
        return False

    def _commit(self, action: CommitBlock) -> None:
        """A decided block, executed and stored on the loop (WAL replay, or no worker)."""
        started = self.clock.monotonic_s()
        committed = None
        if action.block.height > self.chain.height:  # else replayed from the WAL: stored
            committed = self._committer.commit_here(action.block, action.certificate)
        if self._is_marker_due(action.block.height):
            self.wal.mark_height(action.block.height)
        self._finish_commit(action, committed, started)

    async def _commit_deferred(self, action: CommitBlock) -> None:
        """A decided block, executed and stored by the commit worker, then its WAL marker
        written by the persist worker, while the loop serves RPC and P2P."""
        started = self.clock.monotonic_s()
        committed = None
        if action.block.height > self.chain.height:
            committed = await self._committer.commit_in_worker(action.block, action.certificate)
        if self._is_marker_due(action.block.height):
            await self._persister.mark_height_in_worker(action.block.height)
        self._finish_commit(action, committed, started)

    def _finish_commit(
        self, action: CommitBlock, committed: CommittedBlock | None, started: float
    ) -> None:
        """The block is durable and marked in the WAL: start the next height at once. The
        mempool update and the listeners wait until the replica has handled BlockExecuted, so
        our proposal or prevote of the next height does not wait for them."""
        block = action.block
        if committed is not None:
            self._count_commit(committed)
            self._committed.append(committed)
        next_set = self.chain.get_validators(block.height + 2)
        # First in line: synced blocks already queued need the replica at the next height.
        now = self.clock.now_ms()
        executed = BlockExecuted(
            Height(block.height),
            self.chain.state.app_hash,
            next_set,
            now,
            self.chain.txs_rule,
            results_hash=self.chain.last_results_hash,
        )
        self._internal.appendleft(executed)
        self._wakeup.set()
        self.notify_txs_changed()
        self.stats.last_commit_s = self.clock.monotonic_s() - started

    def _count_commit(self, committed: CommittedBlock) -> None:
        self.stats.blocks_committed += 1
        height, cert_round = committed.block.height, committed.certificate.round
        log.info(
            "committed block %d (round %d, %d txs, app hash %s)",
            height,
            cert_round,
            len(committed.tx_hashes),
            committed.app_hash.hex()[:16],
            extra=fields("block_committed", height=height, round=cert_round),
        )

    def _after_commit(self, committed: CommittedBlock) -> None:
        """Forget the block's txs in the mempool (and recheck the rest), announce the height,
        tell the listeners (RPC subscribers, the mempool journal)."""
        with self.watch.stretch("post-commit: mempool update + recheck"):
            self.mempool.update_after_block(committed.tx_hashes, self._recheck)  # type: ignore[arg-type]
        self.network.broadcast(encode_gossip(StatusPayload(committed.block.height)))
        with self.watch.stretch("post-commit: listeners"):
            for listener in self._commit_listeners:
                try:
                    listener(committed)
                except Exception:  # a listener's bug must not stop consensus
                    log.exception(
                        "commit listener failed",
                        extra=fields("error", height=committed.block.height),
                    )
