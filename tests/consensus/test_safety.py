"""The sign guard: refuses lower or conflicting messages, allows the identical re-sign."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import crypto
from consensus.crypto import PrivateKey, SignPurpose
from consensus.safety import (
    DoubleSignRefused,
    SignState,
    SignStep,
    check_can_sign,
    sign_with_guard,
)
from consensus.types import ChainId, Height, Round

KEY = PrivateKey(b"\x05" * 32)
CHAIN = ChainId("chain")


def sign(state: SignState, h: int, r: int, step: SignStep, payload: bytes) -> SignState:
    new, sig = sign_with_guard(
        state, KEY, CHAIN, SignPurpose.VOTE, Height(h), Round(r), step, payload
    )
    assert crypto.verify(KEY.public_key, SignPurpose.VOTE, CHAIN, payload, sig)
    return new


def test_fresh_state_signs_and_records() -> None:
    state = sign(SignState(), 1, 0, SignStep.PREVOTE, b"a")
    assert (state.height, state.round, state.step) == (1, 0, SignStep.PREVOTE)
    assert state.sign_bytes_hash is not None


@pytest.mark.parametrize(
    "h,r,step",
    [(4, 9, SignStep.PRECOMMIT), (5, 2, SignStep.PRECOMMIT), (5, 3, SignStep.PROPOSAL)],
)
def test_lower_is_refused(h: int, r: int, step: SignStep) -> None:
    state = sign(SignState(), 5, 3, SignStep.PREVOTE, b"a")
    with pytest.raises(DoubleSignRefused):
        sign(state, h, r, step, b"a")


def test_conflicting_at_same_height_round_step_is_refused() -> None:
    state = sign(SignState(), 5, 3, SignStep.PREVOTE, b"block-a")
    with pytest.raises(DoubleSignRefused):
        sign(state, 5, 3, SignStep.PREVOTE, b"block-b")


def test_identical_resign_is_allowed_and_changes_nothing() -> None:
    state = sign(SignState(), 5, 3, SignStep.PREVOTE, b"block-a")
    again, sig1 = sign_with_guard(
        state, KEY, CHAIN, SignPurpose.VOTE, Height(5), Round(3), SignStep.PREVOTE, b"block-a"
    )
    assert again == state
    _, sig0 = sign_with_guard(
        SignState(),
        KEY,
        CHAIN,
        SignPurpose.VOTE,
        Height(5),
        Round(3),
        SignStep.PREVOTE,
        b"block-a",
    )
    assert sig0 == sig1


def test_same_payload_for_another_purpose_conflicts() -> None:
    state = sign(SignState(), 5, 3, SignStep.PREVOTE, b"x")
    with pytest.raises(DoubleSignRefused):
        sign_with_guard(
            state, KEY, CHAIN, SignPurpose.PROPOSAL, Height(5), Round(3), SignStep.PREVOTE, b"x"
        )


def test_step_none_cannot_be_signed() -> None:
    with pytest.raises(DoubleSignRefused):
        check_can_sign(SignState(), 1, 0, SignStep.NONE, crypto.sha256(b""))


def test_higher_is_allowed() -> None:
    state = sign(SignState(), 5, 3, SignStep.PRECOMMIT, b"a")
    state = sign(state, 5, 4, SignStep.PROPOSAL, b"b")
    state = sign(state, 6, 0, SignStep.PREVOTE, b"c")
    assert (state.height, state.round, state.step) == (6, 0, SignStep.PREVOTE)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 3),
            st.sampled_from(list(SignStep)[1:]),
            st.binary(max_size=2),
        ),
        max_size=20,
    )
)
def test_never_two_different_signatures_at_one_hrs(
    attempts: list[tuple[int, int, SignStep, bytes]],
) -> None:
    state = SignState()
    signed: dict[tuple[int, int, int], bytes] = {}
    for h, r, step, payload in attempts:
        try:
            state = sign(state, h, r, step, payload)
        except DoubleSignRefused:
            continue
        assert signed.setdefault((h, r, int(step)), payload) == payload


def test_wire_roundtrip() -> None:
    state = sign(SignState(), 5, 3, SignStep.PREVOTE, b"a")
    assert SignState.decode(state.encode()) == state
    assert SignState.decode(SignState().encode()) == SignState()
