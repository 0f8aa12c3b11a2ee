"""The validator set as governance changes it: derived from the participants, scheduled two
heights ahead, and never changed so fast that quorum or a light client's trust breaks.

Rules (refusal codes in brackets): a set is non-empty and at most GOVERNED_VALIDATORS_MAX
[VALIDATOR_SET_INVALID], keeps at least ``validators_min`` validators [VALIDATORS_BELOW_MIN],
and, against every set in force within the trust window, neither removes nor adds 1/3 or more
of the voting power [VALIDATOR_POWER_SHIFT].
"""

from __future__ import annotations

from consensus.ledger.codes import (
    GOVERNED_VALIDATORS_MAX,
    SCHEDULE_ENTRIES_MAX,
    Code,
    InvalidTransaction,
)
from consensus.ledger.controls import GovernanceParams
from consensus.ledger.records import Role, ValidatorPowers, ValidatorSchedule
from consensus.ledger.view import BlockView
from consensus.types import PublicKey

VALIDATOR_DELAY_HEIGHTS = 2
"""A validator-set change made at height H signs from H + 2 (the next header already commits
to the set for H + 1)."""


def compute_validator_set(view: BlockView) -> ValidatorPowers:
    """Active participants with the validator role, a consensus key and power > 0."""
    pairs: dict[PublicKey, int] = {}
    for participant_id in view.get_participant_ids():
        p = view.get_participant(participant_id)
        if p is None or not p.is_active or not p.has_role(Role.VALIDATOR):
            continue
        if p.validator_key is None or p.validator_power == 0:
            continue
        if p.validator_key in pairs:
            raise InvalidTransaction(
                Code.VALIDATOR_SET_INVALID, "two validators share a consensus key"
            )
        pairs[p.validator_key] = p.validator_power
    return tuple(sorted(pairs.items()))


def validate_validator_set(validators: ValidatorPowers, params: GovernanceParams) -> None:
    """Refuse a set that could never reach quorum (empty, no power), is too large, or is
    smaller than the governance minimum."""
    if not validators or sum(power for _, power in validators) <= 0:
        raise InvalidTransaction(Code.VALIDATOR_SET_INVALID, "the validator set would be empty")
    if len(validators) > GOVERNED_VALIDATORS_MAX:
        raise InvalidTransaction(
            Code.VALIDATOR_SET_INVALID, f"at most {GOVERNED_VALIDATORS_MAX} validators"
        )
    if len(validators) < params.validators_min:
        raise InvalidTransaction(
            Code.VALIDATORS_BELOW_MIN,
            f"{len(validators)} validators, the minimum is {params.validators_min}",
        )


def compute_power_shift(old: ValidatorPowers, new: ValidatorPowers) -> tuple[int, int]:
    """(power removed from ``old``, power added in ``new``); a changed power counts its
    difference on the side it moved."""
    before, after = dict(old), dict(new)
    removed = sum(max(0, power - after.get(key, 0)) for key, power in before.items())
    added = sum(max(0, power - before.get(key, 0)) for key, power in after.items())
    return removed, added


def is_gradual_change(old: ValidatorPowers, new: ValidatorPowers) -> bool:
    """Less than 1/3 of ``old``'s power leaves and less than 1/3 of ``new``'s power is new:
    a quorum (> 2/3) of ``new`` then always holds > 1/3 of its power from ``old``'s members,
    and more than 2/3 of ``old``'s power stays."""
    removed, added = compute_power_shift(old, new)
    total_old = sum(power for _, power in old)
    total_new = sum(power for _, power in new)
    return 3 * removed < total_old and 3 * added < total_new


def apply_validator_set_change(
    view: BlockView, height: int, validators: ValidatorPowers, params: GovernanceParams
) -> None:
    """Schedule ``validators`` from height + 2 if they differ from the set known for then."""
    validate_validator_set(validators, params)
    schedule = view.get_schedule()
    effective = height + VALIDATOR_DELAY_HEIGHTS
    if select_validators(schedule, effective) == validators:
        return
    # A later change in this same block replaces an earlier one (never in force).
    entries = [(h, vset) for h, vset in schedule.entries if h < effective]
    # Keep the newest entry in force at the trust window's start, and everything later: the
    # light client's trust and a restarting node's certificate checks both need them.
    window_start = max(0, height - params.trust_window_heights)
    in_force = [i for i, (h, _) in enumerate(entries) if h <= window_start]
    kept = entries[in_force[-1] :] if in_force else entries
    for _, earlier in kept:
        if not is_gradual_change(earlier, validators):
            raise InvalidTransaction(
                Code.VALIDATOR_POWER_SHIFT,
                "1/3 or more of the voting power would move within the trust window",
            )
    if len(kept) + 1 > SCHEDULE_ENTRIES_MAX:
        raise InvalidTransaction(
            Code.VALIDATOR_SET_INVALID, "too many validator-set changes within the trust window"
        )
    view.put_schedule(ValidatorSchedule((*kept, (effective, validators))))


def select_validators(schedule: ValidatorSchedule, height: int) -> ValidatorPowers | None:
    chosen = None
    for from_height, validators in schedule.entries:
        if from_height <= height:
            chosen = validators
    return chosen
