"""A real small filesystem for the full-disk fault: a size-limited tmpfs mounted on a folder.

Mounting needs root; :func:`mount_small_disk` raises :class:`DiskUnavailable` with the reason
otherwise (the fault is then reported as skipped). ``fill`` leaves exactly the free space asked
for with a ballast file that ``drain`` removes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from node.disk_space import get_free_bytes
from node.errors import NodeError

BALLAST = ".ballast"


class DiskUnavailable(NodeError):
    """A small disk cannot be mounted here; the message says why."""


def mount_small_disk(path: Path, size_bytes: int) -> None:
    if os.geteuid() != 0:
        raise DiskUnavailable("mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise DiskUnavailable(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(disk: Path, leave_bytes: int) -> None:
    """Grow the ballast file until only ``leave_bytes`` are free (0: the disk is full)."""
    chunk = b"\0" * (1 << 20)
    # unbuffered, so a full disk shows in write() and not later, when the file is closed
    with open(disk / BALLAST, "ab", buffering=0) as ballast:
        while (free := get_free_bytes(disk)) > leave_bytes:
            try:
                ballast.write(chunk[: min(len(chunk), free - leave_bytes)])
            except OSError:
                return  # full: nothing more fits


def drain(disk: Path) -> None:
    """Remove the ballast: the disk has its space back."""
    with contextlib.suppress(FileNotFoundError):
        (disk / BALLAST).unlink()
