"""Who may replace an account's owner keys: the owner, or the bank with a safeguard.

A key replacement (ACCOUNT_UPDATE with keys, submitted by the keeping bank) is

* a **rotation** when the owner's current keys co-sign it: it applies at once;
* otherwise a **recovery** (the owner lost its keys, or the bank acts against it): it needs a
  real reference (``recovery_ref``, non-blank and bounded, like a legal basis) and either a
  second authority's co-signature (an active regulator, or an active participant the network
  policy names as a forced-transfer approver; never the submitting bank itself), applied at
  once, or the governance change delay: the first submission records a pending recovery that
  the owner may cancel (ACCOUNT_RECOVERY_CANCEL, signed by its current keys); the same update
  submitted again from ``effective_height`` on applies it.

So no account's keys change without the owner's signature, a second authority, or an elapsed
delay the owner could have used to object. The recovery event carries the reference and who
co-signed it.
"""

from __future__ import annotations

from consensus.ledger.auth import TxContext, is_signed_by, require_account
from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.controls import PendingRecovery, is_real_reference
from consensus.ledger.events import (
    AccountKeysRecovered,
    AccountKeysRotated,
    AccountRecoveryCancelled,
    AccountRecoveryProposed,
    TxEvent,
)
from consensus.ledger.records import Account, Role
from consensus.ledger.txs import AccountRecoveryCancel, AccountUpdate


def find_second_authority(ctx: TxContext) -> str | None:
    """The first (by id) active participant other than the submitter that may second a
    recovery and whose keys signed this tx."""
    view = ctx.view
    rule = view.get_policy_book().force_approval
    named = rule.approvers if rule is not None else ()
    for participant_id in view.get_participant_ids():
        if participant_id == ctx.tx.submitter:
            continue
        participant = view.get_participant(participant_id)
        if participant is None or not participant.is_active:
            continue
        if not (participant.has_role(Role.REGULATOR) or participant_id in named):
            continue
        if is_signed_by(participant.keys, participant.threshold, ctx.signers):
            return participant_id
    return None


def authorize_key_change(ctx: TxContext, account: Account, body: AccountUpdate) -> TxEvent:
    """The event of ``body``'s key replacement if it may apply now, or an
    AccountRecoveryProposed once it is recorded as pending (the caller then applies nothing
    else); raises the typed refusal otherwise."""
    assert body.keys is not None and body.threshold is not None
    view, aid = ctx.view, account.account_id
    pending = view.get_pending_recovery(aid)
    if is_signed_by(account.keys, account.threshold, ctx.signers):
        if pending is not None:
            view.put_pending_recovery(aid, None)
        return AccountKeysRotated(aid)
    ref = body.recovery_ref
    if ref is None or not is_real_reference(ref):
        raise InvalidTransaction(
            Code.RECOVERY_REF_REQUIRED, "a recovery without the owner's keys needs a reference"
        )
    second = find_second_authority(ctx)
    is_same = pending is not None and (pending.keys, pending.threshold, pending.recovery_ref) == (
        body.keys,
        body.threshold,
        ref,
    )
    if second is None and is_same and pending is not None and ctx.height < pending.effective_height:
        raise InvalidTransaction(
            Code.RECOVERY_NOT_DUE, f"{aid} may cancel until height {pending.effective_height}"
        )
    if second is not None or is_same:
        if pending is not None:
            view.put_pending_recovery(aid, None)
        return AccountKeysRecovered(aid, ref, second or "")
    effective = ctx.height + view.get_governance().change_delay_heights
    view.put_pending_recovery(
        aid, PendingRecovery(body.keys, body.threshold, ref, ctx.height, effective)
    )
    return AccountRecoveryProposed(aid, ref, effective)


def apply_account_recovery_cancel(
    ctx: TxContext, body: AccountRecoveryCancel
) -> tuple[TxEvent, ...]:
    account = require_account(ctx)
    aid = body.account_id
    if account.account_id != aid:
        raise InvalidTransaction(Code.NOT_AUTHORIZED, f"only {aid} cancels a recovery of itself")
    if ctx.view.get_pending_recovery(aid) is None:
        raise InvalidTransaction(Code.NO_PENDING_RECOVERY, f"no pending recovery of {aid}")
    ctx.view.put_pending_recovery(aid, None)
    return (AccountRecoveryCancelled(aid),)
