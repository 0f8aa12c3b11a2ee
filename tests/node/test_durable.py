"""node.durable: which directory-fsync errors stop a write, and that every synced file of the
node goes through the atomic replace (temp file, fsync, rename, fsync of the folder).

The disks here are real; only the fsync of a folder is made to fail, by a wrapper around the
real ``os`` (no file system at hand returns EIO on demand).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from consensus.crypto import sha256
from consensus.safety import SignState, SignStep
from consensus.types import Height, Round
from node import durable
from node.config import NodeConfig, NodeSection, load_config, write_config
from node.mempool_journal import MempoolJournal
from node.signer import SignStateFile
from node.wal import WriteAheadLog
from tests.node import boundary
from tests.node.boundary import BoundaryLog


class FolderFsyncFails:
    """The real ``os``, except that fsync of a folder fails with ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fsync(self, fd: int) -> None:
        if os.path.isdir(os.readlink(f"/proc/self/fd/{fd}")):
            self.failed += 1
            raise OSError(self.code, os.strerror(self.code))
        os.fsync(fd)


def _fsync_folders_failing(monkeypatch: pytest.MonkeyPatch, code: int) -> FolderFsyncFails:
    failing = FolderFsyncFails(code)
    monkeypatch.setattr(durable, "os", failing)
    return failing


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _state(height: int) -> SignState:
    return SignState(Height(height), Round(0), SignStep.PREVOTE, sha256(b"%d" % height))


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC, errno.EROFS], ids=errno.errorcode.get)
def test_a_failed_folder_fsync_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    _fsync_folders_failing(monkeypatch, code)
    before = _open_fds()
    with pytest.raises(OSError) as raised:
        durable.fsync_directory(tmp_path)
    assert raised.value.errno == code
    assert _open_fds() == before  # the folder's descriptor is closed anyway


def test_a_folder_that_cannot_be_fsynced_at_all_is_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = _fsync_folders_failing(monkeypatch, errno.EINVAL)
    durable.write_atomically(tmp_path / "f", b"data")
    assert failing.failed == 1
    assert (tmp_path / "f").read_bytes() == b"data"


def test_sign_state_persist_raises_when_its_rename_may_not_be_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = SignStateFile(tmp_path / "sign_state.json")
    signer.persist(_state(1))
    _fsync_folders_failing(monkeypatch, errno.EIO)
    with pytest.raises(OSError):
        signer.persist(_state(2))  # so the driver never sends what it covers


def test_wal_new_segment_fails_when_its_name_may_not_be_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WriteAheadLog(tmp_path / "wal") as wal:
        wal.append(b"a vote", sync=True)
        _fsync_folders_failing(monkeypatch, errno.EIO)
        with pytest.raises(OSError):
            wal.mark_height(1)  # the marker's segment could vanish at the next power cut


def _write_journal(path: Path) -> None:
    journal = MempoolJournal(path)
    journal.open([(sha256(b"tx"), b"tx")])
    journal.close()


def _write_config(path: Path) -> None:
    write_config(NodeConfig(node=NodeSection(chain_id="c", moniker="m")), path)


@pytest.mark.parametrize("write", [_write_journal, _write_config], ids=["journal", "config"])
def test_other_synced_files_are_replaced_atomically_and_durably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Any
) -> None:
    log = BoundaryLog()
    boundary.install(monkeypatch, log)
    path = tmp_path / "file"
    temp = str(path) + ".tmp"
    write(path)
    ops = [(op.name, op.path) for op in log.ops]
    assert ops[-3:] == [("fsync", temp), ("replace", str(path)), ("fsync", str(tmp_path))]
    assert {name for name, _ in ops[:-3]} <= {"write"}


def test_config_file_mode_is_unchanged(tmp_path: Path) -> None:
    """Written through the durable path, a new config is still created as open() would."""
    umask = os.umask(0o022)
    os.umask(umask)
    _write_config(tmp_path / "config.toml")
    assert (tmp_path / "config.toml").stat().st_mode & 0o777 == 0o666 & ~umask
    assert load_config(tmp_path / "config.toml").node.moniker == "m"
