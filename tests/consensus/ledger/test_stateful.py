"""Random sequences of every tx type, valid and invalid, through ``execute_block`` (policies
and approvals: ``stateful_policy.py``; the rulebook's pause, holds and forced transfers:
``stateful_rulebook.py``; authorities named for freezing, pausing and forcing:
``stateful_authorities.py``).

After every step: money is conserved per instrument, free >= 0 everywhere, a rejected tx left
the ledger byte-identical but for its submitter's nonce and key, no (submitter, idempotency
key) or nonce was accepted twice, a cross-bank transfer moved exactly its amount of settlement
asset, and ``State.from_kv`` rebuilds the same state. Governance: no coalition below the
threshold changes another participant's keys (and above it only with the participant's
signature or after an uncancelled delay), and no accepted validator-set change breaks quorum
(against every set in force within the trust window, less than 1/3 of the power moved, never
fewer validators than the minimum). At the end the whole history is replayed from genesis to
the same app hash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from consensus import codec
from consensus.codec import CodecError
from consensus.ledger import Code, State, decode_tx, execute_block, get_validators
from consensus.ledger import queries as q
from consensus.ledger.controls import GovernanceParams
from consensus.ledger.records import (
    AccountStatus,
    InstrumentKind,
    InstrumentSpec,
    Participant,
    ParticipantStatus,
    Role,
)
from consensus.ledger.state import BALANCE_PREFIX, INSTRUMENT_PREFIX, META_KEY, SEPARATOR
from consensus.ledger.txs import (
    AccountOpen,
    AccountUpdate,
    Body,
    Freeze,
    GovernanceParamsSet,
    InstrumentRegister,
    Mint,
    ParticipantChangeCancel,
    ParticipantUpsert,
    Redeem,
    Transfer,
    ValidUntil,
    ValidUntilKind,
)

from .stateful_authorities import AuthorityRules
from .stateful_policy import PolicyRules, fresh_daily
from .stateful_recovery import RecoveryRules
from .stateful_rulebook import RulebookRules
from .test_rules import check_rejection_writes
from .world import (
    BANKS,
    CHAIN_ID,
    CUSTOMERS,
    FAR_FUTURE_MS,
    GENESIS_TIME_MS,
    TxFactory,
    genesis_state,
    key,
)

MUTATIONS = ["none"] * 6 + ["bad_nonce", "reused_key", "wrong_signer", "expired", "wrong_chain"]
EXPECTED = {
    "bad_nonce": Code.BAD_NONCE,
    "reused_key": Code.DUPLICATE_IDEMPOTENCY_KEY,
    "wrong_signer": Code.NOT_AUTHORIZED,
    "expired": Code.EXPIRED,
    "wrong_chain": Code.WRONG_CHAIN,
}
SUBMITTER_FAILURES = {Code.ACCOUNT_CLOSED, Code.PARTICIPANT_INACTIVE, Code.UNKNOWN_SUBMITTER}
ACCOUNTS = [*CUSTOMERS, "BANKA/zoe", "BANKB/yan", "BANKC/ghost"]
INSTRUMENTS = [f"{b}:USD" for b in BANKS] + ["CB:USD", "BANKA:HKD", "CB:HKD"]
amounts = st.sampled_from([1, 7, 100, 2_500, 9_999, 10_000, 10_001, 10**6, 2**63 - 1])


def ledger_kv(state: State) -> dict[bytes, bytes]:
    kv = state.to_kv()
    kv.pop(META_KEY)
    return kv


class LedgerMachine(
    PolicyRules, RulebookRules, RecoveryRules, AuthorityRules, RuleBasedStateMachine
):
    @initialize()
    def start(self) -> None:
        self.genesis = genesis_state()
        self.state = self.genesis
        self.factory = TxFactory()
        self.blocks: list[tuple[list[bytes], int]] = []
        self.signer: dict[str, str] = {}  # account or participant -> key name (after recovery)
        self.used_keys: dict[str, list[str]] = defaultdict(list)
        self.accepted: set[tuple[str, str]] = set()
        self.last_nonce: dict[str, int] = {}
        self.transfers_accepted = 0
        self.daily = fresh_daily()
        self.freezes: dict[str, dict[str, tuple[bool, dict[str, int]]]] = defaultdict(dict)
        """account -> authority -> (account flag, frozen amount by instrument) it ordered."""
        self.key_names = {"CB", "REG", *BANKS, "BANKD"}
        """Names of every participant key made so far (``world.key(name)``)."""
        self.sets = {h: get_validators(self.genesis, h) for h in (1, 2)}
        """The validator set of each height, as scheduled when it became known."""

    # -- plumbing ----------------------------------------------------------------------------

    def signer_of(self, submitter: str) -> str:
        return self.signer.get(submitter, submitter)

    def build(
        self, submitter: str, body: Body, mutation: str, signers: list[str] | None = None
    ) -> bytes:
        nonce = q.get_nonce(self.state, submitter) + 1
        kw: dict[str, Any] = {"nonce": nonce}
        if mutation == "bad_nonce":
            kw["nonce"] = nonce - 1 if nonce > 1 else nonce + 1  # a repeat, or else a gap
        if mutation == "reused_key" and self.used_keys[submitter]:
            kw["idempotency_key"] = self.used_keys[submitter][0]
        if mutation == "expired":
            kw["valid_until"] = ValidUntil(ValidUntilKind.HEIGHT, self.state.height)
        if mutation == "wrong_chain":
            kw["chain_id"] = CHAIN_ID + "-other"
        names = signers or [self.signer_of(submitter)]
        if mutation == "wrong_signer":
            names = ["intruder"]
        return self.factory.raw(submitter, body, signers=names, **kw)

    def execute(self, raws: list[bytes]) -> list[Code]:
        height = self.state.height + 1
        time_ms = GENESIS_TIME_MS + 1_000 * height
        result = execute_block(self.state, raws, height, time_ms)
        self.blocks.append((raws, time_ms))
        self.record_acceptances(raws, [r.code for r in result.receipts])
        self.previous, self.state = self.state, result.state
        for submitter in self.last_nonce.keys() | self.submitters_of(raws):
            self.last_nonce[submitter] = q.get_nonce(self.state, submitter)
        self.check_validator_change(height)
        return [r.code for r in result.receipts]

    def check_validator_change(self, height: int) -> None:
        """The set scheduled by block ``height`` (for height + 2) keeps quorum with every set
        in force within the trust window: less than 1/3 of the old power left, less than 1/3
        of the new power is new, and at least the minimum of validators."""
        new = get_validators(self.state, height + 2)
        self.sets[height + 2] = new
        params = q.get_governance(self.state)
        assert len(new) >= params.validators_min, "fewer validators than the minimum"
        for older in range(max(1, height - params.trust_window_heights), height + 2):
            old = dict(self.sets[older])
            after = dict(new)
            removed = sum(max(0, p - after.get(k, 0)) for k, p in old.items())
            added = sum(max(0, p - old.get(k, 0)) for k, p in after.items())
            assert 3 * removed < sum(old.values()), f"1/3 of the power left since {older}"
            assert 3 * added < sum(after.values()), f"1/3 of the power is new since {older}"
        if new != self.sets[height + 1]:
            event("validator set changed")

    def record_acceptances(self, raws: list[bytes], codes: list[Code]) -> None:
        from consensus.ledger import decode_tx

        last_ok: dict[str, int] = {}
        for raw, code in zip(raws, codes, strict=True):
            if code is not Code.OK:
                continue
            tx = decode_tx(raw).unsigned
            pair = (tx.submitter, tx.idempotency_key)
            assert pair not in self.accepted, "idempotency key accepted twice"
            # Rejected txs may consume nonces too, so an accepted one is past the last known.
            floor = last_ok.get(tx.submitter, self.last_nonce.get(tx.submitter, 0))
            assert tx.nonce > floor, "nonce accepted twice"
            last_ok[tx.submitter] = tx.nonce
            self.transfers_accepted += isinstance(decode_tx(raw).unsigned.body, Transfer)
            self.accepted.add(pair)
            self.used_keys[tx.submitter].append(tx.idempotency_key)

    @staticmethod
    def submitters_of(raws: list[bytes]) -> set[str]:
        out = set()
        for raw in raws:
            try:
                out.add(decode_tx(raw).unsigned.submitter)
            except CodecError:
                continue
        return out

    def is_noop_mutation(self, submitter: str, mutation: str) -> bool:
        """reused_key needs an earlier accepted tx of the submitter (a bad nonce is a repeat
        or, before the first, a gap: never a no-op)."""
        if mutation == "reused_key":
            return not self.used_keys[submitter]
        return False

    def run_one(
        self, submitter: str, body: Body, mutation: str, signers: list[str] | None = None
    ) -> Code:
        before = ledger_kv(self.state)
        expected = None if self.is_noop_mutation(submitter, mutation) else EXPECTED.get(mutation)
        names = signers or [self.signer_of(submitter)]
        code = self.execute([self.build(submitter, body, mutation, signers)])[0]
        event(f"{type(body).__name__}: {code.name}")
        if code is not Code.OK:  # at most its nonce and idempotency key are consumed
            check_rejection_writes(before, ledger_kv(self.state), submitter)
        self.check_pause_promise(self.previous, body, code)
        self.check_policy_promise(self.previous, submitter, body, code)
        self.check_recovery_promise(self.previous, submitter, body, names, code)
        self.check_named_authority_promise(self.previous, submitter, body, code)
        if expected is Code.WRONG_CHAIN:  # expiry comes after authentication now
            assert code is expected
        elif expected is not None:
            assert code in {expected} | SUBMITTER_FAILURES, (mutation, code)
        return code

    # -- rules ---------------------------------------------------------------------------------

    def funded_payers(self) -> list[tuple[str, int]]:
        """Accounts that can pay now: open, not frozen, with free balance of their bank's token."""
        funded = []
        for account in ACCOUNTS:
            if q.get_account(self.state, account) is None or self.is_blocked(account):
                continue
            free = q.get_balance(self.state, account, f"{account.split('/')[0]}:USD").free
            if free > 0:
                funded.append((account, free))
        return funded

    def draw_payment(self, data: st.DataObject) -> tuple[str, int]:
        """Mostly a funded payer and an amount it holds (edges included), so most transfers
        are accepted; sometimes any account and any amount, to exercise the rejections."""
        funded = self.funded_payers()
        if funded and data.draw(st.integers(0, 3), label="funded") > 0:
            payer, free = data.draw(st.sampled_from(funded), label="payer")
            amount = data.draw(st.integers(1, free) | st.sampled_from([1, free]), label="amount")
            return payer, amount
        return data.draw(st.sampled_from(ACCOUNTS), label="payer"), data.draw(amounts)

    def draw_payee(self, data: st.DataObject, payer: str) -> str:
        """Mostly another customer (paying oneself is rejected); sometimes any account."""
        others = [c for c in CUSTOMERS if c != payer]
        return data.draw(st.sampled_from(others) | st.sampled_from(ACCOUNTS), label="payee")

    @rule(data=st.data(),
          instrument=st.none() | st.none() | st.none() | st.sampled_from(INSTRUMENTS),
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def transfer(self, data: st.DataObject, instrument: str | None, mutation: str) -> None:
        payer, amount = self.draw_payment(data)
        self.transfer_one(payer, self.draw_payee(data, payer), amount, instrument, mutation)

    def transfer_one(
        self, payer: str, payee: str, amount: int, instrument: str | None, mutation: str
    ) -> None:
        instrument = instrument or f"{payer.split('/')[0]}:USD"  # usually the payer's own token
        settlement_before = self.settlement_balances()
        blocked = self.is_blocked(payer) or self.is_blocked(payee)
        code = self.run_one(payer, Transfer(payee, instrument, amount), mutation)
        assert not (blocked and code is Code.OK), "a frozen or closed account moved money"
        settlement_after = self.settlement_balances()
        moved = {bank: settlement_after[bank] - settlement_before[bank] for bank in BANKS}
        cross = payer.split("/")[0] != payee.split("/")[0]
        if code is Code.OK and cross:
            event("cross-bank transfer accepted")
            assert moved[payer.split("/")[0]] == -amount
            assert moved[payee.split("/")[0]] == amount
        else:
            assert set(moved.values()) == {0}

    @rule(data=st.data())
    def cross_bank_transfer(self, data: st.DataObject) -> None:
        payer, amount = self.draw_payment(data)
        self.transfer_one(payer, self.draw_payee(data, payer), amount, None, "none")

    @rule(issuer=st.none() | st.sampled_from([*BANKS, "CB"]),
          account=st.sampled_from([*ACCOUNTS, "CB/BANKA"]),
          instrument=st.none() | st.sampled_from(INSTRUMENTS), amount=amounts,
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def mint(
        self, issuer: str | None, account: str, instrument: str | None, amount: int, mutation: str
    ) -> None:
        issuer = issuer or account.split("/")[0]  # usually the account's own bank
        instrument = instrument or f"{issuer}:USD"
        blocked = self.is_blocked(account)
        # mostly a fresh funding reference; sometimes one used before (refused: it minted)
        shared = amount in (7, 100, 2_500)
        ref = "core-debit" if shared else f"core-debit-{self.factory.counter}"
        used = q.is_funding_ref_used(self.state, issuer, ref)
        code = self.run_one(issuer, Mint(account, instrument, amount, ref), mutation)
        assert not (blocked and code is Code.OK), "minted into a frozen or closed account"
        assert not (used and code is Code.OK), "a funding reference minted twice"

    @rule(account=st.sampled_from(CUSTOMERS), amount=st.integers(1, 1_000), reuse=st.booleans())
    def mint_again_with_a_funding_ref(self, account: str, amount: int, reuse: bool) -> None:
        """A bank mints against a reference, then mints again against the same (or, as a
        control, a fresh) reference: a funding reference mints once."""
        bank = account.split("/")[0]
        ref = f"wire-{self.factory.counter}"
        first = self.run_one(bank, Mint(account, f"{bank}:USD", amount, ref), "none")
        again = ref if reuse else f"{ref}-b"
        second = self.run_one(bank, Mint(account, f"{bank}:USD", amount, again), "none")
        if reuse and first is Code.OK:
            assert second is Code.DUPLICATE_FUNDING_REF, "a funding reference minted twice"
        elif first is Code.OK:  # a network balance cap (``pay_under_a_limit``) may stop it
            assert second in {Code.OK, Code.BALANCE_CAP_EXCEEDED}, second

    @rule(account=st.sampled_from(ACCOUNTS), by_issuer=st.booleans(), legal=st.booleans(),
          amount=amounts, mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def redeem(
        self, account: str, by_issuer: bool, legal: bool, amount: int, mutation: str
    ) -> None:
        bank = account.split("/")[0]
        body = Redeem(account, f"{bank}:USD", amount, "payout", "court" if legal else None)
        blocked = self.is_blocked(account)
        code = self.run_one(bank if by_issuer else account, body, mutation)
        assert not (blocked and code is Code.OK), "paid out of a frozen or closed account"

    @rule(authority=st.just("REG") | st.sampled_from([*BANKS, "REG", "CB"]),
          account=st.sampled_from(CUSTOMERS) | st.sampled_from(ACCOUNTS),
          flag=st.booleans(), amount=st.sampled_from([None, 0, 5, 5_000, 10_000, 20_000]),
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def freeze(
        self, authority: str, account: str, flag: bool, amount: int | None, mutation: str
    ) -> None:
        instrument = None if amount is None else f"{account.split('/')[0]}:USD"
        body = Freeze(account, flag, instrument, amount or 0, "legal-basis")
        if self.run_one(authority, body, mutation) is not Code.OK:
            return
        # The model of freeze provenance: one order per authority, each replacing only its own.
        orders = self.freezes[account]
        _, amounts = orders.get(authority, (False, {}))
        if instrument is not None:
            amounts = {**amounts, instrument: amount or 0}
        orders[authority] = (flag, amounts)
        record = q.get_account(self.state, account)
        assert record is not None
        assert record.frozen == any(f for f, _ in orders.values()), "a freeze lost its authority"
        if instrument is not None:
            frozen = sum(a.get(instrument, 0) for _, a in orders.values())
            assert q.get_balance(self.state, account, instrument).frozen == frozen

    @rule(account=st.sampled_from(CUSTOMERS), bank_first=st.booleans(),
          flags=st.tuples(st.booleans(), st.booleans()),
          amounts=st.tuples(*[st.sampled_from([None, 0, 5, 3_000])] * 2))  # fmt: skip
    def freeze_by_two_authorities(
        self,
        account: str,
        bank_first: bool,
        flags: tuple[bool, bool],
        amounts: tuple[int | None, int | None],
    ) -> None:
        """The account's bank and the regulator both order, then the first lifts its own
        order: the other's stands (checked against the model in ``freeze``)."""
        bank = account.split("/")[0]
        authorities = (bank, "REG") if bank_first else ("REG", bank)
        for authority, flag, amount in zip(authorities, flags, amounts, strict=True):
            self.freeze(authority, account, flag, amount, "none")
        self.freeze(authorities[0], account, False, 0, "none")

    @rule(bank=st.sampled_from(BANKS), local=st.sampled_from(["zoe", "yan", "ghost", "alice"]),
          expired=st.booleans(), mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def account_open(self, bank: str, local: str, expired: bool, mutation: str) -> None:
        aid = f"{bank}/{local}"
        expiry = GENESIS_TIME_MS if expired else FAR_FUTURE_MS
        self.run_one(
            bank, AccountOpen(aid, (key(aid).public_key,), 1, b"\x01" * 32, expiry), mutation
        )

    @rule(account=st.sampled_from(ACCOUNTS), action=st.sampled_from(["recover", "kyc", "close"]),
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def account_update(self, account: str, action: str, mutation: str) -> None:
        bank = account.split("/")[0]
        new_name = f"{account}#{len(self.factory.nonces)}"
        keys = (key(new_name).public_key,) if action == "recover" else None
        kyc = b"\x02" * 32 if action == "kyc" else None
        body = AccountUpdate(
            account,
            keys,
            1 if keys else None,
            kyc,
            FAR_FUTURE_MS if kyc else None,
            action == "close",
        )
        code = self.run_one(bank, body, mutation)
        record = q.get_account(self.state, account)
        if code is Code.OK and keys and record is not None and record.keys == keys:
            self.signer[account] = new_name  # the bank alone: only a due recovery applies

    def governance_signers(self, banks: set[str]) -> list[str]:
        return [self.signer_of(bank) for bank in sorted(banks)]

    def is_threshold_reached(self, banks: set[str]) -> bool:
        active = [
            pid
            for pid in q.get_participant_ids(self.state)
            if (p := q.get_participant(self.state, pid)) is not None
            and p.is_active
            and p.has_role(Role.BANK)
        ]
        signed = len([pid for pid in active if pid in banks])
        params = q.get_governance(self.state)
        return signed * params.threshold_denominator > params.threshold_numerator * len(active)

    @rule(bank=st.sampled_from([*BANKS, "BANKD"]), power=st.sampled_from([0, 1, 3, 10]),
          suspend=st.booleans(),
          cosigners=st.just({*BANKS, "BANKD"}) | st.sets(st.sampled_from([*BANKS, "BANKD"])),
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def participant_upsert(
        self, bank: str, power: int, suspend: bool, cosigners: set[str], mutation: str
    ) -> None:
        """Status and validator power changes (with the participant's consent when it is
        among the cosigners), or a new bank BANKD."""
        status = ParticipantStatus.SUSPENDED if suspend else ParticipantStatus.ACTIVE
        current = q.get_participant(self.state, bank)
        keys = (key(bank).public_key,) if current is None else current.keys
        participant = Participant(
            bank, bank, frozenset({Role.BANK, Role.VALIDATOR}), status, keys, 1,
            key(bank + "-val").public_key, power, "", "",
        )  # fmt: skip
        signers = self.governance_signers(cosigners | {BANKS[0]})
        self.run_one(BANKS[0], ParticipantUpsert(participant), mutation, signers=signers)

    @rule(who=st.sampled_from(["CB", "REG", "BANKC"]) | st.sampled_from(["REG", *BANKS, "BANKD"]),
          coalition=st.just({"BANKA", "BANKB"}) | st.just(set(BANKS))
          | st.sets(st.sampled_from([*BANKS, "BANKD"]), min_size=1),
          consent=st.booleans(), fresh=st.booleans(), cancel=st.booleans(),
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def coalition_replaces_keys(
        self, who: str, coalition: set[str], consent: bool, fresh: bool, cancel: bool,
        mutation: str,
    ) -> None:  # fmt: skip
        """Banks try to replace ``who``'s keys (the promise: no coalition below the
        threshold does it, and above it only with consent or after an uncancelled delay)."""
        target = who
        before = q.get_participant(self.state, target)
        if before is None:
            return
        pending = q.get_pending_change(self.state, target)
        if pending is not None and not fresh:
            new = pending.participant  # re-submit the pending change (applies once due)
        else:
            name = f"{target}#{self.factory.counter}"
            self.key_names.add(name)
            new = replace(before, keys=(key(name).public_key,), threshold=1)
        signers = self.governance_signers(coalition)
        if consent:
            signers.append(self.signer_of(target))
            coalition = coalition | {target}  # a consenting bank also counts for governance
        consent = consent or target in coalition
        reached = self.is_threshold_reached(coalition)
        submitter = sorted(coalition)[0]
        code = self.run_one(submitter, ParticipantUpsert(new), mutation, signers=signers)
        after = q.get_participant(self.state, target)
        assert after is not None
        if after.keys == before.keys:
            if cancel and q.get_pending_change(self.state, target) is not None:
                event("pending change cancelled by its participant")
                code = self.run_one(target, ParticipantChangeCancel(target), "none")
                assert code in {Code.OK, Code.PARTICIPANT_INACTIVE}, code
            return
        event("participant keys replaced")
        assert code is Code.OK and reached, "a coalition below the threshold changed keys"
        due = pending is not None and pending.participant == new
        assert consent or (due and self.state.height >= pending.effective_height), (
            "keys changed without the participant's signature or an uncancelled delay"
        )
        assert not (target == "CB" and not consent), "the settlement agent's keys changed"
        self.signer[target] = self.key_name_of(after.keys)

    def key_name_of(self, keys: tuple[Any, ...]) -> str:
        for name in self.key_names:
            if key(name).public_key in keys:
                return name
        raise AssertionError("keys of unknown origin")

    @rule(who=st.just("REG") | st.sampled_from(["CB", "REG", *BANKS, "BANKD"]),
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def cancel_pending_change(self, who: str, mutation: str) -> None:
        target = who
        had = q.get_pending_change(self.state, target) is not None
        code = self.run_one(target, ParticipantChangeCancel(target), mutation)
        if code is Code.OK:
            assert had and q.get_pending_change(self.state, target) is None

    @rule(heights=st.integers(1, 6))
    def advance(self, heights: int) -> None:
        """Empty blocks: pending changes come due, the trust window moves on."""
        for _ in range(heights):
            self.execute([])

    @rule(half=st.booleans(), delay=st.integers(1, 6), minimum=st.integers(1, 4),
          coalition=st.sets(st.sampled_from([*BANKS, "BANKD"]), min_size=1),
          mutation=st.sampled_from(MUTATIONS))  # fmt: skip
    def governance_params_set(
        self, half: bool, delay: int, minimum: int, coalition: set[str], mutation: str
    ) -> None:
        window = q.get_governance(self.state).trust_window_heights  # fixed: sets are checked
        params = GovernanceParams(1 if half else 2, 2 if half else 3, delay, window, minimum)
        reached = self.is_threshold_reached(coalition)
        before = q.get_governance(self.state)
        code = self.run_one(
            sorted(coalition)[0], GovernanceParamsSet(params), mutation,
            signers=self.governance_signers(coalition),
        )  # fmt: skip
        if q.get_governance(self.state) != before:
            assert code is Code.OK and reached, "governance changed below the threshold"

    @rule(which=st.sampled_from(["CB:HKD", "BANKA:HKD"]), mutation=st.sampled_from(MUTATIONS))
    def instrument_register(self, which: str, mutation: str) -> None:
        issuer, currency = which.split(":")
        if issuer == "CB":
            spec = InstrumentSpec(which, InstrumentKind.SETTLEMENT_ASSET, "CB", currency, 2, None)
        else:
            spec = InstrumentSpec(
                which, InstrumentKind.DEPOSIT_TOKEN, issuer, currency, 2, "CB:HKD"
            )
        signers = [self.signer_of(name) for name in ("BANKA", "BANKB", "BANKC", "CB")]
        self.run_one("BANKB", InstrumentRegister(spec), mutation, signers=signers)

    @rule(data=st.binary(max_size=64))
    def garbage(self, data: bytes) -> None:
        before = ledger_kv(self.state)
        assert self.execute([data]) == [Code.MALFORMED]
        assert ledger_kv(self.state) == before

    @rule(data=st.data(), count=st.integers(2, 6))
    def block_of_transfers(self, data: st.DataObject, count: int) -> None:
        raws: list[bytes] = []
        nonces: dict[str, int] = {}
        for _ in range(count):
            payer, amount = self.draw_payment(data)
            payee = self.draw_payee(data, payer)
            nonces[payer] = nonces.get(payer, q.get_nonce(self.state, payer)) + 1
            body = Transfer(payee, f"{payer.split('/')[0]}:USD", amount)
            raws.append(
                self.factory.raw(payer, body, signers=[self.signer_of(payer)], nonce=nonces[payer])
            )
        raws.append(raws[0])  # the same tx twice in a block: never accepted twice
        codes = self.execute(raws)
        assert not (codes[0] is Code.OK and codes[-1] is Code.OK)

    def teardown(self) -> None:
        # Most examples should move money: a run of only rejected transfers tests little.
        event("example " + ("reached" if self.transfers_accepted else "never reached")
              + " an accepted transfer")  # fmt: skip

    # -- invariants ------------------------------------------------------------------------------

    def is_blocked(self, account_id: str) -> bool:
        account = q.get_account(self.state, account_id)
        return account is not None and (
            account.frozen or account.status is not AccountStatus.ACTIVE
        )

    def settlement_balances(self) -> dict[str, int]:
        return {bank: q.get_balance(self.state, f"CB/{bank}", "CB:USD").total for bank in BANKS}

    @invariant()
    def money_is_conserved_and_free_is_never_negative(self) -> None:
        totals: dict[str, int] = defaultdict(int)
        for k, v in self.state.items():
            if k.startswith(BALANCE_PREFIX):
                total, frozen, held = codec.decode(v)
                assert 0 <= frozen + held <= total
                assert total > 0 or frozen > 0 or held > 0, "zero balances are deleted"
                totals[k.split(SEPARATOR)[1].decode()] += total
        for k, _ in self.state.items():
            if k.startswith(INSTRUMENT_PREFIX):
                iid = k[1:].decode()
                instrument = q.get_instrument(self.state, iid)
                assert instrument is not None
                assert totals[iid] == instrument.supply, iid

    @invariant()
    def holds_are_exactly_what_is_held(self) -> None:
        self.check_holds_match_held()

    @invariant()
    def from_kv_rebuilds_the_same_state(self) -> None:
        rebuilt = State.from_kv(self.state.items())
        assert rebuilt.to_kv() == self.state.to_kv()
        assert rebuilt.app_hash == self.state.app_hash

    @precondition(lambda self: len(self.blocks) % 5 == 4)
    @rule()
    def replay_from_genesis_gives_the_same_app_hash(self) -> None:
        state = self.genesis
        for raws, time_ms in self.blocks:
            state = execute_block(state, raws, state.height + 1, time_ms).state
        assert state.app_hash == self.state.app_hash
        assert state.to_kv() == self.state.to_kv()


# max_examples comes from the hypothesis profile (dev or ci); the deep run differs in depth.
TestLedger = LedgerMachine.TestCase
TestLedger.settings = settings(stateful_step_count=30, deadline=None)


@pytest.mark.slow
class TestLedgerDeep(LedgerMachine.TestCase):  # type: ignore[valid-type,misc]
    settings = settings(stateful_step_count=60, deadline=None)
