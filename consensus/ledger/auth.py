"""Who may sign what: submitter authority (M-of-N keys) and governance (M-of-N banks).

Signatures are already known to be valid here (a separate, cacheable step); this module only
decides whether the valid signers are enough, against the current state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.records import (
    Account,
    AccountStatus,
    Participant,
    Role,
    is_account_id,
)
from consensus.ledger.txs import UnsignedTx
from consensus.ledger.view import BlockView
from consensus.types import PublicKey


@dataclass(slots=True)
class TxContext:
    """What a rule sees: the block view, the block's height and time, the tx and its signers."""

    view: BlockView
    height: int
    time_ms: int
    tx: UnsignedTx
    signers: frozenset[PublicKey]
    submitter: Participant | Account


def is_signed_by(
    keys: tuple[PublicKey, ...], threshold: int, signers: frozenset[PublicKey]
) -> bool:
    return len(signers.intersection(keys)) >= threshold


class SubmitterRecords(Protocol):
    """Where a submitter's record is read: a block's view, or (admission, which writes
    nothing) the state itself (``consensus.ledger.admission.StateRecords``)."""

    def get_account(self, account_id: str) -> Account | None: ...

    def get_participant(self, participant_id: str) -> Participant | None: ...


def find_submitter(view: SubmitterRecords, submitter: str) -> Participant | Account:
    """The submitting participant or account as the state holds it (any status)."""
    record: Participant | Account | None
    if is_account_id(submitter):
        record = view.get_account(submitter)
        if record is None:
            raise InvalidTransaction(Code.UNKNOWN_SUBMITTER, f"no account {submitter}")
    else:
        record = view.get_participant(submitter)
        if record is None:
            raise InvalidTransaction(Code.UNKNOWN_SUBMITTER, f"no participant {submitter}")
    return record


def authenticate(
    view: SubmitterRecords, tx: UnsignedTx, signers: frozenset[PublicKey]
) -> Participant | Account:
    """The submitter, if it exists and enough of its registered keys signed (signatures are
    already known to verify). Only an authenticated tx can consume its submitter's nonce."""
    record = find_submitter(view, tx.submitter)
    if not is_signed_by(record.keys, record.threshold, signers):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, f"{tx.submitter}: too few of its registered keys signed"
        )
    return record


def require_active(record: Participant | Account) -> None:
    """A suspended participant or a closed account may not act."""
    if isinstance(record, Account):
        if record.status is not AccountStatus.ACTIVE:
            raise InvalidTransaction(Code.ACCOUNT_CLOSED, f"account {record.account_id} is closed")
    elif not record.is_active:
        raise InvalidTransaction(
            Code.PARTICIPANT_INACTIVE, f"participant {record.participant_id} is suspended"
        )


def require_participant(ctx: TxContext) -> Participant:
    if not isinstance(ctx.submitter, Participant):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, "this transaction is submitted by a participant"
        )
    return ctx.submitter


def require_account(ctx: TxContext) -> Account:
    if not isinstance(ctx.submitter, Account):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, "this transaction is submitted by its account"
        )
    return ctx.submitter


def get_active_banks(view: BlockView) -> list[Participant]:
    banks = []
    for participant_id in view.get_participant_ids():
        participant = view.get_participant(participant_id)
        if participant is not None and participant.is_active and participant.has_role(Role.BANK):
            banks.append(participant)
    return banks


def validate_governance(ctx: TxContext) -> None:
    """The submitter is an active bank, and strictly more than the governance fraction of the
    active banks (each with its own M-of-N keys) signed."""
    submitter = require_participant(ctx)
    if not submitter.has_role(Role.BANK):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, "governance transactions are submitted by a bank"
        )
    params = ctx.view.get_governance()
    banks = get_active_banks(ctx.view)
    signed = sum(1 for bank in banks if is_signed_by(bank.keys, bank.threshold, ctx.signers))
    if not params.is_reached(signed, len(banks)):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED,
            f"governance: {signed} of {len(banks)} active banks signed, more than "
            f"{params.threshold_numerator}/{params.threshold_denominator} needed",
        )
