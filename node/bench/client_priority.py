"""Lower the CPU priority of a bench's client process (the attacker of ``bench --attack``).

In a deployment an attacker runs on other hosts: the CPU it burns is not the nodes'. On one
bench machine it is, so part of what an attack seems to cost the nodes is only the attacker's
own CPU. ``bench --attack`` therefore runs the attacker at a lower priority: when the machine is
saturated the nodes go first and the attacker uses what is left. Its traffic still reaches the
nodes, and what a node spends on it (admission of junk, heavy reads) is the node's and still
counts.

On Linux, a process's nice value only ranks it among the processes of its own *session* when
the kernel groups sessions (``/proc/sys/kernel/sched_autogroup_enabled``): the CPU is first
shared between sessions, and each node runs in a session of its own. So a client that lowers
its priority leaves the session it was started in (``setsid``: a new session, a new group of
its own, which changes no other process's group) and sets the nice value of that group
(``/proc/self/autogroup``) as well as its own. Without session groups, the process's own nice
value is what counts. On Linux, the nice value set here is the calling thread's and the one
every thread it starts later inherits: call :func:`lower_priority` first, before any thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLIENT_NICE = 10
"""A nice value of 10 weighs about a tenth of a normal process (Linux's weight table)."""

AUTOGROUP_ENABLED = Path("/proc/sys/kernel/sched_autogroup_enabled")
OWN_AUTOGROUP = Path("/proc/self/autogroup")


@dataclass(frozen=True, slots=True)
class Applied:
    """What :func:`lower_priority` did: the nice value the process now has, whether the
    session's group got it too, and why not where it did not."""

    nice: int
    autogroup_nice: int | None
    note: str

    def describe(self) -> str:
        group = "" if self.autogroup_nice is None else f", its session group {self.autogroup_nice}"
        return f"nice {self.nice}{group}" + (f" ({self.note})" if self.note else "")


def is_autogroup_enabled(path: Path = AUTOGROUP_ENABLED) -> bool:
    try:
        return path.read_text().strip() == "1"
    except OSError:
        return False


def read_autogroup_nice(path: Path = OWN_AUTOGROUP) -> int | None:
    """The nice value of this process's session group (``/autogroup-N nice K``), if any."""
    try:
        return int(path.read_text().split()[-1])
    except (OSError, IndexError, ValueError):
        return None


def lower_priority(
    nice: int,
    autogroup_enabled: Path = AUTOGROUP_ENABLED,
    own_autogroup: Path = OWN_AUTOGROUP,
) -> Applied:
    """Make this process a low-priority client: its own session, group and thread nice at
    ``nice``. Never fails: what could not be done is said in the result's note."""
    notes = []
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as exc:
        notes.append(f"setpriority refused: {exc.strerror}")
    group = None
    if is_autogroup_enabled(autogroup_enabled):
        group, note = _lower_own_group(nice, own_autogroup)
        if note:
            notes.append(note)
    return Applied(os.getpriority(os.PRIO_PROCESS, 0), group, "; ".join(notes))


def _lower_own_group(nice: int, own_autogroup: Path) -> tuple[int | None, str]:
    """Move to a new session (so the group whose nice value changes holds only this process
    and what it starts later) and set that group's nice value."""
    if os.getsid(0) != os.getpid():
        try:
            os.setsid()
        except OSError as exc:
            return None, f"no session of its own ({exc.strerror}): session group left alone"
    try:
        own_autogroup.write_text(str(nice))
    except OSError as exc:
        return read_autogroup_nice(own_autogroup), f"session group refused: {exc.strerror}"
    return read_autogroup_nice(own_autogroup), ""


def lower_priority_if_asked(nice: int | None) -> str:
    """For a client process's ``main``: :func:`lower_priority` when its plan gives a nice
    value; what the process runs at, in words, for its result."""
    if nice is None:
        return "normal priority (not lowered)"
    return lower_priority(nice).describe()
