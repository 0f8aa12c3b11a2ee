"""The nemesis's faults. Each one injects its fault into a live cluster under load, holds it for
the phase's duration, heals it and returns when the heal happened (recovery is timed from
there), or the reason it cannot run here (the fault is then reported as skipped).

Mechanisms are real: signals to the node process; links and blackhole routes between network
namespaces; the node's injected clock (``DEPOCHAIN_CLOCK_SKEW_MS``, read at start); a tmpfs
filled to the last byte; bytes cut off the end of the WAL and of LevelDB's log on a stopped node.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from node.clock import CLOCK_SKEW_ENV
from node.disk_space import EXIT_DISK_FULL
from node.nemesis import disk
from node.nemesis.cluster import NemesisCluster

SKEW_MS = 60_000
RESTART_CYCLES = 5
TORN_BYTES = 7
DISK_FULL_LINE = "stopping: the disk is full"
EXIT_WAIT_S = 120.0


@dataclass
class FaultOutcome:
    healed_at: float | None = None
    """time.monotonic() of the heal; None when skipped."""
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """What the fault itself found wrong (e.g. a full disk that did not stop the node)."""


class Context(Protocol):
    cluster: NemesisCluster
    duration_s: float
    disk_path: Path | None
    disk_reason: str | None

    def hold(self, seconds: float) -> None:
        """Let the load run for ``seconds`` (sampling the chain meanwhile)."""
        ...


Fault = Callable[[Context, int], FaultOutcome]


def restart(ctx: Context, victim: int, env: dict[str, str] | None = None) -> None:
    ctx.cluster.stop(victim)
    ctx.cluster.start(victim, env)
    ctx.cluster.wait_healthy(victim)


def kill(ctx: Context, victim: int) -> FaultOutcome:
    ctx.cluster.stop(victim, signal.SIGKILL)
    ctx.hold(ctx.duration_s)
    ctx.cluster.start(victim)
    return FaultOutcome(time.monotonic(), notes=[f"kill -9 node {victim}, restarted"])


def pause(ctx: Context, victim: int) -> FaultOutcome:
    ctx.cluster.send(victim, signal.SIGSTOP)
    ctx.hold(ctx.duration_s)
    ctx.cluster.send(victim, signal.SIGCONT)
    return FaultOutcome(time.monotonic(), notes=[f"SIGSTOP node {victim}, then SIGCONT"])


def isolate(ctx: Context, victim: int) -> FaultOutcome:
    lab = ctx.cluster.lab
    if lab is None:
        return FaultOutcome(skipped=ctx.cluster.netns_reason)
    lab.isolate(victim)
    try:
        ctx.hold(ctx.duration_s)
    finally:
        lab.rejoin(victim)
    return FaultOutcome(time.monotonic(), notes=[f"node {victim}'s link down, then up"])


def partition(ctx: Context, victim: int) -> FaultOutcome:
    lab = ctx.cluster.lab
    if lab is None:
        return FaultOutcome(skipped=ctx.cluster.netns_reason)
    pairs = [(a, b) for a in (0, 1) for b in (2, 3)]
    for a, b in pairs:
        lab.cut(a, b)
    try:
        ctx.hold(ctx.duration_s)
    finally:
        for a, b in pairs:
            lab.heal(a, b)
    return FaultOutcome(time.monotonic(), notes=["{0,1} | {2,3} cut both ways, then healed"])


def skew(ctx: Context, victim: int) -> FaultOutcome:
    for offset in (SKEW_MS, -SKEW_MS):
        restart(ctx, victim, {CLOCK_SKEW_ENV: str(offset)})
        ctx.hold(ctx.duration_s)
    ctx.cluster.stop(victim)
    ctx.cluster.start(victim)
    note = f"node {victim} restarted at +{SKEW_MS} ms, then -{SKEW_MS} ms, then without skew"
    return FaultOutcome(time.monotonic(), notes=[note])


def full_disk(ctx: Context, victim: int) -> FaultOutcome:
    """The victim's data lives on a small tmpfs (set up before the cluster started)."""
    if ctx.disk_path is None:
        return FaultOutcome(skipped=ctx.disk_reason)
    victim = ctx.cluster.disk_node
    outcome = FaultOutcome()
    disk.fill(ctx.disk_path, 0)
    code = ctx.cluster.wait_exit(victim, (EXIT_DISK_FULL,), EXIT_WAIT_S)
    log = ctx.cluster.nodes[victim].read_log(ctx.cluster.nodes[victim].log_offset)
    lines = log.count(DISK_FULL_LINE)
    outcome.notes.append(f"node {victim}: disk filled; exit {code}, {lines} 'disk is full' line")
    if code != EXIT_DISK_FULL:
        outcome.failures.append(f"node {victim} did not stop with {EXIT_DISK_FULL} (got {code})")
        if code is None:
            ctx.cluster.stop(victim)
    if lines != 1:
        outcome.failures.append(f"expected one '{DISK_FULL_LINE}' line, saw {lines}")
    disk.drain(ctx.disk_path)
    ctx.cluster.start(victim)
    outcome.healed_at = time.monotonic()
    return outcome


def torn_storage(ctx: Context, victim: int) -> FaultOutcome:
    """kill -9, then cut the WAL's last bytes and half of LevelDB's newest log; restart. The
    node must come back (recovered) or refuse to start with an exit and no traceback (refused
    cleanly; its data is then put back as it was and it starts again)."""
    cluster = ctx.cluster
    cluster.stop(victim, signal.SIGKILL)
    data = cluster.data_path(victim)
    backup = data.with_name("data.before-torn")
    shutil.rmtree(backup, ignore_errors=True)
    shutil.copytree(data, backup)
    outcome = FaultOutcome(notes=[truncate_tail(data / "wal", TORN_BYTES), truncate_log(data)])
    cluster.start(victim)
    try:
        cluster.wait_healthy(victim)
        outcome.notes.append("restart: recovered")
    except (RuntimeError, TimeoutError):
        code = cluster.wait_exit(victim, (), 5.0)
        if code is None:
            cluster.stop(victim)
            outcome.failures.append("restart: neither healthy nor exited")
        else:
            cluster.exits[-1].expected = (code,) if code > 0 else ()
            last = cluster.log_tail(victim, 1)
            outcome.notes.append(f"restart: refused cleanly (exit {code}: {last[:200]})")
        shutil.rmtree(data)
        shutil.copytree(backup, data)
        cluster.start(victim)
        outcome.notes.append("data put back as before the damage, restarted")
    shutil.rmtree(backup, ignore_errors=True)
    outcome.healed_at = time.monotonic()
    return outcome


def truncate_tail(path: Path, count: int) -> str:
    """Cut ``count`` bytes off the end of the file at ``path`` (a folder: its newest file)."""
    if path.is_dir():
        files = sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
        if not files:
            return f"{path}: no file to tear"
        path = files[-1]
    if not path.exists():
        return f"{path}: missing"
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(max(0, size - count))
    return f"{path.name}: {size} -> {max(0, size - count)} bytes (torn tail)"


def truncate_log(data: Path) -> str:
    logs = sorted(data.rglob("*.log"), key=lambda p: p.stat().st_mtime)
    logs = [p for p in logs if p.parent.name != "data" or p.name != "node.log"]
    if not logs:
        return "no LevelDB log to truncate"
    newest = logs[-1]
    size = newest.stat().st_size
    with open(newest, "r+b") as handle:
        handle.truncate(size // 2)
    return f"LevelDB {newest.name}: {size} -> {size // 2} bytes"


def restart_loop(ctx: Context, victim: int) -> FaultOutcome:
    cluster = ctx.cluster
    for _ in range(RESTART_CYCLES):
        cluster.stop(victim, signal.SIGKILL)
        cluster.start(victim)
        cluster.wait_healthy(victim)
    cluster.stop(victim, signal.SIGKILL)
    cluster.start(victim)
    note = f"node {victim}: {RESTART_CYCLES + 1} kill -9 / restart cycles, each once it answered"
    return FaultOutcome(time.monotonic(), notes=[note])


FAULTS: dict[str, Fault] = {
    "kill": kill,
    "stop": pause,
    "isolate": isolate,
    "partition": partition,
    "skew": skew,
    "disk": full_disk,
    "wal": torn_storage,
    "restarts": restart_loop,
}
