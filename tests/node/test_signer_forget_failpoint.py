"""The TEST-ONLY ``forget_sign_state`` failpoint: inert unless asked, and when asked it leaves
neither the sign state nor the WAL for start-up to read."""

from __future__ import annotations

import pathlib

import pytest

from consensus.crypto import sha256
from consensus.safety import SignState, SignStep
from consensus.types import Height, Round
from node.signer import (
    FAILPOINT_AFTER_PERSIST,
    FAILPOINT_ENV,
    FAILPOINT_FORGET_SIGN_STATE,
    SignStateFile,
    forget_signatures_if_asked,
)
from node.wal import WriteAheadLog


def signed_validator_files(data: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    sign_state_path, wal_path = data / "sign_state.json", data / "wal"
    SignStateFile(sign_state_path).persist(
        SignState(Height(7), Round(0), SignStep.PREVOTE, sha256(b"vote"))
    )
    with WriteAheadLog(wal_path) as wal:
        wal.append(b"a record of height 7", sync=True)
    return sign_state_path, wal_path


@pytest.mark.parametrize("failpoint", [None, "", FAILPOINT_AFTER_PERSIST])
def test_without_the_failpoint_nothing_is_forgotten(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, failpoint: str | None
) -> None:
    sign_state_path, wal_path = signed_validator_files(tmp_path)
    if failpoint is None:
        monkeypatch.delenv(FAILPOINT_ENV, raising=False)
    else:  # (set after the files are written: this one would stop the persist above)
        monkeypatch.setenv(FAILPOINT_ENV, failpoint)
    assert forget_signatures_if_asked(sign_state_path, wal_path) is False
    assert SignStateFile(sign_state_path).load() is not None
    with WriteAheadLog(wal_path) as wal:
        assert list(wal.replay()) == [b"a record of height 7"]


def test_the_failpoint_deletes_the_sign_state_and_the_wal(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_state_path, wal_path = signed_validator_files(tmp_path)
    monkeypatch.setenv(FAILPOINT_ENV, FAILPOINT_FORGET_SIGN_STATE)
    assert forget_signatures_if_asked(sign_state_path, wal_path) is True
    assert SignStateFile(sign_state_path).load() is None
    with WriteAheadLog(wal_path) as wal:
        assert list(wal.replay()) == []
    assert forget_signatures_if_asked(sign_state_path, wal_path) is True  # nothing left: fine
