"""Key recovery for the ledger state machine (``test_stateful.LedgerMachine`` mixes this in):
a bank replaces a customer's keys alone, with the owner, with a regulator or with another bank,
with or without a real reference, re-submits a pending recovery, and the owner cancels one.

The promise, checked after every transaction of every rule (``check_recovery_promise``): no
account's keys change but by an ACCOUNT_UPDATE of that account signed by the owner's current
keys, or (with a real reference) co-signed by a second authority (an active regulator, or a
participant the network policy names as a forced-transfer approver, other than the submitter),
or re-submitting the account's pending recovery once its delay has elapsed.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import rule

from consensus.ledger import Code
from consensus.ledger import queries as q
from consensus.ledger.controls import is_real_reference
from consensus.ledger.records import Role
from consensus.ledger.state import State
from consensus.ledger.txs import AccountRecoveryCancel, AccountUpdate, Body

from .world import BANKS, CUSTOMERS, key

_Base: Any = object
"""The mixin's base (the machine supplies ``state``, ``run_one``, ``signer``...)."""

ACCOUNTS = [*CUSTOMERS, "BANKA/zoe", "BANKB/yan"]


def is_second_authority(state: State, submitter: str, names: list[str]) -> bool:
    """Did a participant that may second a recovery sign (as ``state`` held them)?"""
    rule_ = q.get_policy_book(state).force_approval
    named = rule_.approvers if rule_ is not None else ()
    signed = {key(name).public_key for name in names}
    for pid in q.get_participant_ids(state):
        participant = q.get_participant(state, pid)
        if pid == submitter or participant is None or not participant.is_active:
            continue
        if not (participant.has_role(Role.REGULATOR) or pid in named):
            continue
        if len(signed.intersection(participant.keys)) >= participant.threshold:
            return True
    return False


class RecoveryRules(_Base):  # type: ignore[misc]
    def check_recovery_promise(
        self, before: State, submitter: str, body: Body, names: list[str], code: Code
    ) -> None:
        for account_id in ACCOUNTS:
            old = q.get_account(before, account_id)
            new = q.get_account(self.state, account_id)
            if old is None or new is None or old.keys == new.keys:
                continue
            assert code is Code.OK and isinstance(body, AccountUpdate), "keys changed by a tx"
            assert body.account_id == account_id
            signed = {key(name).public_key for name in names}
            by_owner = len(signed.intersection(old.keys)) >= old.threshold
            pending = q.get_pending_recovery(before, account_id)
            elapsed = (
                pending is not None
                and (pending.keys, pending.recovery_ref) == (body.keys, body.recovery_ref)
                and self.state.height >= pending.effective_height
            )
            seconded = is_second_authority(before, submitter, names)
            assert by_owner or elapsed or seconded, (
                "keys changed without the owner, a second authority or an elapsed delay"
            )
            ref = body.recovery_ref
            assert by_owner or (ref is not None and is_real_reference(ref)), "no real reference"
            event(
                f"account keys replaced by {'owner' if by_owner else 'delay' if elapsed else '2nd'}"
            )

    @rule(account=st.sampled_from(ACCOUNTS),
          how=st.sampled_from(["alone", "alone", "owner", "regulator", "other_bank"]),
          ref=st.sampled_from(["case-7", "case-7", None, " "]),
          fresh=st.booleans(), cancel=st.booleans())  # fmt: skip
    def recover_keys(
        self, account: str, how: str, ref: str | None, fresh: bool, cancel: bool
    ) -> None:
        bank = account.split("/")[0]
        pending = q.get_pending_recovery(self.state, account)
        if pending is not None and not fresh:  # re-submit the pending one (applies once due)
            keys, ref = pending.keys, pending.recovery_ref
        else:
            self.key_names.add(f"{account}#r{self.factory.counter}")
            keys = (key(f"{account}#r{self.factory.counter}").public_key,)
        signers = [self.signer_of(bank)]
        if how != "alone":
            other = {"owner": account, "regulator": "REG"}.get(how, BANKS[BANKS.index(bank) - 1])
            signers.append(self.signer_of(other))
        body = AccountUpdate(account, keys, 1, None, None, False, ref)
        code = self.run_one(bank, body, "none", signers=signers)
        record = q.get_account(self.state, account)
        if code is Code.OK and record is not None and record.keys == keys:
            self.signer[account] = self.key_name_of(keys)
        elif cancel and q.get_pending_recovery(self.state, account) is not None:
            event("pending recovery cancelled by its owner")
            code = self.run_one(account, AccountRecoveryCancel(account), "none")
            assert code in {Code.OK, Code.ACCOUNT_CLOSED}, code
            if code is Code.OK:
                assert q.get_pending_recovery(self.state, account) is None
