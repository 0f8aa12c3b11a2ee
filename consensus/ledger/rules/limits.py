"""Enforcing policies on payments: per-transaction and daily maxima, balance caps, and the
travel-rule threshold (the records: ``policies.py``; setting them: ``rules/policy.py``).

Which orders apply: to what a payer sends, the network's, its instrument's, its bank's and its
account's; to what a payee receives, the network's, the received instrument's, its bank's and
its account's; the travel-rule threshold of both sides. Each limit is the strictest of them.

Cost: a ledger without policies pays one cached probe per payment (``PolicyBook.is_empty``);
account orders are read only while some stand.
"""

from __future__ import annotations

from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.events import TravelRuleRecorded, TxEvent
from consensus.ledger.policies import (
    DAY_MS,
    NO_LIMITS,
    DailySpend,
    Limits,
    PolicyBook,
    PolicyScope,
    TravelRecord,
)
from consensus.ledger.records import Account, InstrumentKind
from consensus.ledger.view import BlockView


def limits_of(view: BlockView, book: PolicyBook, account: Account, instrument_id: str) -> Limits:
    """The strictest limits of every order that applies to ``account`` moving ``instrument_id``."""
    limits = (
        book.limits_for(PolicyScope.NETWORK, "")
        .tighter(book.limits_for(PolicyScope.INSTRUMENT, instrument_id))
        .tighter(book.limits_for(PolicyScope.PARTICIPANT, account.bank))
    )
    if book.account_orders:
        limits = limits.tighter(view.get_account_policies(account.account_id).limits)
    return limits


def check_payment(
    view: BlockView,
    time_ms: int,
    payer: Account,
    payee: Account,
    instruments: tuple[str, str],
    amount: int,
    travel: TravelRecord | None,
    *,
    settles: bool,
) -> None:
    """Raise the typed code of the first policy ``amount`` breaks, paid by ``payer`` in
    ``instruments[0]`` and received by ``payee`` in ``instruments[1]``. With ``settles`` (the
    value moves now: TRANSFER, HOLD_EXECUTE) the daily maximum is charged and the balance cap
    checked; without (HOLD_CREATE) only the per-transaction maximum and the travel rule."""
    book = view.get_policy_book()
    if book.is_empty:
        return
    sent = limits_of(view, book, payer, instruments[0])
    received = limits_of(view, book, payee, instruments[1])
    if sent.tx_max is not None and amount > sent.tx_max:
        raise InvalidTransaction(
            Code.TX_LIMIT_EXCEEDED, f"{amount} is above the per-transaction maximum {sent.tx_max}"
        )
    threshold = sent.tighter(Limits(travel_threshold=received.travel_threshold)).travel_threshold
    if travel is None and threshold is not None and amount >= threshold:
        raise InvalidTransaction(
            Code.TRAVEL_RULE_MISSING, f"a payment of {threshold} or more needs travel-rule data"
        )
    if not settles:
        return
    if sent.daily_max is not None:
        charge_daily(view, time_ms, payer.account_id, instruments[0], amount, sent.daily_max)
    check_balance_cap(view, payee, instruments[1], amount, received)


def charge_daily(
    view: BlockView, time_ms: int, account_id: str, instrument_id: str, amount: int, most: int
) -> None:
    """Add ``amount`` to what the account sent today (UTC day of block time), within ``most``."""
    day = time_ms // DAY_MS
    spend = view.get_daily_spend(account_id, instrument_id)
    spent = spend.spent if spend is not None and spend.day == day else 0
    if spent + amount > most:
        raise InvalidTransaction(
            Code.DAILY_LIMIT_EXCEEDED,
            f"{account_id} sent {spent} of {instrument_id} today; the daily maximum is {most}",
        )
    view.put_daily_spend(account_id, instrument_id, DailySpend(day, spent + amount))


def check_balance_cap(
    view: BlockView, account: Account, instrument_id: str, amount: int, limits: Limits | None
) -> None:
    """A credit of ``amount`` keeps the account's deposit-token balance within its cap
    (settlement assets are a bank's liquidity, not a holding: never capped). ``limits``: the
    account's limits if known, else looked up."""
    if limits is None:
        book = view.get_policy_book()
        if book.is_empty:
            return
        limits = limits_of(view, book, account, instrument_id)
    cap = limits.balance_cap
    if cap is None or limits is NO_LIMITS:
        return
    instrument = view.get_instrument(instrument_id)
    if instrument is None or instrument.spec.kind is not InstrumentKind.DEPOSIT_TOKEN:
        return
    total = view.get_balance(account.account_id, instrument_id).total
    if total + amount > cap:
        raise InvalidTransaction(
            Code.BALANCE_CAP_EXCEEDED,
            f"{account.account_id} would hold more than its cap {cap} of {instrument_id}",
        )


def travel_events(
    payer: str, payee: str, amount: int, travel: TravelRecord | None
) -> tuple[TxEvent, ...]:
    """The event recording a payment's travel-rule record, if it carries one."""
    if travel is None:
        return ()
    return (
        TravelRuleRecorded(payer, payee, amount, travel.ivms101_hash.hex(), travel.purpose_code),
    )
