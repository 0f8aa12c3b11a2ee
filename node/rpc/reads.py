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
import contextlib
import contextvars
import functools
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


class ReadPool:
    """A bounded pool of threads for heavy reads, with a bounded queue in front of it."""

    def __init__(self, threads: int = 2, queued_max: int = 64) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="rpc-read")
        self._queued_max = queued_max
        self._pending = 0

    async def run(self, fn: Callable[..., T], *args: object, admit: bool = True) -> T:
        """``fn(*args)`` in a pool thread, in the caller's context (so it sees the budget).
        ``admit=False`` skips the queue bound: for the last step of work already admitted.

        A read counts as pending until its thread is done with it, not until its caller stops
        waiting: a client that hangs up does not free a slot while the work still runs."""
        if admit and self._pending >= self._queued_max:
            raise ReadsBusy(f"more than {self._queued_max} heavy reads are waiting; try later")
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        job = self._executor.submit(functools.partial(context.run, fn, *args))
        self._pending += 1
        job.add_done_callback(lambda _: _call_soon(loop, self._release))
        return await asyncio.wrap_future(job)

    def _release(self) -> None:
        self._pending -= 1

    @property
    def pending(self) -> int:
        return self._pending

    def close(self) -> None:
        """Stop taking work; threads finish what they run (each bounded by its budget)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed: nobody counts any more
        loop.call_soon_threadsafe(callback)


READS_KEY: web.AppKey[ReadPool] = web.AppKey("rpc_read_pool", ReadPool)
