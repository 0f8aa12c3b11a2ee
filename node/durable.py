"""Writes that must survive a power cut: synced file writes, atomic replaces, directory fsyncs.

Every file the node cannot afford to lose or half-write goes through here (the sign state, the
WAL, the mempool journal, the config). A ``kill -9`` keeps the page cache, so only a power cut
shows a missing fsync; keeping the calls in one module keeps them right in one place, and lets
the tests watch them (tests/node/boundary.py records this module's ``os``).

The atomic replace: write a temp file, fsync it, rename it over the target, fsync the folder.
After a crash at any point the target holds the old bytes or the new ones, never a mix; and
once :func:`write_atomically` returns, the new bytes are the ones a reboot finds.

Directory fsync errors, decided once for everyone:

- A file's fsync makes its bytes durable, not its name: a rename or a newly created file lives
  in the folder's entry, which only the folder's fsync makes durable. If that fsync fails with
  an I/O error (EIO, ENOSPC, EROFS...), the rename may be lost at the next power cut, so the
  error is raised: the sign state must stop the node before the signature it covers is sent,
  and a WAL segment whose name may vanish would take its records (our own signed messages
  among them) with it. Swallowing these, as the WAL once did, trades a loud stop for a silent
  double-sign risk.
- EINVAL alone is tolerated: it is how a file system that cannot sync a directory at all says
  so (some network and FUSE file systems). Nothing better can be done there; the file's own
  fsync still holds the data, the rename is still atomic, and refusing would make the node
  unable to run on that file system at all. It is logged once.

What it must never do: report success for a write whose data or name is not yet durable.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

log = logging.getLogger("depochain.durable")

TEMP_SUFFIX = ".tmp"
"""The temp file of an atomic replace sits next to its target, named ``<target>.tmp``."""

_unsupported_logged = False


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (durable only after :func:`sync_file`)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def sync_file(fd: int) -> None:
    """fsync: the file's data and metadata are on disk when this returns."""
    os.fsync(fd)


def sync_file_data(fd: int) -> None:
    """fdatasync: the file's data (and its size) are on disk when this returns."""
    os.fdatasync(fd)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make the names created, renamed or removed in ``directory`` durable. Raises on an I/O
    error; tolerates only EINVAL (the file system cannot sync a directory), see above."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        _log_unsupported(directory)
    finally:
        os.close(fd)


def write_file_synced(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Create or truncate ``path`` with ``data`` and fsync it (its name is not yet durable:
    see :func:`replace_durably`). ``mode`` applies to a new file, less the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        write_all(fd, data)
        sync_file(fd)
    finally:
        os.close(fd)


def replace_durably(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Rename ``source`` over ``target`` atomically and fsync the folder, so a reboot finds the
    new file under ``target`` (both in the same folder)."""
    os.replace(source, target)
    fsync_directory(Path(target).parent)


def write_atomically(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Replace ``path``'s content with ``data``: temp file, fsync, rename, fsync the folder."""
    target = Path(path)
    temp = temp_path(target)
    write_file_synced(temp, data, mode)
    replace_durably(temp, target)


def temp_path(path: Path) -> Path:
    """The temp file :func:`write_atomically` writes before renaming it over ``path``."""
    return path.with_name(path.name + TEMP_SUFFIX)


def truncate_synced(path: str | os.PathLike[str], size: int) -> None:
    """Cut ``path`` to ``size`` bytes and fsync it."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        sync_file(fd)
    finally:
        os.close(fd)


def _log_unsupported(directory: str | os.PathLike[str]) -> None:
    global _unsupported_logged
    if not _unsupported_logged:
        _unsupported_logged = True
        log.warning(
            "the file system of %s cannot fsync a directory (EINVAL): renames and new files "
            "there are atomic but may not survive a power cut",
            directory,
        )
