"""Waiting for a node process to answer JSON-RPC ``health``, fairly on a loaded machine.

A starting node's work is CPU-bound (imports, opening LevelDB, replaying its blocks). On a
machine whose run queue holds L runnable tasks over N cores it gets about N/L of a core, so the
same start takes L/N times longer on the wall clock; a fixed wall-clock wait fails there for no
fault of the node's (at load 30 on 2 cores a 30 s wait failed setups with "node 0 not
healthy"). So the wait's budget is in seconds of an idle machine: each wall-clock second counts
only for the share of a core the load average says the node could get. Two things end the wait
early: the node answering, and the node's process exiting (then its log tail is the error).

The budget defaults to :data:`DEFAULT_START_TIMEOUT_S`; the environment variable
``DEPOCHAIN_TEST_START_TIMEOUT_S`` sets another (e.g. on a slow CI runner). However loaded the
machine, the wait stops after :data:`WALL_CEILING_S` on the wall clock, so a node that never
answers fails with its log tail rather than with pytest's timeout (600 s per test,
pyproject.toml) and a stack dump.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

START_TIMEOUT_ENV = "DEPOCHAIN_TEST_START_TIMEOUT_S"
DEFAULT_START_TIMEOUT_S = 120.0
"""Idle-machine seconds a node may take to answer ``health`` (a start takes a few)."""
WALL_CEILING_S = 540.0
"""The longest a wait lasts on the wall clock unless its caller's budget is longer."""
POLL_S = 0.1


def start_timeout_s() -> float:
    """The idle-machine budget: ``DEPOCHAIN_TEST_START_TIMEOUT_S`` if set, else the default."""
    text = os.environ.get(START_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_START_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{START_TIMEOUT_ENV}={text!r}: want a positive number of seconds")
    return value


def core_share() -> float:
    """The share of a core a runnable process can expect now: cores over runnable tasks
    (the 1-minute load average), at most 1."""
    cores = len(os.sched_getaffinity(0))
    return min(1.0, cores / max(os.getloadavg()[0], 1e-9))


def wait_healthy(
    process: subprocess.Popen[bytes] | None,
    is_healthy: Callable[[], bool],
    name: str,
    log_tail: Callable[[], str],
    timeout_s: float | None = None,
) -> None:
    """Return once ``is_healthy()``; raise RuntimeError if ``process`` exits first, or
    TimeoutError once ``timeout_s`` (default :func:`start_timeout_s`) idle-machine seconds have
    passed. Both errors carry ``log_tail()``."""
    budget = start_timeout_s() if timeout_s is None else timeout_s
    ceiling = max(budget, WALL_CEILING_S)
    started = last = time.monotonic()
    granted = 0.0
    while granted < budget and last - started < ceiling:
        fail_if_exited(process, name, log_tail)
        if is_healthy():
            return
        time.sleep(POLL_S)
        now = time.monotonic()
        granted += (now - last) * core_share()
        last = now
    raise TimeoutError(
        f"{name} not healthy after {last - started:.0f} s "
        f"({granted:.0f} s of an idle machine's time, load {os.getloadavg()[0]:.1f}): "
        f"{log_tail()}"
    )


def wait_until(
    condition: Callable[[], object], what: str, timeout_s: float, poll_s: float = POLL_S
) -> None:
    """Poll ``condition()`` until it is true; TimeoutError naming ``what`` after ``timeout_s``
    on the wall clock."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting until {what}")
        time.sleep(poll_s)


def fail_if_exited(
    process: subprocess.Popen[bytes] | None, name: str, log_tail: Callable[[], str]
) -> None:
    """Raise RuntimeError, with ``log_tail()``, if ``process`` has exited: a wait for it to do
    anything can end now."""
    if process is not None and process.poll() is not None:
        raise RuntimeError(f"{name} exited with code {process.returncode}: {log_tail()}")


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of the log at ``path`` (what a failed wait reports)."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
