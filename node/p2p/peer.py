"""One authenticated connection: a bounded send queue, a reader loop and a writer loop.

Send-queue policy (the caller is never blocked and memory never grows without bound): the queue
holds at most ``queue_messages_max`` payloads and ``queue_bytes_max`` bytes; when a new payload
does not fit, the *oldest* queued payloads are dropped and counted in ``messages_dropped``.
Consensus gossip is superseded by newer messages (later rounds, heights, votes), and the driver
re-gossips what a peer still needs, so the freshest messages are the ones worth keeping. A peer
whose socket does not drain within ``write_timeout_s`` is disconnected (and later redialled).

Received payloads are handed to ``on_message`` one at a time, in order; a slow handler slows
this peer's reads (TCP backpressure), not other peers'. An exception from the handler is our own
bug: it is logged and counted, and the connection stays up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from consensus.types import PublicKey
from node.p2p.errors import FrameError, PeerError
from node.p2p.frames import (
    FRAME_OVERHEAD_BYTES,
    FrameKind,
    read_frame,
    write_frame,
    write_frames,
)
from node.p2p.handshake import SecureSession

log = logging.getLogger("depochain.p2p")

OnMessage = Callable[[bytes, bytes], Awaitable[None]]

WRITE_BATCH_BYTES = 256 * 1024
"""Small payloads queued together go out in one write (one syscall, one drain)."""


@dataclass(frozen=True, slots=True)
class PeerStats:
    """A snapshot of one connection's counters."""

    public_key: PublicKey
    is_outbound: bool
    """True if we dialled this connection."""
    messages_sent: int
    messages_received: int
    bytes_sent: int
    """Bytes written to the socket, frame headers and tags included."""
    bytes_received: int
    messages_dropped: int
    """Payloads dropped from a full send queue (oldest first)."""
    handler_errors: int
    queued_messages: int
    queued_bytes: int


@dataclass(frozen=True, slots=True)
class ConnectionTimeouts:
    write_timeout_s: float
    read_idle_timeout_s: float
    keepalive_interval_s: float
    close_timeout_s: float


class PeerConnection:
    """Owns one socket after its handshake; :meth:`run` serves it until it fails or is closed."""

    def __init__(
        self,
        session: SecureSession,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        is_outbound: bool,
        on_message: OnMessage,
        queue_messages_max: int,
        queue_bytes_max: int,
        timeouts: ConnectionTimeouts,
    ) -> None:
        self.session = session
        self.is_outbound = is_outbound
        self._reader = reader
        self._writer = writer
        self._on_message = on_message
        self._queue: collections.deque[bytes] = collections.deque()
        self._queue_messages_max = queue_messages_max
        self._queue_bytes_max = queue_bytes_max
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._timeouts = timeouts
        self._tasks: list[asyncio.Task[None]] = []
        self._close_reason: str | None = None
        self._counts = collections.Counter[str]()

    @property
    def peer_key(self) -> PublicKey:
        return self.session.peer_key

    def enqueue(self, payload: bytes) -> None:
        """Queue ``payload`` for sending, dropping the oldest queued payloads if it does not fit."""
        while self._queue and (
            len(self._queue) >= self._queue_messages_max
            or self._queued_bytes + len(payload) > self._queue_bytes_max
        ):
            self._queued_bytes -= len(self._queue.popleft())
            self._counts["messages_dropped"] += 1
        self._queue.append(payload)
        self._queued_bytes += len(payload)
        self._wakeup.set()

    def close(self, reason: str) -> None:
        """Ask :meth:`run` to stop; it closes the socket and returns ``reason``."""
        if self._close_reason is None:
            self._close_reason = reason
        for task in self._tasks:
            task.cancel()

    def get_stats(self) -> PeerStats:
        return PeerStats(
            public_key=self.peer_key,
            is_outbound=self.is_outbound,
            messages_sent=self._counts["messages_sent"],
            messages_received=self._counts["messages_received"],
            bytes_sent=self._counts["bytes_sent"],
            bytes_received=self._counts["bytes_received"],
            messages_dropped=self._counts["messages_dropped"],
            handler_errors=self._counts["handler_errors"],
            queued_messages=len(self._queue),
            queued_bytes=self._queued_bytes,
        )

    async def run(self) -> str:
        """Serve the connection until a loop fails or :meth:`close`; returns the reason."""
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="p2p-read"),
            asyncio.create_task(self._write_loop(), name="p2p-write"),
        ]
        if self._close_reason is not None:  # closed before it started
            self.close(self._close_reason)
        try:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            reason = self._close_reason or self._get_failure_reason(done)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await close_writer(self._writer, self._timeouts.close_timeout_s)
        return reason

    @staticmethod
    def _get_failure_reason(done: set[asyncio.Task[None]]) -> str:
        for task in done:
            if task.cancelled():
                continue
            exc = task.exception()
            if isinstance(exc, PeerError):
                return exc.reason
            if exc is not None:
                raise exc  # a bug in our own code: let it surface
        return "closed"

    async def _read_loop(self) -> None:
        opener = self.session.opener
        while True:
            kind, body = await read_frame(self._reader, opener, self._timeouts.read_idle_timeout_s)
            self._counts["bytes_received"] += FRAME_OVERHEAD_BYTES + len(body)
            if kind is FrameKind.KEEPALIVE:
                continue
            if kind is not FrameKind.MESSAGE:
                raise FrameError("unexpected_frame_kind", kind.name)
            self._counts["messages_received"] += 1
            await self._deliver(body)

    async def _deliver(self, payload: bytes) -> None:
        try:
            await self._on_message(self.peer_key, payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._counts["handler_errors"] += 1
            log.exception("p2p: on_message failed for a payload from %s", self.peer_key.hex()[:16])

    async def _write_loop(self) -> None:
        sealer, timeout_s = self.session.sealer, self._timeouts.write_timeout_s
        while True:
            if not self._queue:
                self._wakeup.clear()
                try:
                    async with asyncio.timeout(self._timeouts.keepalive_interval_s):
                        await self._wakeup.wait()
                except TimeoutError:
                    sent = await write_frame(
                        self._writer, sealer, FrameKind.KEEPALIVE, b"", timeout_s
                    )
                    self._counts["bytes_sent"] += sent
                continue
            batch = self._pop_batch()
            sent = await write_frames(self._writer, sealer, FrameKind.MESSAGE, batch, timeout_s)
            self._counts["bytes_sent"] += sent
            self._counts["messages_sent"] += len(batch)

    def _pop_batch(self) -> list[bytes]:
        """Take queued payloads for one write: at least one, then up to ``WRITE_BATCH_BYTES``."""
        batch = [self._queue.popleft()]
        size = len(batch[0])
        while self._queue and size + len(self._queue[0]) <= WRITE_BATCH_BYTES:
            batch.append(self._queue.popleft())
            size += len(batch[-1])
        self._queued_bytes -= size
        return batch


def set_unacked_timeout(writer: asyncio.StreamWriter, timeout_ms: int) -> None:
    """Have the kernel close the socket once sent data stays unacknowledged ``timeout_ms``
    (``TCP_USER_TIMEOUT``; where the platform lacks it, the read idle timeout remains)."""
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if sock is None or option is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, option, timeout_ms)


async def close_writer(writer: asyncio.StreamWriter, timeout_s: float) -> None:
    """Close a socket, waiting at most ``timeout_s`` for the close to complete.

    (This package uses ``asyncio.timeout``, never ``asyncio.wait_for``: on Python 3.11 the latter
    can swallow a cancellation that races with completion, and ``stop()`` would then hang.)
    """
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(timeout_s):
            await writer.wait_closed()
