"""A real small filesystem for full-disk tests: a size-limited tmpfs mounted in a temp folder.

Mounting needs root (CI runs as root); elsewhere the tests that need it skip and say why.
``fill`` leaves exactly the free space asked for, with a ballast file that ``drain`` removes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.disk_space import get_free_bytes

BALLAST = ".ballast"


@contextlib.contextmanager
def small_disk(path: Path, size_bytes: int) -> Iterator[Path]:
    """Mount a tmpfs of ``size_bytes`` at ``path`` for the duration; skip if it cannot be."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path, leave_bytes: int) -> None:
    """Grow the ballast file until only ``leave_bytes`` are free (0: the disk is full)."""
    chunk = b"\0" * (1 << 20)
    with open(disk / BALLAST, "ab") as ballast:
        while (free := get_free_bytes(disk)) > leave_bytes:
            try:
                ballast.write(chunk[: min(len(chunk), free - leave_bytes)])
                ballast.flush()
            except OSError:
                return  # full: nothing more fits


def drain(disk: Path) -> None:
    """Remove the ballast: the disk has its space back."""
    with contextlib.suppress(FileNotFoundError):
        (disk / BALLAST).unlink()
