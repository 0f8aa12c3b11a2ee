"""The strace output reader the fsync-order test relies on, on hand-written and real lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.strace_log import hex_escaped, parse


def _path(text: str) -> str:
    return hex_escaped(text.encode())


def test_a_call_split_by_another_thread_is_joined_with_both_positions() -> None:
    lines = [
        f"10 12:00:00.000001 fsync(7<{_path('/d/log')}> <unfinished ...>",
        "11 12:00:00.000002 sendto(9<TCP:[127.0.0.1:5000->127.0.0.1:6000]>, "
        f'"{hex_escaped(b"vote")}", 4, 0, NULL, 0) = 4',
        "10 12:00:00.000003 <... fsync resumed>) = 0",
        "10 12:00:00.000004 +++ exited with 0 +++",
    ]
    fsync, send = parse(lines)
    assert (fsync.name, fsync.began, fsync.ended, fsync.fd_target) == ("fsync", 0, 2, "/d/log")
    assert fsync.succeeded
    assert (send.name, send.began, send.tcp_ports) == ("sendto", 1, (5000, 6000))
    assert send.carries(b"vote") and not send.carries(b"votes")


def test_paths_of_rename_and_openat_are_decoded() -> None:
    lines = [
        f'5 12:00:00.1 rename("{_path("/d/a.tmp")}", "{_path("/d/a")}") = 0',
        f'5 12:00:00.2 openat(AT_FDCWD<{_path("/w")}>, "{_path("/d")}", O_RDONLY) = -1 ENOENT',
    ]
    rename, openat = parse(lines)
    assert rename.strings == ["/d/a.tmp", "/d/a"]
    assert openat.strings == ["/d"] and not openat.succeeded


def test_a_real_trace_shows_the_write_fsync_and_rename_in_order(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    target = tmp_path / "file"
    script = (
        "import os, sys; p = sys.argv[1]; fd = os.open(p + '.tmp', os.O_WRONLY | os.O_CREAT); "
        "os.write(fd, b'durable'); os.fsync(fd); os.close(fd); os.replace(p + '.tmp', p)"
    )
    out = tmp_path / "trace.txt"
    subprocess.run(
        [strace, "-f", "-tt", "-yy", "-xx", "-e", "trace=write,fsync,rename", "-o", str(out),
         sys.executable, "-c", script, str(target)],
        check=True,
    )  # fmt: skip
    calls = [
        c
        for c in parse(out.read_text().splitlines())
        if str(tmp_path) in (c.fd_target or "") + "".join(c.strings)
    ]
    assert [c.name for c in calls] == ["write", "fsync", "rename"]
    assert calls[0].carries(b"durable") and calls[1].fd_target == f"{target}.tmp"
    assert calls[2].strings == [f"{target}.tmp", str(target)]
