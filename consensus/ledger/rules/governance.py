"""Governance rules: participants (and so validators), consent and delay, governance parameters.

No coalition short of the governance threshold changes anything here, and even a coalition
above it cannot take a participant over:

* a governance tx needs strictly more than the threshold fraction of the active banks
  (``auth.validate_governance``); the fraction changes only by GOVERNANCE_PARAMS_SET, itself a
  governance tx;
* a change of an existing participant's keys, roles or status applies at once only with that
  participant's own signature; without it, it becomes a pending change the participant may
  cancel for ``change_delay_heights``, applied only when governance submits it again after that;
* a settlement agent's record changes only with the settlement agent's signature, delay or not.
"""

from __future__ import annotations

from consensus.ledger.auth import (
    TxContext,
    get_active_banks,
    is_signed_by,
    require_participant,
    validate_governance,
)
from consensus.ledger.codes import PARTICIPANTS_MAX, Code, InvalidTransaction
from consensus.ledger.controls import PendingChange
from consensus.ledger.events import (
    GovernanceParamsChanged,
    ParticipantChangeCancelled,
    ParticipantChangeProposed,
    ParticipantUpserted,
    TxEvent,
)
from consensus.ledger.records import Participant, Role
from consensus.ledger.rules.validators import (
    VALIDATOR_DELAY_HEIGHTS,
    apply_validator_set_change,
    compute_validator_set,
    select_validators,
)
from consensus.ledger.txs import GovernanceParamsSet, ParticipantChangeCancel, ParticipantUpsert


def is_control_change(old: Participant, new: Participant) -> bool:
    """Does ``new`` change what only the participant itself may consent to: its keys (signing
    or consensus), its roles or its status?"""
    return (
        old.keys != new.keys
        or old.threshold != new.threshold
        or old.validator_key != new.validator_key
        or old.roles != new.roles
        or old.status != new.status
    )


def apply_participant_upsert(ctx: TxContext, body: ParticipantUpsert) -> tuple[TxEvent, ...]:
    validate_governance(ctx)
    view, new = ctx.view, body.participant
    pid = new.participant_id
    old = view.get_participant(pid)
    if old is None:
        if len(view.get_participant_ids()) >= PARTICIPANTS_MAX:
            raise InvalidTransaction(
                Code.LIMIT_EXCEEDED, f"at most {PARTICIPANTS_MAX} participants"
            )
        return apply_participant(ctx, new, created=True)
    consented = is_signed_by(old.keys, old.threshold, ctx.signers)
    if old.has_role(Role.SETTLEMENT_AGENT) and not consented:
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, f"a change of settlement agent {pid} needs its signature"
        )
    if consented or not is_control_change(old, new):
        return apply_participant(ctx, new, created=False)
    pending = view.get_pending_change(pid)
    if pending is not None and pending.participant == new:
        if ctx.height < pending.effective_height:
            raise InvalidTransaction(
                Code.CHANGE_NOT_DUE, f"{pid} may cancel until height {pending.effective_height}"
            )
        return apply_participant(ctx, new, created=False)
    effective = ctx.height + view.get_governance().change_delay_heights
    view.put_pending_change(pid, PendingChange(new, ctx.height, effective))
    return (ParticipantChangeProposed(pid, effective),)


def apply_participant(ctx: TxContext, participant: Participant, created: bool) -> tuple[TxEvent]:
    """Write the record (dropping any pending change of it) and reschedule the validators."""
    view = ctx.view
    pid = participant.participant_id
    if view.get_pending_change(pid) is not None:
        view.put_pending_change(pid, None)
    view.put_participant(participant)
    if not get_active_banks(view):
        raise InvalidTransaction(Code.GOVERNANCE_UNREACHABLE, "no active bank would be left")
    params = view.get_governance()
    apply_validator_set_change(view, ctx.height, compute_validator_set(view), params)
    return (ParticipantUpserted(pid, created),)


def apply_participant_change_cancel(
    ctx: TxContext, body: ParticipantChangeCancel
) -> tuple[TxEvent, ...]:
    submitter = require_participant(ctx)
    pid = body.participant_id
    if submitter.participant_id != pid:
        raise InvalidTransaction(Code.NOT_AUTHORIZED, f"only {pid} cancels a change of itself")
    if ctx.view.get_pending_change(pid) is None:
        raise InvalidTransaction(Code.NO_PENDING_CHANGE, f"no pending change of {pid}")
    ctx.view.put_pending_change(pid, None)
    return (ParticipantChangeCancelled(pid),)


def apply_governance_params_set(ctx: TxContext, body: GovernanceParamsSet) -> tuple[TxEvent, ...]:
    validate_governance(ctx)
    params, view = body.params, ctx.view
    scheduled = select_validators(view.get_schedule(), ctx.height + VALIDATOR_DELAY_HEIGHTS)
    if scheduled is not None and len(scheduled) < params.validators_min:
        raise InvalidTransaction(
            Code.VALIDATORS_BELOW_MIN,
            f"the set has {len(scheduled)} validators, below the new minimum",
        )
    view.put_governance(params)
    return (
        GovernanceParamsChanged(
            params.threshold_numerator,
            params.threshold_denominator,
            params.change_delay_heights,
            params.trust_window_heights,
            params.validators_min,
        ),
    )
