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
from node.nemesis import checks, disk
from node.nemesis.cluster import NemesisCluster

SKEW_MS = 60_000
RESTART_CYCLES = 5
TORN_BYTES = 7
LOG_CUT_BYTES = 4096
STORE_DIR = "chain.db"
DISK_FULL_LINE = "stopping: the disk is full"
EXIT_WAIT_S = 120.0
FAILOVER_KEPT_MIN = 0.5
FAILOVER_PHASE_MIN_S = 30.0
"""Each failover phase lasts at least this long: at 10-15 blocks/s the rate over a 10 s phase
swings by +-25 % between runs (one-down 45-93 % kept at load 4), over 30 s by a few percent."""
"""With one validator down the chain must keep at least this share of its block rate."""
POLL_S = 0.1


@dataclass
class FaultOutcome:
    healed_at: float | None = None
    """time.monotonic() of the heal; None when skipped."""
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """What the fault itself found wrong (e.g. a full disk that did not stop the node)."""
    measures: dict[str, float | None] = field(default_factory=dict)
    """Figures the fault measured (e.g. block rates), carried into the JSON."""


class Context(Protocol):
    cluster: NemesisCluster
    duration_s: float
    disk_path: Path | None
    disk_reason: str | None

    def hold(self, seconds: float) -> None:
        """Let the load run for ``seconds`` (sampling the chain meanwhile)."""
        ...


Fault = Callable[[Context, int], FaultOutcome]


def wall_clock_now() -> str:
    """This machine's time of day to the millisecond, as the nodes' log lines show it (so a
    heal can be lined up with what the nodes logged after it)."""
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f",{int(now * 1000) % 1000:03d}"


def restart(ctx: Context, victim: int, env: dict[str, str] | None = None) -> None:
    ctx.cluster.stop(victim)
    ctx.cluster.start(victim, env)
    ctx.cluster.wait_healthy(victim)


def start_timed(ctx: Context, victim: int, outcome: FaultOutcome) -> None:
    """Start the victim; the heal is now. Notes how long its process took to answer (Python
    start-up and store opening are part of every recovery after a restart)."""
    ctx.cluster.start(victim)
    outcome.healed_at = time.monotonic()
    try:
        ctx.cluster.wait_healthy(victim)
    except (RuntimeError, TimeoutError) as exc:
        outcome.failures.append(f"node {victim} did not come back: {str(exc)[:300]}")
        return
    outcome.notes.append(f"node {victim} answered {time.monotonic() - outcome.healed_at:.1f} s "
                         "after its restart")  # fmt: skip


def kill(ctx: Context, victim: int) -> FaultOutcome:
    ctx.cluster.stop(victim, signal.SIGKILL)
    ctx.hold(ctx.duration_s)
    outcome = FaultOutcome(notes=[f"kill -9 node {victim}, restarted"])
    start_timed(ctx, victim, outcome)
    return outcome


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
    return FaultOutcome(
        time.monotonic(), notes=[f"node {victim}'s link down, then up at {wall_clock_now()}"]
    )


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
    return FaultOutcome(
        time.monotonic(),
        notes=[f"{{0,1}} | {{2,3}} cut both ways, then healed at {wall_clock_now()}"],
    )


def skew(ctx: Context, victim: int) -> FaultOutcome:
    for offset in (SKEW_MS, -SKEW_MS):
        restart(ctx, victim, {CLOCK_SKEW_ENV: str(offset)})
        ctx.hold(ctx.duration_s)
    ctx.cluster.stop(victim)
    note = f"node {victim} restarted at +{SKEW_MS} ms, then -{SKEW_MS} ms, then without skew"
    outcome = FaultOutcome(notes=[note])
    start_timed(ctx, victim, outcome)
    return outcome


def full_disk(ctx: Context, victim: int) -> FaultOutcome:
    """The victim's data lives on a small tmpfs (set up before the cluster started)."""
    if ctx.disk_path is None:
        return FaultOutcome(skipped=ctx.disk_reason)
    victim = ctx.cluster.disk_node
    outcome = FaultOutcome()
    try:
        disk.fill(ctx.disk_path, 0)
        code = ctx.cluster.wait_exit(victim, (EXIT_DISK_FULL,), EXIT_WAIT_S)
    except BaseException:
        disk.drain(ctx.disk_path)  # never leave the node's disk full behind
        raise
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
    start_timed(ctx, victim, outcome)
    return outcome


def torn_storage(ctx: Context, victim: int) -> FaultOutcome:
    """Two damages in turn, each on the victim stopped by kill -9 and followed by a restart: the
    WAL's last bytes torn off, then the last page of LevelDB's newest log cut. After each the
    node must come back and catch up (recovered) or refuse to start with an exit and no
    traceback (refused cleanly). When it does not recover, the damaged store and WAL are put
    back as they were (its sign state and mempool journal are kept: rolling those back would
    be unsafe and lose acknowledged txs) and it starts again, so the next faults meet four
    nodes."""
    outcome = FaultOutcome()
    wal = "torn WAL tail"
    damage_and_restart(
        ctx, victim, wal, lambda data: truncate_tail(data / "wal", TORN_BYTES), outcome
    )
    ctx.hold(ctx.duration_s / 2)
    damage_and_restart(ctx, victim, "truncated LevelDB log", truncate_log, outcome)
    return outcome


def damage_and_restart(
    ctx: Context, victim: int, label: str, damage: Callable[[Path], str], outcome: FaultOutcome
) -> None:
    cluster = ctx.cluster
    cluster.stop(victim, signal.SIGKILL)
    data = cluster.data_path(victim)
    backup = data.with_name("data.before-damage")
    shutil.rmtree(backup, ignore_errors=True)
    shutil.copytree(data, backup)
    outcome.notes.append(f"{label}: {damage(data)}")
    cluster.start(victim)
    outcome.healed_at = time.monotonic()
    answered = False
    try:
        cluster.wait_healthy(victim)
        answered = True
        wait_caught_up(ctx, victim)
        outcome.notes.append(f"{label}: restart: recovered (caught up with the others)")
    except (RuntimeError, TimeoutError) as exc:
        outcome.notes.append(f"{label}: restart: did not recover: {str(exc).splitlines()[0][:200]}")
        judge_failed_restart(ctx, victim, answered, outcome)
        for part in (STORE_DIR, "wal"):
            shutil.rmtree(data / part, ignore_errors=True)
            shutil.copytree(backup / part, data / part)
        outcome.notes.append(f"{label}: store and WAL put back as before the damage, restarted")
        start_timed(ctx, victim, outcome)
    shutil.rmtree(backup, ignore_errors=True)


def judge_failed_restart(ctx: Context, victim: int, answered: bool, outcome: FaultOutcome) -> None:
    """A refusal to start (an exit status > 0 before ever answering; the log is checked for
    tracebacks like every other) is clean; a crash after it answered is not."""
    cluster = ctx.cluster
    code = cluster.wait_exit(victim, (), 5.0)
    if code is None:
        cluster.stop(victim)
        outcome.failures.append(f"node {victim} neither caught up nor exited")
    elif victim in cluster.unclean_log_lines():
        outcome.notes.append(
            f"restart: node {victim} crashed (exit {code}, a traceback in its log)"
        )
    elif not answered and code > 0:
        cluster.exits[-1].expected = (code,)
        last = cluster.log_tail(victim, 1)
        outcome.notes.append(f"restart: refused cleanly (exit {code}: {last[:200]})")
    else:
        outcome.notes.append(f"restart: node {victim} answered, then exited {code}")


def wait_caught_up(ctx: Context, victim: int, timeout_s: float = EXIT_WAIT_S) -> None:
    """Wait until the victim's height reaches the others' height when the wait began;
    RuntimeError if it exits meanwhile, TimeoutError if it does not get there."""
    cluster = ctx.cluster
    others = [checks.get_height(n.url) for n in cluster.nodes if n.index != victim]
    target = max((h for h in others if h is not None), default=0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not cluster.is_running(victim):
            raise RuntimeError(f"node {victim} exited while catching up to height {target}")
        height = checks.get_height(cluster.nodes[victim].url)
        if height is not None and height >= target:
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"node {victim} not at height {target} within {timeout_s:g} s")


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
    """Cut the last page off LevelDB's newest log (``chain.db/NNNNNN.log``): the write a
    crash of the machine, not just of the process, could have lost."""
    logs = sorted((data / STORE_DIR).glob("*.log"))
    if not logs:
        return "no LevelDB log to truncate"
    newest = logs[-1]
    size = newest.stat().st_size
    kept = max(0, size - LOG_CUT_BYTES)
    with open(newest, "r+b") as handle:
        handle.truncate(kept)
    return f"LevelDB {newest.name}: {size} -> {kept} bytes"


def restart_loop(ctx: Context, victim: int) -> FaultOutcome:
    cluster = ctx.cluster
    for _ in range(RESTART_CYCLES):
        cluster.stop(victim, signal.SIGKILL)
        cluster.start(victim)
        cluster.wait_healthy(victim)
    cluster.stop(victim, signal.SIGKILL)
    note = f"node {victim}: {RESTART_CYCLES + 1} kill -9 / restart cycles, each once it answered"
    outcome = FaultOutcome(notes=[note])
    start_timed(ctx, victim, outcome)
    return outcome


def measure_block_rate(ctx: Context, url: str, phase_s: float) -> float | None:
    """Blocks per second a node commits while the load runs for ``phase_s``; None if
    unreadable."""
    before, began = checks.get_height(url), time.monotonic()
    ctx.hold(phase_s)
    after, ended = checks.get_height(url), time.monotonic()
    if before is None or after is None:
        return None
    return (after - before) / (ended - began)


def judge_failover(up: float | None, down: float | None) -> tuple[str, str | None]:
    """The note on the two block rates, and a failure if one validator down kept less than
    FAILOVER_KEPT_MIN of the all-up rate (or a rate could not be read)."""
    if up is None or down is None or up <= 0:
        return "block rates not read", f"block rates not read (all up {up}, one down {down})"
    kept = down / up
    note = f"blocks/s all up {up:.2f}, one validator down {down:.2f}: {kept:.0%} kept"
    if kept < FAILOVER_KEPT_MIN:
        return note, f"one validator down kept {kept:.0%} of the block rate (< 50 %)"
    return note, None


def failover(ctx: Context, victim: int) -> FaultOutcome:
    """Blocks/s with all validators up, then with the victim killed (its turns as proposer must
    not stall the chain), each over a phase, read on another node; the victim is restarted."""
    url = ctx.cluster.nodes[(victim + 1) % len(ctx.cluster.nodes)].url
    phase_s = max(ctx.duration_s, FAILOVER_PHASE_MIN_S)
    up = measure_block_rate(ctx, url, phase_s)
    ctx.cluster.stop(victim, signal.SIGKILL)
    down = measure_block_rate(ctx, url, phase_s)
    note, failure = judge_failover(up, down)
    outcome = FaultOutcome(notes=[f"kill -9 node {victim}: {note}; restarted"])
    outcome.failures += [failure] if failure is not None else []
    outcome.measures = {"blocks_per_s_all_up": up, "blocks_per_s_one_down": down}
    start_timed(ctx, victim, outcome)
    return outcome


FAULTS: dict[str, Fault] = {
    "kill": kill,
    "stop": pause,
    "isolate": isolate,
    "partition": partition,
    "skew": skew,
    "disk": full_disk,
    "wal": torn_storage,
    "restarts": restart_loop,
    "failover": failover,
}
