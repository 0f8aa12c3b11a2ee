"""node.localnet.netns: hosts reach each other by address; cut, heal, isolate and rejoin act
on real traffic; nothing is left behind, also when the run fails or a run crashed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.localnet.netns import (
    NetnsError,
    NetnsLab,
    delete_link,
    get_unavailable_reason,
    remove_stale,
    run_ip,
)

pytestmark = [pytest.mark.integration]

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 8123), timeout=1).close()
    print("ok")
except OSError as exc:
    print("failed", exc)
"""


@pytest.fixture
def lab() -> Iterator[NetnsLab]:
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with NetnsLab(3) as created:
        yield created


def can_connect(lab: NetnsLab, source: int, target: int) -> bool:
    argv = lab.wrap(source, [sys.executable, "-c", CONNECT, lab.hosts[target].address])
    return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.startswith("ok")


def leftovers(prefix: str) -> list[str]:
    names = run_ip("netns", "list").split() + os.listdir("/sys/class/net")
    return [name for name in names if name.startswith(f"{prefix}-")]


def test_cut_heal_isolate_rejoin_act_on_real_traffic(lab: NetnsLab, tmp_path: Path) -> None:
    listen = f"import socket,time; s=socket.create_server(('{lab.hosts[0].address}', 8123)); "
    listen += "print('up', flush=True); [s.accept() for _ in range(100)]"
    with open(tmp_path / "server.out", "wb") as out:
        server = lab.spawn(0, [sys.executable, "-c", listen], out)
    try:
        deadline = time.monotonic() + 30
        while b"up" not in (tmp_path / "server.out").read_bytes():
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert can_connect(lab, 1, 0) and can_connect(lab, 2, 0)
        lab.cut(0, 1)
        assert not can_connect(lab, 1, 0) and can_connect(lab, 2, 0)
        lab.heal(0, 1)
        assert can_connect(lab, 1, 0)
        lab.isolate(0)
        assert not can_connect(lab, 1, 0) and not can_connect(lab, 2, 0)
        lab.rejoin(0)
        assert can_connect(lab, 2, 0)
    finally:
        server.kill()
        server.wait()


def test_nothing_is_left_after_a_failure_inside_the_lab() -> None:
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with pytest.raises(RuntimeError), NetnsLab(2) as lab:
        assert len(leftovers(lab.prefix)) == 5  # bridge, 2 host-side veths, 2 namespaces
        raise RuntimeError("the test failed here")
    assert leftovers(lab.prefix) == []


def test_leftovers_of_a_dead_run_are_removed_and_a_live_run_is_kept(tmp_path: Path) -> None:
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid names a run that is gone
    stale = f"dc{dead.pid}-n0"
    run_ip("netns", "add", stale)
    try:
        with NetnsLab(1) as lab:  # creating a lab sweeps dead runs
            assert stale not in run_ip("netns", "list").split()
            assert remove_stale() == []  # the live lab is not touched
            assert len(leftovers(lab.prefix)) == 3
    finally:
        with contextlib.suppress(NetnsError):
            run_ip("netns", "del", stale)


def test_deleting_a_link_that_vanished_meanwhile_is_quiet_and_a_real_failure_is_not() -> None:
    """The kernel removes a deleted namespace's veths asynchronously: a link listed a moment
    ago may be gone when its deletion runs (CI failed on exactly that in a lab's close)."""
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    delete_link(f"dc{os.getpid()}-gone")
    with pytest.raises(NetnsError, match="lo"):
        delete_link("lo")  # exists and cannot be deleted
