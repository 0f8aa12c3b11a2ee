"""``DEPOCHAIN_MEMTRACE=FILE``: where a running node's memory goes, for developers.

Starts ``tracemalloc`` and a daemon thread that, every ``DEPOCHAIN_MEMTRACE_EVERY_S`` seconds
(default 60), appends to FILE (``{moniker}`` is replaced by the node's) the process's resident
memory, the bytes Python holds live, and the allocation sites (file:line) that grew most since
the first sample. A soak's memory growth is then attributed to lines of code rather than
guessed. tracemalloc slows the node down by about half: never set on a node that matters.
"""

from __future__ import annotations

import os
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


def describe(snapshot: tracemalloc.Snapshot, first: tracemalloc.Snapshot, began: float) -> str:
    """One sample: totals, then the sites that grew most since ``first``."""
    current, _ = tracemalloc.get_traced_memory()
    lines = [
        f"== t={time.monotonic() - began:.0f}s rss={read_rss_kib() / 1024:.1f}MiB "
        f"traced={current / 2**20:.1f}MiB"
    ]
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
    tracemalloc.start(FRAMES)
    began = time.monotonic()
    first = tracemalloc.take_snapshot()

    def sample_forever() -> None:
        while True:
            time.sleep(every_s)
            text = describe(tracemalloc.take_snapshot(), first, began)
            with open(target, "a") as handle:
                handle.write(text)

    threading.Thread(target=sample_forever, name="memtrace", daemon=True).start()
