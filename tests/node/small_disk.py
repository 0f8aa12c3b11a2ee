"""A real small filesystem for full-disk tests: a size-limited tmpfs mounted in a temp folder.

Mounting needs root (CI runs as root); elsewhere the tests that need it skip and say why.
``fill`` and ``drain`` are :mod:`node.nemesis.disk`'s (the nemesis command uses them too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.nemesis.disk import DiskUnavailable, drain, fill, mount_small_disk, unmount

__all__ = ["drain", "fill", "small_disk"]


@contextlib.contextmanager
def small_disk(path: Path, size_bytes: int) -> Iterator[Path]:
    """Mount a tmpfs of ``size_bytes`` at ``path`` for the duration; skip if it cannot be."""
    try:
        mount_small_disk(path, size_bytes)
    except DiskUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield path
    finally:
        unmount(path)
