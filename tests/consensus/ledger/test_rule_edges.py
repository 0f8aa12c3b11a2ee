"""The ledger rules at their edges: exact limits, paths the main rule tests do not take, and the
receipt each rejection gives (code and log, which clients read over RPC).

Complements test_rules.py (one accept path and the typed rejections per tx type).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import codec
from consensus.codec import CodecError
from consensus.ledger import Code, State, execute_block, get_validators
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.codes import AMOUNT_MAX, PARTICIPANTS_MAX
from consensus.ledger.codes import GOVERNED_VALIDATORS_MAX as LEDGER_VALIDATORS_MAX
from consensus.ledger.records import (
    Balance,
    InstrumentKind,
    InstrumentSpec,
    ParticipantStatus,
    Role,
)
from consensus.ledger.state import SCHEDULE_KEY, balance_key
from consensus.ledger.txs import (
    AccountOpen,
    AccountUpdate,
    Freeze,
    InstrumentRegister,
    Mint,
    ParticipantUpsert,
    Redeem,
    Transfer,
    ValidUntil,
    ValidUntilKind,
    decode_tx,
)

from .test_rules import NOW_MS, Chain, _ledger_kv, _participant, check_rejection_writes
from .world import CUSTOMER_FLOAT, FAR_FUTURE_MS, genesis_state, key

GOVERNANCE = ["BANKA", "BANKB", "BANKC"]


class LoggedChain(Chain):
    """Chain that also keeps the log of the last receipt."""

    def run(self, submitter: str, body: object, **kw: object) -> tuple[Code, tuple[object, ...]]:
        raw = self.f.raw(submitter, body, **kw)  # type: ignore[arg-type]
        before = _ledger_kv(self.state)
        result = execute_block(self.state, [raw], self.state.height + 1, NOW_MS)
        receipt = result.receipts[0]
        self.last_log = receipt.log
        if receipt.code is not Code.OK:
            consumed = check_rejection_writes(before, _ledger_kv(result.state), submitter)
            if not consumed and "nonce" not in kw:
                self.f.nonces[submitter] -= 1
        self.state = result.state
        return receipt.code, receipt.events

    def reject(self, submitter: str, body: object, **kw: object) -> tuple[Code, str]:
        code, _ = self.run(submitter, body, **kw)
        assert code is not Code.OK
        return code, self.last_log


@pytest.fixture
def chain() -> LoggedChain:
    return LoggedChain()


# -- rejections: code and log ------------------------------------------------------------------


def test_rejection_receipts_carry_code_and_log(chain: LoggedChain) -> None:
    k = (key("x").public_key,)
    assert chain.reject("REG", AccountOpen("REG/x", k, 1, b"h" * 32, FAR_FUTURE_MS)) == (
        Code.NOT_AUTHORIZED,
        "only banks and settlement agents keep accounts",
    )
    assert chain.reject("BANKA", AccountOpen("BANKA/x", k, 1, b"h" * 32, NOW_MS)) == (
        Code.KYC_EXPIRED,
        "KYC already expired",
    )
    nothing = AccountUpdate("BANKA/alice", None, None, None, None, False)
    assert chain.reject("BANKA", nothing) == (Code.INVALID_ARGUMENT, "nothing to update")
    assert chain.reject("BANKB", Freeze("BANKA/alice", True, None, 0, "x")) == (
        Code.NOT_AUTHORIZED,
        "only the account's bank or a regulator freezes",
    )
    too_much = Freeze("BANKA/alice", False, "BANKA:USD", CUSTOMER_FLOAT + 1, "x")
    assert chain.reject("REG", too_much) == (
        Code.INSUFFICIENT_FREE_BALANCE,
        "cannot freeze more than is held",
    )
    assert chain.reject("BANKA", Redeem("BANKA/alice", "BANKA:USD", 1, "p", None)) == (
        Code.LEGAL_BASIS_REQUIRED,
        "issuer redemption needs a legal basis",
    )
    assert chain.reject("BANKA/alice", Redeem("BANKA/bob", "BANKA:USD", 1, "p", None)) == (
        Code.NOT_AUTHORIZED,
        "only the holder or the issuer redeems",
    )


def test_a_new_kyc_must_not_have_expired(chain: LoggedChain) -> None:
    expired = AccountUpdate("BANKA/alice", None, None, b"n" * 32, NOW_MS, False)
    assert chain.reject("BANKA", expired) == (Code.KYC_EXPIRED, "new KYC already expired")
    renewed = AccountUpdate("BANKA/alice", None, None, b"n" * 32, NOW_MS + 1, False)
    assert chain.ok("BANKA", renewed) == (ev.AccountUpdated("BANKA/alice"),)
    account = q.get_account(chain.state, "BANKA/alice")
    assert account is not None
    assert (account.kyc_ref_hash, account.kyc_expiry_ms) == (b"n" * 32, NOW_MS + 1)


def test_a_settlement_agent_keeps_accounts(chain: LoggedChain) -> None:
    k = (key("agent-acct").public_key,)
    opened = chain.ok("CB", AccountOpen("CB/BANKD", k, 1, b"h" * 32, FAR_FUTURE_MS))
    assert opened == (ev.AccountOpened("CB/BANKD"),)


# -- instruments ---------------------------------------------------------------------------------


def register(chain: LoggedChain, spec: InstrumentSpec, *signers: str) -> tuple[Code, str]:
    code, _ = chain.run("BANKA", InstrumentRegister(spec), signers=[*GOVERNANCE, *signers])
    return code, chain.last_log if code is not Code.OK else ""


def test_instrument_register_rejections(chain: LoggedChain) -> None:
    ghost = InstrumentSpec("GHOST:USD", InstrumentKind.SETTLEMENT_ASSET, "GHOST", "USD", 2, None)
    assert register(chain, ghost) == (Code.UNKNOWN_PARTICIPANT, "issuer GHOST unknown or inactive")
    by_bank = InstrumentSpec("BANKA:GBP", InstrumentKind.SETTLEMENT_ASSET, "BANKA", "GBP", 2, None)
    assert register(chain, by_bank) == (
        Code.INVALID_ARGUMENT,
        "settlement assets are issued by an agent",
    )
    by_agent = InstrumentSpec("CB:EUR", InstrumentKind.DEPOSIT_TOKEN, "CB", "EUR", 2, "CB:USD")
    assert register(chain, by_agent, "CB") == (
        Code.INVALID_ARGUMENT,
        "deposit tokens are issued by a bank",
    )
    euro = InstrumentSpec("BANKA:EUR", InstrumentKind.DEPOSIT_TOKEN, "BANKA", "EUR", 2, "CB:USD")
    assert register(chain, euro) == (
        Code.INSTRUMENT_MISMATCH,
        "settlement asset of another currency",
    )


def test_an_inactive_issuer_cannot_register(chain: LoggedChain) -> None:
    suspended = _participant("CB2", {Role.SETTLEMENT_AGENT}, 0, ParticipantStatus.SUSPENDED)
    chain.ok("BANKA", ParticipantUpsert(suspended), signers=GOVERNANCE)
    spec = InstrumentSpec("CB2:USD", InstrumentKind.SETTLEMENT_ASSET, "CB2", "USD", 2, None)
    assert register(chain, spec, "CB2") == (
        Code.UNKNOWN_PARTICIPANT,
        "issuer CB2 unknown or inactive",
    )


def test_registering_reports_the_instrument(chain: LoggedChain) -> None:
    spec = InstrumentSpec("CB:EUR", InstrumentKind.SETTLEMENT_ASSET, "CB", "EUR", 2, None)
    events = chain.ok("BANKA", InstrumentRegister(spec), signers=[*GOVERNANCE, "CB"])
    assert events == (ev.InstrumentRegistered("CB:EUR"),)


# -- amounts at their limits -----------------------------------------------------------------------


def test_a_balance_may_reach_the_amount_limit_but_not_pass_it(chain: LoggedChain) -> None:
    # alice holds CUSTOMER_FLOAT; the token's supply is 2 * CUSTOMER_FLOAT (alice and bob)
    to_limit = Mint("BANKA/alice", "BANKA:USD", AMOUNT_MAX - CUSTOMER_FLOAT, "m")
    # the balance check passes (exactly the limit); the supply check then refuses
    assert chain.reject("BANKA", to_limit) == (Code.LIMIT_EXCEEDED, "supply would overflow")
    past = Mint("BANKA/alice", "BANKA:USD", AMOUNT_MAX - CUSTOMER_FLOAT + 1, "m")
    assert chain.reject("BANKA", past) == (Code.LIMIT_EXCEEDED, "balance would overflow")


def test_supply_may_reach_the_amount_limit_but_not_pass_it(chain: LoggedChain) -> None:
    k = (key("zed").public_key,)
    chain.ok("BANKA", AccountOpen("BANKA/zed", k, 1, b"h" * 32, FAR_FUTURE_MS))
    rest = AMOUNT_MAX - 2 * CUSTOMER_FLOAT
    assert chain.ok("BANKA", Mint("BANKA/zed", "BANKA:USD", rest, "m")) == (
        ev.Minted("BANKA/zed", "BANKA:USD", rest, "m"),
    )
    instrument = q.get_instrument(chain.state, "BANKA:USD")
    assert instrument is not None and instrument.supply == AMOUNT_MAX
    assert chain.reject("BANKA", Mint("BANKA/bob", "BANKA:USD", 1, "m2")) == (
        Code.LIMIT_EXCEEDED,
        "supply would overflow",
    )


def with_held(state: State, account: str, instrument: str, held: int) -> State:
    """The state with ``held`` of the balance in escrow (no tx sets holds yet; a stored state
    may carry them, and the rules must respect them)."""
    kv = state.to_kv()
    balance = Balance.from_wire(codec.decode(kv[balance_key(account, instrument)]))
    kv[balance_key(account, instrument)] = codec.encode(
        Balance(balance.total, balance.frozen, held).to_wire()
    )
    return State.from_kv(kv.items())


def test_held_funds_cannot_be_spent_or_frozen(chain: LoggedChain) -> None:
    chain.state = with_held(chain.state, "BANKA/alice", "BANKA:USD", 4_000)
    free = CUSTOMER_FLOAT - 4_000
    assert chain.reject("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", free + 1)) == (
        Code.INSUFFICIENT_FREE_BALANCE,
        f"free balance below {free + 1}",
    )
    assert chain.reject("REG", Freeze("BANKA/alice", False, "BANKA:USD", free + 1, "c")) == (
        Code.INSUFFICIENT_FREE_BALANCE,
        "cannot freeze more than is held",
    )
    chain.ok("REG", Freeze("BANKA/alice", False, "BANKA:USD", free, "c"))
    chain.ok("REG", Freeze("BANKA/alice", False, "BANKA:USD", 0, "c-release"))
    chain.ok("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", free))


# -- cross-bank transfers ------------------------------------------------------------------------


def test_only_deposit_tokens_move_across_banks(chain: LoggedChain) -> None:
    # CB/BANKA (kept by the agent CB, owned by BANKA's key) pays the settlement asset to a
    # customer of BANKA: another bank, but not a deposit token
    body = Transfer("BANKA/alice", "CB:USD", 1)
    assert chain.reject("CB/BANKA", body, signers=["BANKA"]) == (
        Code.INSTRUMENT_MISMATCH,
        "only deposit tokens move across banks",
    )


def test_banks_settling_in_different_assets_cannot_transfer(chain: LoggedChain) -> None:
    chain.ok(
        "BANKA", ParticipantUpsert(_participant("CB2", {Role.SETTLEMENT_AGENT})), signers=GOVERNANCE
    )
    chain.ok("BANKA", ParticipantUpsert(_participant("BANKD", {Role.BANK})), signers=GOVERNANCE)
    asset = InstrumentSpec("CB2:USD", InstrumentKind.SETTLEMENT_ASSET, "CB2", "USD", 2, None)
    assert register(chain, asset, "CB2") == (Code.OK, "")
    token = InstrumentSpec("BANKD:USD", InstrumentKind.DEPOSIT_TOKEN, "BANKD", "USD", 2, "CB2:USD")
    assert register(chain, token, "BANKD") == (Code.OK, "")
    k = (key("BANKD/zoe").public_key,)
    chain.ok("BANKD", AccountOpen("BANKD/zoe", k, 1, b"h" * 32, FAR_FUTURE_MS))
    assert chain.reject("BANKA/alice", Transfer("BANKD/zoe", "BANKA:USD", 1)) == (
        Code.INSTRUMENT_MISMATCH,
        "the banks settle in different assets",
    )


# -- participants and validators -----------------------------------------------------------------


def test_participants_are_bounded(chain: LoggedChain) -> None:
    existing = len(q.get_participant_ids(chain.state))
    raws = [
        chain.f.raw(
            "BANKA", ParticipantUpsert(_participant(f"P{i:03}", {Role.REGULATOR})), GOVERNANCE
        )
        for i in range(PARTICIPANTS_MAX - existing)
    ]
    result = execute_block(chain.state, raws, chain.state.height + 1, NOW_MS)
    assert {r.code for r in result.receipts} == {Code.OK}
    chain.state = result.state
    assert len(q.get_participant_ids(chain.state)) == PARTICIPANTS_MAX
    one_more = ParticipantUpsert(_participant("P999", {Role.REGULATOR}))
    assert chain.reject("BANKA", one_more, signers=GOVERNANCE) == (
        Code.LIMIT_EXCEEDED,
        f"at most {PARTICIPANTS_MAX} participants",
    )
    # updating one that exists is still allowed at the limit
    chain.ok("BANKA", ParticipantUpsert(_participant("P000", {Role.REGULATOR})), signers=GOVERNANCE)


def test_governance_unreachable_is_explained() -> None:
    chain = LoggedChain(genesis_state(bank_power=0, validators=1))
    suspended = ParticipantStatus.SUSPENDED
    for signers in (GOVERNANCE, ["BANKA", "BANKB"], ["BANKA"]):
        bank = signers[-1]
        body = ParticipantUpsert(_participant(bank, {Role.BANK}, 0, suspended))
        code, _ = chain.run("BANKA", body, signers=signers)
    assert (code, chain.last_log) == (Code.GOVERNANCE_UNREACHABLE, "no active bank would be left")


def test_a_removed_validator_is_reported_with_power_zero() -> None:
    chain = LoggedChain(genesis_state(validators=3))
    gone = key("BANKC-val").public_key
    body = ParticipantUpsert(_participant("BANKC", {Role.BANK}))
    raw = chain.f.raw("BANKA", body, signers=GOVERNANCE)
    result = execute_block(chain.state, [raw], chain.state.height + 1, NOW_MS)
    assert result.validator_updates == ((gone, 0),)


def test_superseded_validator_sets_are_pruned_after_the_trust_window(chain: LoggedChain) -> None:
    window = q.get_governance(chain.state).trust_window_heights
    for power in (5, 7, 9):
        body = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, power))
        chain.ok("BANKA", body, signers=[*GOVERNANCE, "BANKD"])
    tip = chain.state.height
    assert [
        dict(get_validators(chain.state, h)).get(key("BANKD-val").public_key)
        for h in (tip, tip + 1, tip + 2)
    ] == [5, 7, 9]
    assert get_validators(chain.state, 1)  # still within the trust window
    chain.skip(window + 1)
    body = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, 10))
    chain.ok("BANKA", body, signers=[*GOVERNANCE, "BANKD"])
    with pytest.raises(LookupError) as missing:
        get_validators(chain.state, 1)
    assert str(missing.value) == "no validator set retained for height 1"


def test_two_validator_changes_in_one_block_keep_only_the_last(chain: LoggedChain) -> None:
    bodies = [
        ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, power))
        for power in (5, 8)
    ]
    raws = [chain.f.raw("BANKA", b, signers=GOVERNANCE) for b in bodies]
    h = chain.state.height + 1
    result = execute_block(chain.state, raws, h, NOW_MS)
    assert [r.code for r in result.receipts] == [Code.OK, Code.OK]
    assert dict(get_validators(result.state, h + 2))[key("BANKD-val").public_key] == 8
    # the same schedule as if only the second change had been made
    alone = Chain()
    only_last = alone.f.raw("BANKA", bodies[1], signers=GOVERNANCE)
    expected = execute_block(alone.state, [only_last], h, NOW_MS)
    assert result.state_changes[SCHEDULE_KEY] == expected.state_changes[SCHEDULE_KEY]


def test_a_bad_signature_is_explained(chain: LoggedChain) -> None:
    raw = bytearray(chain.f.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1)))
    raw[-1] ^= 1
    receipt = execute_block(chain.state, [bytes(raw)], chain.state.height + 1, NOW_MS).receipts[0]
    assert (receipt.code, receipt.log) == (Code.BAD_SIGNATURE, "a signature does not verify")


# -- envelope receipts ---------------------------------------------------------------------------


def test_envelope_rejections_are_explained(chain: LoggedChain) -> None:
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    assert chain.reject("BANKA/alice", body, nonce=3) == (Code.BAD_NONCE, "nonce must be 1")
    chain.ok("BANKA/alice", body, idempotency_key="once")
    assert chain.reject("BANKA/alice", body, nonce=5) == (Code.BAD_NONCE, "nonce must be 2")
    assert chain.reject("BANKA/alice", body, idempotency_key="once") == (
        Code.DUPLICATE_IDEMPOTENCY_KEY,
        "idempotency key already used",
    )
    expired = ValidUntil(ValidUntilKind.HEIGHT, 0)
    assert chain.reject("BANKA/alice", body, valid_until=expired) == (
        Code.EXPIRED,
        "valid_until has passed",
    )
    assert chain.reject("BANKA/alice", Transfer("BANKA/alice", "BANKA:USD", 1)) == (
        Code.INVALID_ARGUMENT,
        "transfer to self",
    )


def test_receipts_of_accepted_rejected_and_malformed_txs(chain: LoggedChain) -> None:
    good = chain.f.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))
    bad = chain.f.raw("BANKA/alice", Transfer("BANKA/ghost", "BANKA:USD", 1))
    garbage = b"\xc1"
    with pytest.raises(CodecError) as error:
        decode_tx(garbage)
    result = execute_block(chain.state, [good, bad, garbage], chain.state.height + 1, NOW_MS)
    ok, rejected, malformed = result.receipts
    assert (ok.code, ok.log) == (Code.OK, "")
    assert (rejected.code, rejected.events) == (Code.UNKNOWN_ACCOUNT, ())
    assert (malformed.code, malformed.log, malformed.events) == (
        Code.MALFORMED,
        str(error.value),
        (),
    )
    assert result.validator_updates == ()


def test_a_block_must_follow_its_state(chain: LoggedChain) -> None:
    with pytest.raises(ValueError) as error:
        execute_block(chain.state, [], chain.state.height + 2, NOW_MS)
    assert str(error.value) == f"block {chain.state.height + 2} does not follow state height 0"


def test_kyc_expires_at_its_instant(chain: LoggedChain) -> None:
    k = (key("eve").public_key,)
    chain.ok("BANKA", AccountOpen("BANKA/eve", k, 1, b"k" * 32, NOW_MS + 1))
    raw = chain.f.raw("BANKA/alice", Transfer("BANKA/eve", "BANKA:USD", 1))
    at_expiry = execute_block(chain.state, [raw], chain.state.height + 1, NOW_MS + 1)
    assert at_expiry.receipts[0].code is Code.KYC_EXPIRED


# -- the validator set -----------------------------------------------------------------------------


def test_a_suspended_validator_leaves_the_set() -> None:
    chain = LoggedChain(genesis_state(validators=3))
    suspended = _participant("BANKC", {Role.BANK, Role.VALIDATOR}, 10, ParticipantStatus.SUSPENDED)
    chain.ok("BANKA", ParticipantUpsert(suspended), signers=GOVERNANCE)
    keys = dict(get_validators(chain.state, chain.state.height + 2))
    assert key("BANKC-val").public_key not in keys and len(keys) == 5


@pytest.mark.parametrize(
    "roles", [{Role.BANK}, {Role.BANK, Role.VALIDATOR}], ids=["no validator role", "no power"]
)
def test_a_participant_that_cannot_validate_changes_no_set(
    chain: LoggedChain, roles: set[Role]
) -> None:
    # "BANKAA" sorts between two validators: every participant after it is still looked at
    body = ParticipantUpsert(_participant("BANKAA", roles, power=0))
    raw = chain.f.raw("BANKA", body, signers=GOVERNANCE)
    result = execute_block(chain.state, [raw], chain.state.height + 1, NOW_MS)
    assert result.receipts[0].code is Code.OK
    assert result.validator_updates == ()


def test_validators_cannot_share_a_consensus_key(chain: LoggedChain) -> None:
    twin = _participant("BANKD", {Role.BANK, Role.VALIDATOR}, 5)
    twin = replace(twin, validator_key=key("BANKC-val").public_key)
    assert chain.reject("BANKA", ParticipantUpsert(twin), signers=GOVERNANCE) == (
        Code.VALIDATOR_SET_INVALID,
        "two validators share a consensus key",
    )


def test_a_single_validator_of_power_one_is_a_valid_set() -> None:
    state = genesis_state(bank_power=0, validators=1, validator_power=1)
    assert get_validators(state, 1) == ((key("VAL000-val").public_key, 1),)


def test_the_empty_set_is_refused_with_its_reason() -> None:
    chain = LoggedChain(genesis_state(bank_power=0, validators=1))
    assert chain.reject(
        "BANKA",
        ParticipantUpsert(_participant("VAL000", {Role.VALIDATOR})),
        signers=[*GOVERNANCE, "VAL000"],
    ) == (Code.VALIDATOR_SET_INVALID, "the validator set would be empty")


def test_validators_are_bounded() -> None:
    chain = LoggedChain(genesis_state(validators=LEDGER_VALIDATORS_MAX - 3))
    assert len(get_validators(chain.state, 1)) == LEDGER_VALIDATORS_MAX
    one_more = ParticipantUpsert(_participant("V999", {Role.VALIDATOR}, 1))
    assert chain.reject("BANKA", one_more, signers=GOVERNANCE) == (
        Code.VALIDATOR_SET_INVALID,
        f"at most {LEDGER_VALIDATORS_MAX} validators",
    )


def test_recovered_keys_bring_their_threshold(chain: LoggedChain) -> None:
    """A key replacement replaces the threshold too: alice's account (threshold 1) given two
    keys with threshold 2 (with the owner's co-signature) needs both signatures from then on."""
    keys = tuple(sorted(key(name).public_key for name in ("alice-r1", "alice-r2")))
    update = AccountUpdate("BANKA/alice", keys, 2, None, None, False)
    chain.ok("BANKA", update, signers=["BANKA", "BANKA/alice"])
    account = q.get_account(chain.state, "BANKA/alice")
    assert account is not None and (account.keys, account.threshold) == (keys, 2)
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    assert chain.run("BANKA/alice", body, signers=["alice-r1"])[0] is Code.NOT_AUTHORIZED
    chain.ok("BANKA/alice", body, signers=["alice-r1", "alice-r2"])


def test_the_sets_kept_within_the_trust_window_are_bounded(chain: LoggedChain) -> None:
    from consensus.ledger.codes import SCHEDULE_ENTRIES_MAX
    from consensus.ledger.controls import GovernanceParams
    from consensus.ledger.txs import GovernanceParamsSet

    chain.ok("BANKA", GovernanceParamsSet(GovernanceParams(2, 3, 5, 100, 1)), signers=GOVERNANCE)
    signers = [*GOVERNANCE, "BANKD"]
    for change in range(1, SCHEDULE_ENTRIES_MAX):  # genesis' set plus 15 changes: 16 kept
        power = 1 + change % 2
        body = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, power))
        chain.ok("BANKA", body, signers=signers)
    one_more = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, 3))
    assert chain.reject("BANKA", one_more, signers=signers) == (
        Code.VALIDATOR_SET_INVALID,
        "too many validator-set changes within the trust window",
    )
    chain.skip(100)  # the trust window moves on: older sets are dropped
    chain.ok("BANKA", one_more, signers=signers)
