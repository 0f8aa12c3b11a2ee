"""The consensus driver's own durable writes, carried out off the event loop.

Around every signature the driver must make the WAL durable (with the signed message in it) and
then the sign state (temp file, fsync, rename, folder fsync), and after every block it writes the
WAL's height marker (a new segment, two fsyncs). Each fsync takes milliseconds to tens of
milliseconds on a busy disk; on the event loop, that is time ``/health``, the RPC and P2P cannot
answer. :class:`Persister` runs these writes in ONE worker thread, so they happen one at a time
and in order, while the driver *holds*: it awaits the write before it carries out any effect
after it or hands the replica anything else, exactly as it does for a block being stored
(:mod:`node.committer`). The driver's decisions stay on the loop; only the blocking I/O moves.

Batching: a run of effects from one ``replica.handle`` result is written in one go, from its first
``SyncWal`` to its last ``PersistSignState``, when nothing but sends and timers lie between them
(the proposer's proposal and its own prevote, for instance). Then the signed messages are all
appended, the WAL is fsynced once, and only the last sign state, which covers every signature of
the run (it is the highest), is persisted. The sends and timers in the run are carried out after
the write, in their order. What this keeps, for every signature: its message is in the fsynced
WAL before a sign state covering it is written, and that sign state is durable before the
message is sent. Sends only move later, never earlier; a crash before the write is done has sent
nothing of the run.

Thread safety: the WAL and the sign-state file are touched by the worker only while the driver
awaits it, and by the driver only while no write is in flight (one owner at a time; the await is
the hand-over).

Never: send, or schedule anything that sends, before the write it follows has returned; persist a
sign state whose messages are not yet in the fsynced WAL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from consensus.actions import Broadcast, PersistSignState, ReportEvidence, ScheduleTimeout, SendTo
from consensus.effects import Effect, SyncWal
from consensus.messages import Vote
from consensus.proposal import Proposal
from consensus.safety import SignState
from node.loop_watch import LoopWatch
from node.signer import SignStateFile
from node.wal import WriteAheadLog
from node.wal_events import encode_own_message

log = logging.getLogger("depochain.persister")

WORKER_STAGE = "wal sync + sign state persist (worker)"
MARKER_STAGE = "wal height marker (worker)"
_MOVABLE = (Broadcast, SendTo, ScheduleTimeout, ReportEvidence)
"""Effects a batched write may pass over: they are carried out after it, in their order."""


@dataclass(frozen=True, slots=True)
class DurableWrite:
    """One batched write: the signed messages to log, then one WAL fsync, then the sign state."""

    signed: tuple[Proposal | Vote, ...]
    """Our messages to append to the WAL first (absent when replaying: already logged)."""
    sign_state: SignState | None
    """The last sign state of the run (None: the run only syncs the WAL)."""


def is_durable_step(effect: Effect) -> bool:
    return isinstance(effect, SyncWal | PersistSignState)


def split_durable_run(effects: Sequence[Effect]) -> tuple[DurableWrite, list[Effect]]:
    """``effects`` starts with a durable step: the write of its run, and the effects that remain
    (the sends and timers the run passed over, then everything after it), in order."""
    assert effects and is_durable_step(effects[0])
    end = 1
    for index in range(1, len(effects)):
        effect = effects[index]
        if is_durable_step(effect):
            end = index + 1
        elif not isinstance(effect, _MOVABLE):
            break  # a commit: the run stops before it
    signed: list[Proposal | Vote] = []
    sign_state, passed = None, []
    for effect in effects[:end]:
        if isinstance(effect, SyncWal):
            if effect.signed is not None:
                signed.append(effect.signed)
        elif isinstance(effect, PersistSignState):
            sign_state = effect.sign_state
        else:
            passed.append(effect)
    return DurableWrite(tuple(signed), sign_state), [*passed, *effects[end:]]


class Persister:
    """The driver's WAL syncs, sign-state persists and height markers, in a worker thread or
    (start-up replay, tools) on the caller's thread."""

    def __init__(
        self, wal: WriteAheadLog, sign_state_file: SignStateFile | None, watch: LoopWatch
    ) -> None:
        self.wal = wal
        self.sign_state_file = sign_state_file
        self.watch = watch
        self._worker: ThreadPoolExecutor | None = None

    # -- the steps, on whichever thread runs them ---------------------------------------------

    def sync_wal(self, signed: Sequence[Proposal | Vote]) -> None:
        """Append our signed messages (if any) and fsync the WAL, inputs logged so far included."""
        for message in signed:
            self.wal.append(encode_own_message(message), sync=False)
        self.wal.flush_sync()

    def persist_sign_state(self, state: SignState) -> None:
        if self.sign_state_file is not None:
            self.sign_state_file.persist(state)

    def write(self, write: DurableWrite) -> None:
        """One batched write, in its order: log, fsync, then the sign state."""
        self.sync_wal(write.signed)
        if write.sign_state is not None:
            self.persist_sign_state(write.sign_state)

    # -- off the loop -------------------------------------------------------------------------

    async def write_in_worker(self, write: DurableWrite) -> None:
        """Carry out ``write`` in the worker; returns once it is durable (raises if it failed:
        the driver stops, nothing it held is sent)."""
        await self._in_worker(WORKER_STAGE, self.write, write)

    async def mark_height_in_worker(self, height: int) -> None:
        await self._in_worker(MARKER_STAGE, self.wal.mark_height, height)

    async def _in_worker(self, stage: str, job: Callable[..., None], *args: object) -> None:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="persist")
        started = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self._worker, job, *args)
        self.watch.record(stage, time.perf_counter() - started)

    def close(self) -> None:
        """Wait for a write in flight (a cancelled driver must not close the WAL under it)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
