"""Never sign twice: the last-signed (height, round, step) guard.

Every signature the replica makes goes through :func:`sign_with_guard`. It refuses a message at
a lower (height, round, step) than the last one signed, and a *different* message at the same
one (that would be equivocation); signing the identical message again is allowed (Ed25519 is
deterministic, so the same signature comes back), which lets a restarted replica re-broadcast.
The caller persists the returned SignState before the signature leaves the process.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from consensus import codec, crypto
from consensus.crypto import PrivateKey, SignPurpose
from consensus.errors import ConsensusError
from consensus.types import HASH_LEN, ChainId, Hash32, Height, Round, Signature


class SignStep(enum.IntEnum):
    """Order of the signed messages within one round."""

    NONE = 0
    PROPOSAL = 1
    PREVOTE = 2
    PRECOMMIT = 3


class DoubleSignRefused(ConsensusError):
    """Signing would go back in (height, round, step) or conflict with what was signed there."""


@dataclass(frozen=True, slots=True)
class SignState:
    """What the validator signed last. Persist it (fsync) before releasing a new signature."""

    height: Height = Height(0)  # noqa: RUF009
    round: Round = Round(0)  # noqa: RUF009
    step: SignStep = SignStep.NONE
    sign_bytes_hash: Hash32 | None = None
    """sha256 of the last signed sign-bytes; None before anything was signed."""

    def to_wire(self) -> list[object]:
        return [self.height, self.round, int(self.step), self.sign_bytes_hash]

    @classmethod
    def from_wire(cls, value: codec.Value) -> SignState:
        h, r, s, digest = codec.expect_fields(value, "sign_state", 4)
        return cls(
            Height(codec.expect_uint(h, "height")),
            Round(codec.expect_uint(r, "round")),
            SignStep(codec.expect_int(s, "step", 0, 3)),
            codec.expect_optional(digest, _read_hash),
        )

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())

    @classmethod
    def decode(cls, data: bytes) -> SignState:
        return cls.from_wire(codec.decode(data, 256))


def _read_hash(value: codec.Value) -> Hash32:
    return Hash32(codec.expect_bytes(value, "sign_bytes_hash", HASH_LEN))


def check_can_sign(
    state: SignState, height: int, round_: int, step: SignStep, sign_bytes_hash: Hash32
) -> bool:
    """True if this is a new, higher message; False if it re-signs the identical message.

    Raises :class:`DoubleSignRefused` for anything lower or conflicting.
    """
    if step == SignStep.NONE:
        raise DoubleSignRefused("cannot sign step NONE")
    here = (height, round_, int(step))
    last = (state.height, state.round, int(state.step))
    if here > last:
        return True
    if here == last and state.sign_bytes_hash == sign_bytes_hash:
        return False
    if here == last:
        raise DoubleSignRefused(f"conflicting message at height/round/step {here}")
    raise DoubleSignRefused(f"{here} is below the last signed {last}")


def sign_with_guard(
    state: SignState,
    key: PrivateKey,
    chain_id: ChainId,
    purpose: SignPurpose,
    height: Height,
    round_: Round,
    step: SignStep,
    payload: bytes,
) -> tuple[SignState, Signature]:
    """Sign ``payload`` if the guard allows it; returns the new state and the signature.

    The new state equals ``state`` for an identical re-sign (nothing new to persist).
    """
    digest = crypto.sha256(crypto.compute_sign_bytes(purpose, chain_id, payload))
    is_new = check_can_sign(state, height, round_, step, digest)
    signature = key.sign(purpose, chain_id, payload)
    if not is_new:
        return state, signature
    return SignState(height, round_, step, digest), signature
