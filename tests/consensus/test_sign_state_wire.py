"""The guard's verdicts and the persisted sign state's strict decoding, with their exact errors.

A node reads its sign state back from disk at start: a damaged file must fail as a CodecError
that names the bad field (never as another exception, never accepted), and the guard's
refusals say what was refused so an operator can tell a restart race from equivocation.
"""

from __future__ import annotations

import pytest

from consensus import codec, crypto
from consensus.codec import CodecError
from consensus.safety import DoubleSignRefused, SignState, SignStep, check_can_sign
from consensus.types import Hash32, Height, Round

DIGEST = crypto.sha256(b"sign-bytes")
LAST = SignState(Height(5), Round(3), SignStep.PREVOTE, DIGEST)


def test_identical_message_is_a_re_sign_not_a_new_signature() -> None:
    assert check_can_sign(LAST, 5, 3, SignStep.PREVOTE, DIGEST) is False
    assert check_can_sign(LAST, 5, 3, SignStep.PRECOMMIT, DIGEST) is True


@pytest.mark.parametrize(
    "height,round_,step,digest,message",
    [
        (5, 3, SignStep.NONE, DIGEST, "cannot sign step NONE"),
        (
            5,
            3,
            SignStep.PREVOTE,
            crypto.sha256(b"other"),
            ("conflicting message at height/round/step (5, 3, 2)"),
        ),
        (5, 2, SignStep.PRECOMMIT, DIGEST, "(5, 2, 3) is below the last signed (5, 3, 2)"),
    ],
)
def test_refusals_say_what_was_refused(
    height: int, round_: int, step: SignStep, digest: Hash32, message: str
) -> None:
    with pytest.raises(DoubleSignRefused) as refused:
        check_can_sign(LAST, height, round_, step, digest)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    "wire,message",
    [
        ([1, 0, 1], "sign_state: expected 4 fields, got 3"),
        ([-1, 0, 1, None], f"height: -1 outside [0, {codec.INT_MAX}]"),
        ([1, -1, 1, None], f"round: -1 outside [0, {codec.INT_MAX}]"),
        ([1, 0, 4, None], "step: 4 outside [0, 3]"),
        ([1, 0, -1, None], "step: -1 outside [0, 3]"),
        ([1, 0, 1, b"\x00" * 31], "sign_bytes_hash: expected 32 bytes, got 31"),
        ([1, 0, 1, b"\x00" * 33], "sign_bytes_hash: expected 32 bytes, got 33"),
    ],
)
def test_a_damaged_sign_state_fails_naming_the_field(wire: list[object], message: str) -> None:
    with pytest.raises(CodecError) as error:
        SignState.decode(codec.encode(wire))
    assert str(error.value) == message


def test_every_step_decodes() -> None:
    for step in SignStep:
        state = SignState(Height(1), Round(0), step, None)
        assert SignState.decode(state.encode()) == state


def test_sign_state_bytes_are_bounded() -> None:
    big = codec.encode([1, 0, 1, b"\x00" * 300])
    with pytest.raises(CodecError) as error:
        SignState.decode(big)
    assert str(error.value) == f"input of {len(big)} bytes exceeds 256"
    with pytest.raises(CodecError) as error:
        SignState.decode(b"\x00" * 257)
    assert str(error.value) == "input of 257 bytes exceeds 256"
