"""``DEPOCHAIN_MEMTRACE=FILE``: where a running node's memory goes, for developers.

Starts ``tracemalloc`` and a daemon thread that, every ``DEPOCHAIN_MEMTRACE_EVERY_S`` seconds
(default 60), appends to FILE (``{moniker}`` is replaced by the node's) the process's resident
memory, the bytes Python holds live, and the allocation sites (file:line) that grew most since
the first sample, and glibc's totals (in use, free but kept, mmapped) beside Python's small
objects. A soak's memory growth is then attributed to lines of code rather than guessed.
tracemalloc slows the node down by about half: never set on a node that matters
(``DEPOCHAIN_MEMTRACE_TOTALS=1`` skips the tracing and writes the totals only).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

EVERY_S_DEFAULT = 60.0
TOP_SITES = 25
FRAMES = 1


def read_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def describe_malloc() -> str:
    """glibc's view (all its arenas): bytes in use, bytes free but kept, bytes in mmapped
    chunks; plus the small objects Python's own allocator holds. Empty where unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return ""
    mib = 2**20
    return (
        f" malloc_in_use={info.uordblks / mib:.1f}MiB malloc_free_kept={info.fordblks / mib:.1f}"
        f"MiB malloc_mmapped={info.hblkhd / mib:.1f}MiB py_small_blocks={sys.getallocatedblocks()}"
    )


def describe(snapshot: tracemalloc.Snapshot | None, first: tracemalloc.Snapshot | None,
             began: float) -> str:  # fmt: skip
    """One sample: totals, then (when tracing) the sites that grew most since ``first``."""
    current, _ = tracemalloc.get_traced_memory()
    overhead = tracemalloc.get_tracemalloc_memory()
    lines = [
        f"== t={time.monotonic() - began:.0f}s rss={read_rss_kib() / 1024:.1f}MiB "
        f"traced={current / 2**20:.1f}MiB tracing_overhead={overhead / 2**20:.1f}MiB"
        + describe_malloc()
    ]
    if snapshot is None or first is None:
        return lines[0] + "\n"
    for stat in snapshot.compare_to(first, "lineno")[:TOP_SITES]:
        lines.append(
            f"  {stat.size_diff / 2**20:+8.2f} MiB  now {stat.size / 2**20:7.2f} MiB "
            f"{stat.count:>9} blocks  {stat.traceback[0]}"
        )
    return "\n".join(lines) + "\n"


def start_if_asked(moniker: str) -> None:
    """Start tracing and the sampling thread when DEPOCHAIN_MEMTRACE is set; else nothing."""
    target = os.environ.get("DEPOCHAIN_MEMTRACE", "").replace("{moniker}", moniker)
    if not target:
        return
    every_s = float(os.environ.get("DEPOCHAIN_MEMTRACE_EVERY_S", EVERY_S_DEFAULT))
    # DEPOCHAIN_MEMTRACE_TOTALS=1: totals only, no tracing (the node runs at full speed)
    tracing = os.environ.get("DEPOCHAIN_MEMTRACE_TOTALS") != "1"
    if tracing:
        tracemalloc.start(FRAMES)
    began = time.monotonic()
    first = tracemalloc.take_snapshot() if tracing else None

    def sample_forever() -> None:
        while True:
            time.sleep(every_s)
            snapshot = tracemalloc.take_snapshot() if tracing else None
            text = describe(snapshot, first, began)
            with open(target, "a") as handle:
                handle.write(text)

    threading.Thread(target=sample_forever, name="memtrace", daemon=True).start()
