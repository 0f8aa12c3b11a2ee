"""POLICY_SET: an authority sets (or, with empty terms, lifts) its own policy order on the
network, an instrument, a participant (the accounts a bank keeps) or an account.

Who may set which scope:

- the network: governance (strictly more than the threshold fraction of the active banks; its
  order's authority is ""), or a regulator as its own order;
- an instrument: its issuer, or a regulator;
- a participant: the bank itself (for the accounts it keeps), or a regulator;
- an account: the bank that keeps it, or a regulator.

Orders are per authority, like freezes and pauses, and the strictest applicable limit binds
(``rules/limits.py``), so a bank can tighten its customers' limits but never lift a regulator's
or governance's. Only governance's network order may name the forced-transfer approvers and
the authorities that alone may freeze or pause (``rules/freeze.py``, ``rules/pause.py``): a
bank naming its instrument's freezers would shut regulators out of freezing its own token, and
one regulator naming them would shut out the others, so narrowing who may act is left to the
supermajority that grants the roles in the first place.
"""

from __future__ import annotations

from consensus.ledger.auth import TxContext, require_participant, validate_governance
from consensus.ledger.codes import (
    ACCOUNT_POLICIES_MAX,
    POLICIES_MAX,
    Code,
    InvalidTransaction,
)
from consensus.ledger.events import AuthoritiesNamed, PolicyChanged, TxEvent
from consensus.ledger.policies import (
    GOVERNANCE_AUTHORITY,
    PolicyOrder,
    PolicyScope,
    PolicyTerms,
)
from consensus.ledger.records import Role
from consensus.ledger.rules.tokens import require_account_by_id, require_instrument
from consensus.ledger.txs import PolicySet


def policy_authority(ctx: TxContext, body: PolicySet) -> str:
    """Who the order belongs to: the regulator, governance ("") or the target's owner (the
    issuer, the bank itself, the keeping bank); NOT_AUTHORIZED for anybody else."""
    submitter = require_participant(ctx)
    view, target = ctx.view, body.target
    owner: str | None = None
    if body.scope is PolicyScope.INSTRUMENT:
        owner = require_instrument(view, target).spec.issuer
    elif body.scope is PolicyScope.PARTICIPANT:
        participant = view.get_participant(target)
        if participant is None:
            raise InvalidTransaction(Code.UNKNOWN_PARTICIPANT, f"no participant {target}")
        owner = target if participant.has_role(Role.BANK) else None
    elif body.scope is PolicyScope.ACCOUNT:
        owner = require_account_by_id(view, target).bank
    if submitter.has_role(Role.REGULATOR):
        return submitter.participant_id
    if body.scope is PolicyScope.NETWORK:
        validate_governance(ctx)
        return GOVERNANCE_AUTHORITY
    if owner != submitter.participant_id:
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, "a regulator, or the issuer, bank or keeping bank, sets this"
        )
    return owner


def validate_named(ctx: TxContext, body: PolicySet, authority: str) -> None:
    """Only governance's network order names forced-transfer approvers and the authorities that
    alone may freeze or pause; everyone it names exists."""
    terms = body.terms
    named: list[str] = []
    if terms.force_approval is not None:
        named.extend(terms.force_approval.approvers)
    named.extend(terms.freezers or ())
    named.extend(terms.pausers or ())
    if not named:
        return
    if authority != GOVERNANCE_AUTHORITY:
        raise InvalidTransaction(
            Code.INVALID_ARGUMENT,
            "only governance's network policy names approvers, freezers or pausers",
        )
    for participant_id in named:
        if ctx.view.get_participant(participant_id) is None:
            raise InvalidTransaction(Code.UNKNOWN_PARTICIPANT, f"no participant {participant_id}")


def require_named(names: tuple[str, ...] | None, authority: str, action: str) -> None:
    """If governance's network policy names who may ``action``, ``authority`` is one of them
    (AUTHORITY_NOT_PERMITTED: its role alone is not enough any more)."""
    if names is not None and authority not in names:
        raise InvalidTransaction(
            Code.AUTHORITY_NOT_PERMITTED,
            f"governance's network policy does not name {authority} among those who {action}",
        )


def authorities_event(before: PolicyTerms | None, after: PolicyTerms) -> AuthoritiesNamed | None:
    """Governance's network order names authorities now, or did before: say who (or none)."""
    if not after.names_authorities and (before is None or not before.names_authorities):
        return None
    return AuthoritiesNamed(",".join(after.freezers or ()), ",".join(after.pausers or ()))


def apply_policy_set(ctx: TxContext, body: PolicySet) -> tuple[TxEvent, ...]:
    authority = policy_authority(ctx, body)
    validate_named(ctx, body, authority)
    view = ctx.view
    order = PolicyOrder(body.scope, body.target, authority, body.terms)
    remove = body.terms.is_empty
    book = old_book = view.get_policy_book()
    if body.scope is PolicyScope.ACCOUNT:
        policies = view.get_account_policies(body.target)
        had = policies.get_order(authority) is not None
        new_policies = policies.with_order(order, remove)
        if len(new_policies.orders) > ACCOUNT_POLICIES_MAX:
            raise InvalidTransaction(
                Code.LIMIT_EXCEEDED, f"at most {ACCOUNT_POLICIES_MAX} policies on an account"
            )
        view.put_account_policies(body.target, new_policies)
        book = book.with_account_orders(len(new_policies.orders) - len(policies.orders))
    else:
        had = book.get_order(body.scope, body.target, authority) is not None
        book = book.with_order(order, remove)
        if len(book.orders) > POLICIES_MAX:
            raise InvalidTransaction(Code.LIMIT_EXCEEDED, f"at most {POLICIES_MAX} policies stand")
    if remove and not had:
        raise InvalidTransaction(Code.INVALID_ARGUMENT, f"{authority!r} has no policy here to lift")
    if book != old_book:
        view.put_policy_book(book)
    limits, force = body.terms.limits, body.terms.force_approval
    changed = PolicyChanged(
        int(body.scope), body.target, authority, limits.tx_max, limits.daily_max,
        limits.balance_cap, limits.travel_threshold, 0 if force is None else force.required,
    )  # fmt: skip
    if authority != GOVERNANCE_AUTHORITY:
        return (changed,)
    named = authorities_event(old_book.governance_terms, body.terms)
    return (changed,) if named is None else (changed, named)
