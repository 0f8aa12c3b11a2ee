"""Heavy RPC reads run off the consensus event loop, each request within a cost budget.

The event loop that serves RPC also runs the driver and P2P: a handler that decodes blocks on it
stalls consensus for as long as it runs. So every read that decodes blocks or scans many records
runs in :class:`ReadPool`, a small bounded thread pool:

- LevelDB reads release the GIL (plyvel), and committed data is never rewritten, so a thread
  reading a height at or below the tip needs no snapshot to see a consistent block;
- msgpack decoding and JSON encoding hold the GIL for one C call each, so the work is cut into
  small pieces (one block, one answer) and every request carries a :class:`RequestBudget`:
  blocks decoded, transactions examined and response bytes, shared by a batch's calls. A request
  over budget gets a typed error (:class:`LimitExceeded`, :class:`ResponseTooLarge`) instead of
  more work; a full pool queue is :class:`ReadsBusy` ("try later").

Each request decodes a block (and its results) at most once: the budget keeps what it decoded.
A separate process was the other choice; it would have to receive every block's bytes over a
pipe (LevelDB admits one process) and the GIL is held only in short pieces here, so threads win.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web

from consensus.blocks import Block
from consensus.ledger import Receipt, decode_receipts
from node.errors import NodeError
from node.storage import Store

T = TypeVar("T")


class LimitExceeded(NodeError):
    """The request needs more work than its budget allows (the client's to narrow it)."""


class ResponseTooLarge(NodeError):
    """The answer would exceed the response byte cap."""


class ReadsBusy(NodeError):
    """Too many heavy reads are already waiting for a thread; the client should retry later."""


@dataclass(frozen=True, slots=True)
class CostLimits:
    """What one request (a whole batch together) may cost the node."""

    blocks_max: int = 1000
    """Blocks or block results decoded."""
    rows_max: int = 20_000
    """Transactions examined (a search's candidates) or answered."""
    response_bytes_max: int = 16 * 1024 * 1024
    """Bytes of the encoded response."""


@dataclass
class RequestBudget:
    """One request's spending against its :class:`CostLimits`, and what it decoded."""

    limits: CostLimits = field(default_factory=CostLimits)
    blocks: int = 0
    rows: int = 0
    response_bytes: int = 0
    _is_response_full: bool = False
    _blocks: dict[int, Block | None] = field(default_factory=dict)
    _receipts: dict[int, tuple[Receipt, ...] | None] = field(default_factory=dict)

    def charge_blocks(self, count: int = 1) -> None:
        self.blocks += count
        if self.blocks > self.limits.blocks_max:
            raise LimitExceeded(
                f"request decodes more than {self.limits.blocks_max} blocks; "
                "ask for fewer heights or split the batch"
            )

    def charge_rows(self, count: int = 1) -> None:
        self.rows += count
        if self.rows > self.limits.rows_max:
            raise LimitExceeded(
                f"request examines more than {self.limits.rows_max} transactions; "
                "narrow the query or split the batch"
            )

    def charge_response(self, size: int) -> None:
        """Count ``size`` answer bytes; raise (and count nothing) if they do not fit: from then
        on the response counts as full, so a batch runs none of its later calls."""
        if self.response_bytes + size > self.limits.response_bytes_max:
            self._is_response_full = True
            raise ResponseTooLarge(
                f"response exceeds {self.limits.response_bytes_max} bytes; "
                "ask for less or split the batch"
            )
        self.response_bytes += size

    def is_response_full(self) -> bool:
        return self._is_response_full or self.response_bytes >= self.limits.response_bytes_max

    def get_block(self, store: Store, height: int) -> Block | None:
        """The block at ``height``, decoded at most once per request."""
        if height not in self._blocks:
            raw = store.get_block(height)
            if raw is not None:
                self.charge_blocks()
            self._blocks[height] = None if raw is None else Block.decode(raw)
        return self._blocks[height]

    def get_receipts(self, store: Store, height: int) -> tuple[Receipt, ...] | None:
        """The receipts of block ``height``, decoded at most once per request."""
        if height not in self._receipts:
            raw = store.get_results(height)
            if raw is not None:
                self.charge_blocks()
            self._receipts[height] = None if raw is None else decode_receipts(raw)
        return self._receipts[height]


_BUDGET: contextvars.ContextVar[RequestBudget | None] = contextvars.ContextVar(
    "rpc_request_budget", default=None
)


def get_budget() -> RequestBudget:
    """The running request's budget; a fresh default one outside any request (tools, tests)."""
    budget = _BUDGET.get()
    return budget if budget is not None else RequestBudget()


def has_budget() -> bool:
    return _BUDGET.get() is not None


@contextlib.contextmanager
def budget_scope(budget: RequestBudget) -> Iterator[RequestBudget]:
    """Make ``budget`` the running request's budget inside the ``with`` block."""
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


_CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("rpc_client", default="")


@contextlib.contextmanager
def client_scope(client: str) -> Iterator[None]:
    """Make ``client`` (the remote address) the running request's client inside the block."""
    token = _CLIENT.set(client)
    try:
        yield
    finally:
        _CLIENT.reset(token)


@dataclass(eq=False)
class _Job:
    call: Callable[[], object]
    future: asyncio.Future[object]
    client: str


class ReadPool:
    """A bounded pool of threads for heavy reads, with a bounded, fair queue in front of it.

    Waiting reads are queued per client (remote address); a free thread takes the next read of
    the waiting client with the fewest reads running, among equals the one served longest ago:
    a client that floods the pool waits behind its own reads, not in front of everyone else's.
    Each client may have ``client_queued_max`` reads pending, all together ``queued_max``.

    With ``cpu_share`` below 1, a thread rests after each read for as long as keeps it busy at
    most that share of the time (a read that took 40 ms at a share of 0.5 is followed by 40 ms
    of rest), leaving the rest of the CPU to consensus; a lone read still runs at full speed."""

    def __init__(
        self,
        threads: int = 1,
        queued_max: int = 64,
        client_queued_max: int | None = None,
        cpu_share: float = 1.0,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threads = threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="rpc-read")
        self._queued_max = queued_max
        self._client_max = (
            max(1, queued_max // 4) if client_queued_max is None else client_queued_max
        )
        self._cpu_share = cpu_share
        self._now = monotonic_s
        self._queues: dict[str, collections.deque[_Job]] = {}
        """Waiting jobs by client; the dict's order is the round-robin order."""
        self._by_client: collections.Counter[str] = collections.Counter()
        """Reads pending (waiting or running) by client."""
        self._running: collections.Counter[str] = collections.Counter()
        self._served_at: dict[str, int] = {}
        """When each client with reads pending last had one started (a dispatch count)."""
        self._dispatched = 0
        self._pending = 0
        self._busy = 0
        """Threads running a job or resting after one."""

    async def run(self, fn: Callable[..., T], *args: object, admit: bool = True) -> T:
        """``fn(*args)`` in a pool thread, in the caller's context (so it sees the budget).
        ``admit=False`` skips the queue bounds: for the last step of work already admitted.

        A read counts as pending until its thread is done with it, not until its caller stops
        waiting: a client that hangs up does not free a slot while the work still runs (a read
        not started yet is dropped)."""
        client = _CLIENT.get()
        if admit and self._pending >= self._queued_max:
            raise ReadsBusy(f"more than {self._queued_max} heavy reads are waiting; try later")
        if admit and self._by_client[client] >= self._client_max:
            raise ReadsBusy(f"this client has {self._client_max} heavy reads waiting; try later")
        context = contextvars.copy_context()
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        job = _Job(functools.partial(context.run, fn, *args), future, client)
        self._pending += 1
        self._by_client[client] += 1
        self._queues.setdefault(client, collections.deque()).append(job)
        self._dispatch()
        return await future  # type: ignore[return-value]

    def _dispatch(self) -> None:
        while self._busy < self._threads and self._queues:
            client = min(self._queues, key=self._get_turn)
            queue = self._queues.pop(client)
            job = queue.popleft()
            if queue:
                self._queues[client] = queue  # to the back of the round
            if job.future.done():  # its caller went away before it started
                self._release(job)
                continue
            self._busy += 1
            self._running[client] += 1
            self._dispatched += 1
            self._served_at[client] = self._dispatched
            self._start(job)

    def _get_turn(self, client: str) -> tuple[int, int]:
        """Who goes first: fewest reads running, then the one served longest ago."""
        return self._running[client], self._served_at.get(client, -1)

    def _start(self, job: _Job) -> None:
        loop, started = job.future.get_loop(), self._now()
        work = self._executor.submit(job.call)
        work.add_done_callback(lambda done: _call_soon(loop, self._finish, job, done, started))

    def _finish(self, job: _Job, work: concurrent.futures.Future[object], started: float) -> None:
        self._release(job)
        self._running[job.client] -= 1
        if self._running[job.client] <= 0:
            del self._running[job.client]
        if work.cancelled():  # the pool closed before the thread took it
            job.future.cancel()
        elif not job.future.done():
            error = work.exception()
            if error is None:
                job.future.set_result(work.result())
            else:
                job.future.set_exception(error)
        rest_s = (self._now() - started) * (1 / self._cpu_share - 1)
        if rest_s > 0:
            job.future.get_loop().call_later(rest_s, self._free_thread)
        else:
            self._free_thread()

    def _free_thread(self) -> None:
        self._busy -= 1
        self._dispatch()

    def _release(self, job: _Job) -> None:
        self._pending -= 1
        self._by_client[job.client] -= 1
        if self._by_client[job.client] <= 0:
            del self._by_client[job.client]
            self._served_at.pop(job.client, None)

    @property
    def pending(self) -> int:
        return self._pending

    def close(self) -> None:
        """Stop taking work; threads finish what they run (each bounded by its budget)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _call_soon(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: object
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed: nobody counts any more
        loop.call_soon_threadsafe(callback, *args)


READS_KEY: web.AppKey[ReadPool] = web.AppKey("rpc_read_pool", ReadPool)
