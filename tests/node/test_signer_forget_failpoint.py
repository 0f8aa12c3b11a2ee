"""The TEST-ONLY ``forget_sign_state`` failpoint: inert unless asked, and when asked it leaves
neither the sign state nor the WAL for start-up to read."""

from __future__ import annotations

import pathlib

import pytest

from consensus.crypto import sha256
from consensus.safety import SignState, SignStep
from consensus.types import Height, Round
from node.failpoints import FAILPOINT_ENV, Failpoint, Failpoints
from node.signer import SignStateFile, forget_signatures_if_asked
from node.wal import WriteAheadLog


def signed_validator_files(data: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    sign_state_path, wal_path = data / "sign_state.json", data / "wal"
    SignStateFile(sign_state_path).persist(
        SignState(Height(7), Round(0), SignStep.PREVOTE, sha256(b"vote"))
    )
    with WriteAheadLog(wal_path) as wal:
        wal.append(b"a record of height 7", sync=True)
    return sign_state_path, wal_path


@pytest.mark.parametrize(
    "environ",
    [{}, {FAILPOINT_ENV: ""}, {FAILPOINT_ENV: Failpoint.AFTER_SIGN_STATE_PERSIST.env_name}],
)
def test_without_the_failpoint_nothing_is_forgotten(
    tmp_path: pathlib.Path, environ: dict[str, str]
) -> None:
    sign_state_path, wal_path = signed_validator_files(tmp_path)
    failpoints = Failpoints.from_env(environ)
    assert forget_signatures_if_asked(sign_state_path, wal_path, failpoints) is False
    assert SignStateFile(sign_state_path).load() is not None
    with WriteAheadLog(wal_path) as wal:
        assert list(wal.replay()) == [b"a record of height 7"]


def test_the_failpoint_deletes_the_sign_state_and_the_wal(tmp_path: pathlib.Path) -> None:
    sign_state_path, wal_path = signed_validator_files(tmp_path)
    failpoints = Failpoints.from_env({FAILPOINT_ENV: Failpoint.FORGET_SIGN_STATE.env_name})
    assert forget_signatures_if_asked(sign_state_path, wal_path, failpoints) is True
    assert SignStateFile(sign_state_path).load() is None
    with WriteAheadLog(wal_path) as wal:
        assert list(wal.replay()) == []
    assert forget_signatures_if_asked(sign_state_path, wal_path, failpoints) is True  # no files
