"""Free space on the data folder's filesystem, and what a full disk means for a node.

A node that runs out of disk must neither crash with a traceback nor leave anything half
written. Two lines of defence:

1. :class:`DiskSpaceGuard` watches free space. Below ``[storage].free_bytes_min`` the node
   refuses new transactions with a typed "try later" (:class:`DiskSpaceLow`), so clients back
   off before a write can fail; blocks from the network are still stored while space lasts.
2. When a write fails anyway (another process filled the disk), the error reaches
   :func:`node.start.run_node`, which recognises it with :func:`is_disk_full`, logs one line and
   exits with :data:`EXIT_DISK_FULL`. Every durable write is already atomic (LevelDB batches,
   WAL records with checksums and torn-tail recovery, temp-file-and-rename for the sign
   state), so stopping at the failed write leaves nothing half written.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from node.errors import NodeError

EXIT_DISK_FULL = 74
"""Exit status of a node stopped by a full disk (``EX_IOERR`` of sysexits.h): distinct from 1
(any other refused start) so a supervisor or an operator's script can tell it apart."""

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DISK_FULL_TEXT = os.strerror(errno.ENOSPC)  # LevelDB reports "IO error: ...: No space left..."

REFRESH_INTERVAL_S = 1.0
"""How stale the free-space reading may get: one statvfs a second at most, whatever the load."""


class StorageUnavailable(NodeError):
    """The node cannot make a new transaction durable now; the client should try later."""


class DiskSpaceLow(StorageUnavailable):
    """Free space is below the configured floor: the node takes no new transactions now."""

    def __init__(self, free_bytes: int, floor_bytes: int) -> None:
        super().__init__(
            f"disk space low: {free_bytes // (1024 * 1024)} MiB free, below "
            f"[storage].free_bytes_min ({floor_bytes // (1024 * 1024)} MiB); try later"
        )
        self.free_bytes = free_bytes
        self.floor_bytes = floor_bytes


def get_free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path``."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


class DiskSpaceGuard:
    """Answers "is there room for more?" from a reading at most a second old."""

    def __init__(
        self,
        path: Path,
        floor_bytes: int,
        *,
        read_free: Callable[[Path], int] = get_free_bytes,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.floor_bytes = floor_bytes
        self._read_free = read_free
        self._monotonic = monotonic
        self._read_at = -REFRESH_INTERVAL_S
        self._free = 0
        self.refused_total = 0

    @property
    def free_bytes(self) -> int:
        self._refresh()
        return self._free

    def is_low(self) -> bool:
        return self.floor_bytes > 0 and self.free_bytes < self.floor_bytes

    def check_admission(self) -> None:
        """Raise :class:`DiskSpaceLow` when a new transaction should be refused."""
        if self.is_low():
            self.refused_total += 1
            raise DiskSpaceLow(self._free, self.floor_bytes)

    def _refresh(self) -> None:
        now = self._monotonic()
        if now - self._read_at < REFRESH_INTERVAL_S:
            return
        try:
            self._free = self._read_free(self.path)
        except OSError:
            self._free = 0  # the folder is gone or unreadable: nothing can be written there
        self._read_at = now


def is_disk_full(error: BaseException) -> bool:
    """True when ``error``, or any error inside it (groups, causes), is a full disk."""
    return any(_says_disk_full(each) for each in _walk(error))


def _says_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return True
    return _DISK_FULL_TEXT in str(error)


def _walk(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)


def describe_disk_full(error: BaseException) -> str:
    """The failed operation's own words (the outermost disk-full error: it names what was
    being written), for the one log line."""
    found = [each for each in _walk(error) if _says_disk_full(each)]
    first = found[0] if found else error
    where = _innermost_node_frame(first)
    return f"{first}, in {where}" if where else str(first)


def _innermost_node_frame(error: BaseException) -> str | None:
    """``module.function`` of the three deepest frames of ours the error passed through (the
    write and its caller): tells the operator which write failed (WAL, block, sign state...)."""
    frames: list[str] = []
    trace = error.__traceback__
    while trace is not None:
        module = str(trace.tb_frame.f_globals.get("__name__", ""))
        if module.startswith("node."):
            frames.append(f"{module}.{trace.tb_frame.f_code.co_name}")
        trace = trace.tb_next
    return " < ".join(reversed(frames[-3:])) or None
