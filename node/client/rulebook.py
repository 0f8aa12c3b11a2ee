"""Body builders for the rulebook's control and settlement transactions: PAUSE, holds
(HOLD_CREATE / HOLD_EXECUTE / HOLD_CANCEL, for DvP and PvP) and FORCED_TRANSFER.

Arguments are named as the ledger names them (``docs/domain.md``); each builder returns a body
for :func:`node.client.make_tx` or a client's ``prepare``.
"""

from __future__ import annotations

from collections.abc import Iterable

from consensus import crypto
from consensus.ledger.holds import HoldRef, HoldTerms
from consensus.ledger.pauses import PauseScope
from consensus.ledger.policies import ApprovalRule, TravelRecord
from consensus.ledger.txs import ForcedTransfer, HoldCancel, HoldCreate, HoldExecute, Pause

_SCOPES = {
    "network": PauseScope.NETWORK,
    "instrument": PauseScope.INSTRUMENT,
    "participant": PauseScope.PARTICIPANT,
}


def pause_body(scope: str, target: str, reason_ref: str, *, paused: bool = True) -> Pause:
    """Pause (or, with ``paused=False``, lift the submitter's own pause of) ``"network"`` (target
    ``""``), an ``"instrument"`` or a ``"participant"``."""
    return Pause(_SCOPES[scope], target, paused, reason_ref)


def hash_lock_of(preimage: bytes) -> bytes:
    """The hash lock a hold stores for ``preimage`` (sha256)."""
    return crypto.sha256(preimage)


def hold_create_body(
    hold_id: str,
    payee: str,
    instrument_id: str,
    amount: int,
    expiry_ms: int,
    *,
    not_before_ms: int = 0,
    hash_lock: bytes | None = None,
    executor: str | None = None,
    revocable: bool = False,
    approvers: Iterable[str] = (),
    approvals_required: int = 0,
    travel: TravelRecord | None = None,
) -> HoldCreate:
    """The submitting account holds ``amount`` for ``payee`` until ``expiry_ms`` (block time);
    with ``approvers``, ``approvals_required`` of them (0: all) must HOLD_APPROVE it before it
    executes."""
    named = tuple(sorted(approvers))
    approval = ApprovalRule(approvals_required or len(named), named) if named else None
    terms = HoldTerms(
        hold_id,
        payee,
        instrument_id,
        amount,
        not_before_ms,
        expiry_ms,
        hash_lock,
        executor,
        revocable,
        approval,
        travel,
    )
    return HoldCreate(terms)


def hold_execute_body(legs: Iterable[tuple[str, str, bytes | None]]) -> HoldExecute:
    """Settle every ``(payer, hold_id, preimage)`` leg atomically (legs are put in the canonical
    order here)."""
    refs = sorted((HoldRef(payer, hid, pre) for payer, hid, pre in legs), key=_leg_order)
    return HoldExecute(tuple(refs))


def _leg_order(ref: HoldRef) -> tuple[str, str]:
    return ref.payer, ref.hold_id


def hold_cancel_body(payer: str, hold_id: str) -> HoldCancel:
    return HoldCancel(payer, hold_id)


def forced_transfer_body(
    from_account: str,
    to_account: str,
    instrument_id: str,
    amount: int,
    legal_basis_ref: str,
    *,
    release_hold_id: str | None = None,
) -> ForcedTransfer:
    return ForcedTransfer(
        from_account, to_account, instrument_id, amount, legal_basis_ref, release_hold_id
    )
