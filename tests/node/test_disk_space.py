"""A full disk: the guard's reading, recognising the error anywhere in a failure, and the
mempool journal never leaving a torn record behind a failed append (on a real small tmpfs)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from consensus.crypto import sha256
from consensus.types import Hash32
from node.disk_space import DiskSpaceGuard, DiskSpaceLow, describe_disk_full, is_disk_full
from node.mempool_journal import JournalWriteError, MempoolJournal
from node.storage import StorageError
from tests.node.small_disk import drain, fill, small_disk

MIB = 1024 * 1024


def test_a_full_disk_is_recognised_inside_groups_and_causes() -> None:
    plain = OSError(errno.ENOSPC, "No space left on device")
    assert is_disk_full(plain)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise StorageError("writing block 7: IO error: x.log: No space left on device") from exc
    except StorageError as wrapped:
        group = ExceptionGroup("node stopped", [ValueError("other"), wrapped])
    assert is_disk_full(group)
    assert describe_disk_full(group).startswith("writing block 7")


def test_other_errors_are_not_a_full_disk() -> None:
    assert not is_disk_full(OSError(errno.EIO, "Input/output error"))
    assert not is_disk_full(ExceptionGroup("x", [ValueError("no"), KeyError("space")]))


def test_the_guard_refuses_below_the_floor_and_recovers(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 8 * MIB) as disk:
        now = [0.0]
        guard = DiskSpaceGuard(disk, 4 * MIB, monotonic=lambda: now[0])
        guard.check_admission()  # 8 MiB free
        fill(disk, 3 * MIB)
        guard.check_admission()  # the reading is at most a second old: not yet seen
        now[0] += 1.0
        with pytest.raises(DiskSpaceLow, match=r"below \[storage\]\.free_bytes_min"):
            guard.check_admission()
        assert guard.refused_total == 1
        drain(disk)
        now[0] += 1.0
        guard.check_admission()


def test_a_zero_floor_never_refuses(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 2 * MIB) as disk:
        fill(disk, 0)
        DiskSpaceGuard(disk, 0).check_admission()


def test_a_failed_journal_append_leaves_no_torn_record(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 2 * MIB) as disk:
        journal = MempoolJournal(disk / "journal.log")
        journal.open([])
        kept = [bytes([i]) * 1000 for i in range(5)]
        for raw in kept:
            journal.append(Hash32(sha256(raw)), raw)
        fill(disk, 40 * 1024)  # room for part of the next record: the write tears
        big = b"\x99" * 100_000
        with pytest.raises(JournalWriteError):
            journal.append(Hash32(sha256(big)), big)
        drain(disk)
        later = b"\x42" * 500
        journal.append(Hash32(sha256(later)), later)
        journal.close()
        assert MempoolJournal(disk / "journal.log").load() == [*kept, later]


def test_the_description_names_the_write_that_failed(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 2 * MIB) as disk:
        journal = MempoolJournal(disk / "journal.log")
        journal.open([])
        fill(disk, 0)
        with pytest.raises(JournalWriteError) as caught:
            journal.append(Hash32(sha256(b"x" * 9000)), b"x" * 9000)
        assert describe_disk_full(caught.value).endswith("in node.mempool_journal.append")
