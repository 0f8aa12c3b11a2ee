"""node.signer: persist/load, atomic replace under crashes, corrupt files stop the node."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.crypto import sha256
from consensus.safety import DoubleSignRefused, SignState, SignStep
from consensus.types import Hash32, Height, Round
from node.failpoints import FAILPOINT_ENV, Failpoint
from node.signer import (
    SignStateCorruptError,
    SignStateFile,
    encode_sign_state_file,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
CHILD = pathlib.Path(__file__).with_name("signer_crash_child.py")


def state(
    height: int, round_: int = 0, step: SignStep = SignStep.PREVOTE, tag: str = ""
) -> SignState:
    digest = sha256(f"{height}{tag}".encode())
    return SignState(Height(height), Round(round_), step, digest)


def test_missing_file_loads_as_none_and_persist_load_round_trips(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sign_state.json"
    signer = SignStateFile(path)
    assert signer.load() is None
    signer.persist(state(3, 1, SignStep.PRECOMMIT))
    assert SignStateFile(path).load() == state(3, 1, SignStep.PRECOMMIT)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not path.with_name(path.name + ".tmp").exists()


def test_persist_refuses_to_go_backwards_or_conflict(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    SignStateFile(path).persist(state(5, 2, SignStep.PREVOTE))
    signer = SignStateFile(path)  # a fresh object loads the stored state before persisting
    with pytest.raises(DoubleSignRefused, match="below"):
        signer.persist(state(5, 1, SignStep.PRECOMMIT))
    with pytest.raises(DoubleSignRefused, match="conflicting"):
        signer.persist(state(5, 2, SignStep.PREVOTE, tag="other block"))
    signer.persist(state(5, 2, SignStep.PREVOTE))  # identical re-sign is fine
    signer.persist(state(5, 2, SignStep.PRECOMMIT))
    assert SignStateFile(path).load() == state(5, 2, SignStep.PRECOMMIT)


def valid_bytes() -> bytes:
    return encode_sign_state_file(state(7, 0, SignStep.PROPOSAL))


def edited(**changes: object) -> bytes:
    document = json.loads(valid_bytes())
    document.update(changes)
    return json.dumps(document).encode()


CORRUPT = {
    "empty": b"",
    "truncated": valid_bytes()[:-20],
    "not json": b"\x00\x01garbage",
    "flipped height": edited(height=8),
    "bad checksum": edited(checksum="00" * 32),
    "float height": edited(height=7.0),
    "negative round": edited(round=-1),
    "unknown step": edited(step=9),
    "short hash": edited(sign_bytes_hash="abcd"),
    "non-hex hash": edited(sign_bytes_hash="zz" * 32),
    "extra field": edited(extra=1),
    "list": b"[1, 2, 3]",
    "huge": b" " * 10_000,
    "not utf-8": b'{"height": "\xff"}',
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_file_is_a_clear_error_not_a_reset(tmp_path: pathlib.Path, name: str) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(CORRUPT[name])
    signer = SignStateFile(path)
    with pytest.raises(SignStateCorruptError, match=r"corrupt.*Refusing to start"):
        signer.load()
    with pytest.raises(SignStateCorruptError):
        signer.persist(state(1))  # must not overwrite evidence of what was signed
    assert path.read_bytes() == CORRUPT[name]


def test_a_stray_temp_file_is_ignored(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    SignStateFile(path).persist(state(2))
    path.with_name("s.json.tmp").write_bytes(b"half written")
    assert SignStateFile(path).load() == state(2)


@given(
    st.integers(0, 2**63),
    st.integers(0, 2**31),
    st.sampled_from(list(SignStep)),
    st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
)
def test_file_encoding_round_trips(
    height: int, round_: int, step: SignStep, digest: bytes | None
) -> None:
    from node.signer import decode_sign_state_file

    value = SignState(
        Height(height), Round(round_), step, None if digest is None else Hash32(digest)
    )
    assert decode_sign_state_file(encode_sign_state_file(value), "x") == value


def run_child(
    path: pathlib.Path, mode: str, start: int, failpoint: str = ""
) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop(FAILPOINT_ENV, None)
    if failpoint:
        env[FAILPOINT_ENV] = failpoint
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), mode, str(start)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_failpoint_after_persist_leaves_the_new_state(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    SignStateFile(path).persist(state(10))
    child = run_child(path, "once", 11, Failpoint.AFTER_SIGN_STATE_PERSIST.env_name)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 99
    assert out == ""  # the process died before anything could "leave"
    assert SignStateFile(path).load() == state(11)


def test_crash_before_rename_leaves_the_old_state(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    SignStateFile(path).persist(state(10))
    child = run_child(path, "once", 11, Failpoint.BEFORE_SIGN_STATE_RENAME.env_name)
    child.communicate(timeout=60)
    assert child.returncode == 97
    assert path.with_name("s.json.tmp").exists()
    assert SignStateFile(path).load() == state(10)
    SignStateFile(path).persist(state(11))  # and the node carries on
    assert SignStateFile(path).load() == state(11)


def test_child_killed_while_persisting_keeps_every_reported_state(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    child = run_child(path, "loop", 1)
    reported = 0
    try:
        assert child.stdout is not None
        for _ in range(5):
            reported = int(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGKILL)  # never leave a looping child behind
        child.wait(timeout=60)
    loaded = SignStateFile(path).load()
    assert loaded is not None
    assert loaded.height >= reported  # what was announced as persisted is on disk
    assert loaded == state(loaded.height)  # and it is a whole state, never a mix
