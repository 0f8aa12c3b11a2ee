"""The rulebook's rules for the ledger state machine (``test_stateful.LedgerMachine`` mixes this
in): PAUSE, HOLD_CREATE / HOLD_EXECUTE / HOLD_CANCEL and FORCED_TRANSFER, with their promises:

- the held amount of every balance is exactly the sum of its active holds (so holds never
  exceed totals: frozen + held <= total is checked by the machine's conservation invariant);
- an executed multi-hold settlement moves every leg (each payer down by its legs, every hold
  executed) or nothing (every hold still active, no balance changed);
- while the network, an instrument or a participant is paused, no accepted transaction but a
  control transaction changes a balance total of a paused instrument, of an instrument whose
  issuer is paused or of an account kept by a paused participant.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import rule

from consensus import codec, crypto
from consensus.ledger import Code
from consensus.ledger import queries as q
from consensus.ledger.holds import Hold, HoldRef, HoldStatus, HoldTerms
from consensus.ledger.pauses import PauseBook, PauseScope
from consensus.ledger.state import BALANCE_PREFIX, HOLD_PREFIX, SEPARATOR, State
from consensus.ledger.txs import (
    Body,
    ForcedTransfer,
    HoldCancel,
    HoldCreate,
    HoldExecute,
    Mint,
    Pause,
    Redeem,
    Transfer,
)

from .world import BANKS, CUSTOMERS, GENESIS_TIME_MS

_Base: Any = object
"""The mixin's base: at run time ``object``; the machine (``test_stateful.LedgerMachine``)
supplies ``state``, ``run_one``, ``draw_payment``... (typed Any here: the modules import each
other)."""

SECRET = b"stateful-secret"
LOCK = crypto.sha256(SECRET)
MOVEMENTS = (Mint, Redeem, Transfer, HoldCreate, HoldExecute)
"""What a pause stops; everything else is a control transaction."""
PAUSE_TARGETS = [
    (PauseScope.NETWORK, ""),
    (PauseScope.INSTRUMENT, "BANKA:USD"),
    (PauseScope.INSTRUMENT, "CB:USD"),
    (PauseScope.PARTICIPANT, "BANKB"),
    (PauseScope.PARTICIPANT, "BANKC"),
]


def block_time(height: int) -> int:
    """The machine's block time of ``height`` (``LedgerMachine.execute``)."""
    return GENESIS_TIME_MS + 1_000 * height


def received_instrument(hold: Hold) -> str:
    """What the payee of ``hold`` receives: its own bank's token of the hold's currency."""
    return f"{hold.terms.payee.split('/')[0]}:{hold.terms.instrument_id.split(':')[1]}"


def balance_totals(state: State) -> dict[tuple[str, str], int]:
    totals = {}
    for key, value in state.items():
        if key[:1] == BALANCE_PREFIX:
            account, _, instrument = key[1:].partition(SEPARATOR)
            totals[(account.decode(), instrument.decode())] = codec.decode(value)[0]
    return totals


def is_touched_by_pause(book: PauseBook, account: str, instrument: str) -> bool:
    if book.is_paused(PauseScope.NETWORK, ""):
        return True
    if book.is_paused(PauseScope.INSTRUMENT, instrument):
        return True
    issuer, keeper = instrument.split(":")[0], account.split("/")[0]
    return book.is_paused(PauseScope.PARTICIPANT, issuer) or book.is_paused(
        PauseScope.PARTICIPANT, keeper
    )


class RulebookRules(_Base):  # type: ignore[misc]  # a mixin of LedgerMachine
    """Rules and checks for the rulebook's transaction types (see the module docstring)."""

    def check_pause_promise(self, before: State, body: Body, code: Code) -> None:
        """Called by ``run_one`` after every tx: a paused target moved only by control txs."""
        book = q.get_pause_book(before)
        if code is not Code.OK or not book.orders:
            return
        old, new = balance_totals(before), balance_totals(self.state)
        changed = [k for k in old.keys() | new.keys() if old.get(k, 0) != new.get(k, 0)]
        touched = [k for k in changed if is_touched_by_pause(book, *k)]
        if touched:
            event("a control tx moved a paused target")
            assert not isinstance(body, MOVEMENTS), f"{type(body).__name__} moved {touched}"

    @rule(authority=st.sampled_from(["REG", "REG", "CB", "BANKA", "BANKB"]),
          what=st.sampled_from(PAUSE_TARGETS), paused=st.booleans(),
          mutation=st.sampled_from(["none"] * 4 + ["bad_nonce"]))  # fmt: skip
    def pause(
        self, authority: str, what: tuple[PauseScope, str], paused: bool, mutation: str
    ) -> None:
        scope, name = what
        code = self.run_one(authority, Pause(scope, name, paused, "ops-ref"), mutation)
        if code is Code.OK:
            book = q.get_pause_book(self.state)
            assert book.has_order(scope, name, authority) == paused

    @rule(data=st.data(), what=st.sampled_from(PAUSE_TARGETS), lift=st.booleans())
    def pay_through_a_pause(
        self, data: st.DataObject, what: tuple[PauseScope, str], lift: bool
    ) -> None:
        """The regulator pauses a target, then someone pays (same bank or across banks): the
        pause promise (``check_pause_promise``) judges the payment."""
        self.pause("REG", what, True, "none")
        payer, amount = self.draw_payment(data)
        self.transfer_one(payer, self.draw_payee(data, payer), amount, None, "none")
        if lift:
            self.pause("REG", what, False, "none")

    def active_holds(self) -> list[Hold]:
        holds = []
        for key, value in self.state.items():
            if key[:1] == HOLD_PREFIX:
                hold = Hold.from_wire(codec.decode(value))
                if hold.status is HoldStatus.ACTIVE:
                    holds.append(hold)
        return holds

    @rule(data=st.data(), locked=st.booleans(), revocable=st.booleans(),
          executor=st.sampled_from([None, "CB", "BANKA/bob"]), expiry_blocks=st.integers(1, 8),
          not_before_blocks=st.sampled_from([0, 0, 2]))  # fmt: skip
    def hold_create(
        self, data: st.DataObject, locked: bool, revocable: bool, executor: str | None,
        expiry_blocks: int, not_before_blocks: int,
    ) -> None:  # fmt: skip
        payer, amount = self.draw_payment(data)
        payee = self.draw_payee(data, payer)
        now = block_time(self.state.height + 1)
        not_before = now + 1_000 * not_before_blocks if not_before_blocks else 0
        terms = HoldTerms(
            f"h{self.factory.counter}", payee, f"{payer.split('/')[0]}:USD", amount,
            not_before, now + 1_000 * expiry_blocks, LOCK if locked else None, executor, revocable,
        )  # fmt: skip
        code = self.run_one(payer, HoldCreate(terms), "none")
        if code is Code.OK:
            event("hold created")

    @rule(data=st.data(), count=st.integers(1, 3), right_secret=st.booleans(),
          by_executor=st.booleans())  # fmt: skip
    def hold_execute(
        self, data: st.DataObject, count: int, right_secret: bool, by_executor: bool
    ) -> None:
        holds = self.active_holds()
        if not holds:
            return
        if by_executor:  # mostly legs one executor may settle together (DvP, PvP)
            executor = data.draw(st.sampled_from(sorted({h.executor for h in holds})))
            holds = [h for h in holds if h.executor == executor]
        chosen = data.draw(st.lists(st.sampled_from(holds), min_size=1, max_size=count,
                                    unique_by=lambda h: (h.payer, h.terms.hold_id)))  # fmt: skip
        secret = SECRET if right_secret else b"wrong"
        legs = sorted(
            (HoldRef(h.payer, h.terms.hold_id, secret if h.terms.hash_lock else None)
             for h in chosen),
            key=lambda r: (r.payer, r.hold_id),
        )  # fmt: skip
        submitter = chosen[0].executor if by_executor else data.draw(st.sampled_from(CUSTOMERS))
        before = balance_totals(self.state)
        signers = [self.signer_of(submitter)]
        code = self.run_one(submitter, HoldExecute(tuple(legs)), "none", signers=signers)
        self.check_all_legs_or_none(chosen, before, code)

    @rule(payers=st.sampled_from([("BANKA/alice", "BANKB/carol"), ("BANKB/carol", "BANKC/dave"),
                                  ("BANKA/bob", "BANKA/alice")]),
          amounts=st.tuples(st.sampled_from([1, 500, 20_000]), st.sampled_from([1, 700])),
          locked=st.booleans(), right_secret=st.just(True) | st.booleans())  # fmt: skip
    def settlement(
        self, payers: tuple[str, str], amounts: tuple[int, int], locked: bool, right_secret: bool
    ) -> None:
        """Two payers each hold funds for the other (DvP / PvP shape), the agent CB settles
        both legs in one HOLD_EXECUTE: both legs move or neither."""
        first, second = payers
        now = block_time(self.state.height + 1)
        made = []
        for payer, payee, amount in ((first, second, amounts[0]), (second, first, amounts[1])):
            terms = HoldTerms(
                f"s{self.factory.counter}", payee, f"{payer.split('/')[0]}:USD", amount, 0,
                now + 20_000, LOCK if locked else None, "CB", False,
            )  # fmt: skip
            if self.run_one(payer, HoldCreate(terms), "none") is Code.OK:
                made.append(q.get_hold(self.state, payer, terms.hold_id))
        chosen = [hold for hold in made if hold is not None]
        if not chosen:
            return
        secret = SECRET if right_secret else b"wrong"
        legs = sorted(
            (HoldRef(h.payer, h.terms.hold_id, secret if locked else None) for h in chosen),
            key=lambda r: (r.payer, r.hold_id),
        )
        before = balance_totals(self.state)
        code = self.run_one("CB", HoldExecute(tuple(legs)), "none")
        self.check_all_legs_or_none(chosen, before, code)

    def check_all_legs_or_none(self, chosen: list[Hold], before: Any, code: Code) -> None:
        after = balance_totals(self.state)
        statuses = [q.get_hold(self.state, h.payer, h.terms.hold_id) for h in chosen]
        if code is not Code.OK:
            assert all(s is not None and s.status is HoldStatus.ACTIVE for s in statuses)
            assert before == after, "a rejected settlement moved a balance"
            return
        event(f"hold settlement of {len(chosen)} leg(s) executed")
        assert all(s is not None and s.status is HoldStatus.EXECUTED for s in statuses)
        paid: dict[tuple[str, str], int] = defaultdict(int)
        for hold in chosen:
            paid[(hold.payer, hold.terms.instrument_id)] += hold.terms.amount
        for (payer, instrument), amount in paid.items():
            received = sum(
                h.terms.amount for h in chosen
                if h.terms.payee == payer and received_instrument(h) == instrument
            )  # fmt: skip
            moved = before.get((payer, instrument), 0) - after.get((payer, instrument), 0)
            assert moved == amount - received, "a leg of the settlement did not move"

    @rule(data=st.data(), by=st.sampled_from(["payer", "payee", "executor", "stranger"]),
          later=st.integers(0, 8))  # fmt: skip
    def hold_cancel(self, data: st.DataObject, by: str, later: int) -> None:
        holds = self.active_holds()
        if not holds:
            return
        if later:
            self.advance(later)
        hold = data.draw(st.sampled_from(holds))
        submitter = {
            "payer": hold.payer,
            "payee": hold.terms.payee,
            "executor": hold.executor,
            "stranger": "BANKC/dave",
        }[by]
        code = self.run_one(submitter, HoldCancel(hold.payer, hold.terms.hold_id), "none")
        if code is Code.OK:
            event("hold cancelled")

    @rule(authority=st.sampled_from(["REG", "REG", "BANKA"]),
          source=st.sampled_from(CUSTOMERS), payee=st.sampled_from(CUSTOMERS),
          amount=st.sampled_from([1, 100, 5_000, 10_000, 20_000]),
          release=st.booleans())  # fmt: skip
    def forced_transfer(
        self, authority: str, source: str, payee: str, amount: int, release: bool,
        cosigner: str | None = None,
    ) -> None:  # fmt: skip
        instrument = f"{source.split('/')[0]}:USD"
        holds = [h for h in self.active_holds() if h.payer == source]
        hold_id = holds[0].terms.hold_id if release and holds else None
        body = ForcedTransfer(source, payee, instrument, amount, "court-order", hold_id)
        before = q.get_balance(self.state, source, instrument)
        signers = [self.signer_of(authority)] + ([cosigner] if cosigner else [])
        code = self.run_one(authority, body, "none", signers=signers)
        if code is Code.OK:
            event("forced transfer" + (" of frozen funds" if before.free < amount else ""))
            assert authority == "REG"
            book = q.get_freeze_book(self.state, source)  # the orders were cut: follow them
            orders = book.orders if book is not None else ()
            self.freezes[source] = {
                o.authority: (o.account_frozen, dict(o.amounts)) for o in orders
            }

    def check_holds_match_held(self) -> None:
        """Invariant: every balance's held amount is the sum of its active holds."""
        held: dict[tuple[str, str], int] = defaultdict(int)
        for hold in self.active_holds():
            held[(hold.payer, hold.terms.instrument_id)] += hold.terms.amount
        for key, value in self.state.items():
            if key[:1] == BALANCE_PREFIX:
                account, _, instrument = key[1:].partition(SEPARATOR)
                pair = (account.decode(), instrument.decode())
                assert codec.decode(value)[2] == held.pop(pair, 0), f"held of {pair}"
        assert not held, f"active holds without a balance: {held}"


__all__ = ["BANKS", "RulebookRules"]
