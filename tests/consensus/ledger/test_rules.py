"""Each core transaction type: its main accept path and its typed rejections."""

from __future__ import annotations

import pytest

from consensus.ledger import Code, State, execute_block, get_validators
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.records import (
    InstrumentKind,
    InstrumentSpec,
    Participant,
    ParticipantStatus,
    Role,
)
from consensus.ledger.state import IDEMPOTENCY_PREFIX, META_KEY, nonce_key
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
)

from .world import (
    CHAIN_ID,
    CUSTOMER_FLOAT,
    FAR_FUTURE_MS,
    GENESIS_TIME_MS,
    SETTLEMENT_FLOAT,
    TxFactory,
    genesis_state,
    key,
)

NOW_MS = GENESIS_TIME_MS + 60_000
GOVERNANCE = ["BANKA", "BANKB", "BANKC"]
"""All three banks: governance needs strictly more than 2/3 of the active banks."""


class Chain:
    """Executes one tx per block and keeps the latest state."""

    def __init__(self, state: State | None = None) -> None:
        self.state = genesis_state() if state is None else state
        self.f = TxFactory()

    def skip(self, heights: int) -> None:
        """Execute ``heights`` empty blocks."""
        for _ in range(heights):
            self.state = execute_block(self.state, [], self.state.height + 1, NOW_MS).state

    def run(self, submitter: str, body: object, **kw: object) -> tuple[Code, tuple[object, ...]]:
        raw = self.f.raw(submitter, body, **kw)  # type: ignore[arg-type]
        before = _ledger_kv(self.state)
        result = execute_block(self.state, [raw], self.state.height + 1, NOW_MS)
        receipt = result.receipts[0]
        if receipt.code is not Code.OK:
            consumed = check_rejection_writes(before, _ledger_kv(result.state), submitter)
            if not consumed and "nonce" not in kw:  # let the factory reuse the nonce
                self.f.nonces[submitter] -= 1
        self.state = result.state
        return receipt.code, receipt.events

    def ok(self, submitter: str, body: object, **kw: object) -> tuple[object, ...]:
        code, events = self.run(submitter, body, **kw)
        assert code is Code.OK
        return events

    def balance(self, account: str, instrument: str) -> int:
        return q.get_balance(self.state, account, instrument).total


def check_rejection_writes(
    before: dict[bytes, bytes], after: dict[bytes, bytes], submitter: str
) -> bool:
    """A rejected tx writes nothing but its submitter's nonce and idempotency key (and only
    both or neither of them); True if it consumed them."""
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    nonce = nonce_key(submitter)
    keys = {k for k in changed if k.startswith(IDEMPOTENCY_PREFIX + submitter.encode() + b"\0")}
    assert changed - keys - {nonce} == set(), "a rejected tx changed more than nonce and key"
    assert len(keys) <= 1, "a rejected tx consumed more than one idempotency key"
    assert not keys or nonce in changed, "an idempotency key consumed without the nonce"
    return nonce in changed


def _ledger_kv(state: State) -> dict[bytes, bytes]:
    kv = state.to_kv()
    kv.pop(META_KEY)
    return kv


@pytest.fixture
def chain() -> Chain:
    return Chain()


# -- envelope ----------------------------------------------------------------------------------


def test_nonce_is_sequential_and_a_rule_rejection_consumes_it(chain: Chain) -> None:
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    assert chain.run("BANKA/alice", body, nonce=2)[0] is Code.BAD_NONCE  # a gap
    assert chain.run("BANKA/alice", body, nonce=1)[0] is Code.OK
    assert chain.run("BANKA/alice", body, nonce=1)[0] is Code.BAD_NONCE  # a repeat
    assert chain.run("BANKA/alice", body, nonce=0)[0] is Code.MALFORMED  # nonces start at 1
    assert q.get_nonce(chain.state, "BANKA/alice") == 1
    big = Transfer("BANKA/bob", "BANKA:USD", CUSTOMER_FLOAT + 1)
    raw = chain.f.raw("BANKA/alice", big, nonce=2, idempotency_key="big")
    result = execute_block(chain.state, [raw], chain.state.height + 1, NOW_MS)
    assert result.receipts[0].code is Code.INSUFFICIENT_FREE_BALANCE
    chain.state = result.state
    # The receipt is final: nonce and key are consumed, the same bytes can never succeed.
    assert q.get_nonce(chain.state, "BANKA/alice") == 2
    assert q.get_idempotency_key_height(chain.state, "BANKA/alice", "big") == chain.state.height
    chain.ok("BANKA/bob", Transfer("BANKA/alice", "BANKA:USD", 10))  # funds arrive
    again = execute_block(chain.state, [raw], chain.state.height + 1, NOW_MS)
    assert again.receipts[0].code is Code.BAD_NONCE
    assert chain.run("BANKA/alice", body, nonce=3, idempotency_key="big")[0] is (
        Code.DUPLICATE_IDEMPOTENCY_KEY
    )
    assert q.get_nonce(chain.state, "BANKA/alice") == 3  # a duplicate key consumes the nonce
    assert chain.run("BANKA/alice", body, nonce=4)[0] is Code.OK


def test_unauthenticated_txs_consume_nothing(chain: Chain) -> None:
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    assert chain.run("BANKA/alice", body, signers=["stranger"], nonce=1)[0] is Code.NOT_AUTHORIZED
    assert chain.run("NOBODY", body, signers=["stranger"], nonce=1)[0] is Code.UNKNOWN_SUBMITTER
    assert q.get_nonce(chain.state, "BANKA/alice") == 0
    assert q.get_nonce(chain.state, "NOBODY") == 0
    assert chain.run("BANKA/alice", body, nonce=1)[0] is Code.OK


def test_idempotency_key_is_accepted_once(chain: Chain) -> None:
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    chain.ok("BANKA/alice", body, idempotency_key="uetr-1")
    assert (
        chain.run("BANKA/alice", body, idempotency_key="uetr-1")[0]
        is Code.DUPLICATE_IDEMPOTENCY_KEY
    )
    assert q.is_idempotency_key_used(chain.state, "BANKA/alice", "uetr-1")
    # another submitter may use the same key
    chain.ok("BANKA/bob", Transfer("BANKA/alice", "BANKA:USD", 1), idempotency_key="uetr-1")


def test_expired_by_height_and_by_time(chain: Chain) -> None:
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    by_height = ValidUntil(ValidUntilKind.HEIGHT, 0)
    assert chain.run("BANKA/alice", body, valid_until=by_height)[0] is Code.EXPIRED
    by_time = ValidUntil(ValidUntilKind.TIME_MS, NOW_MS - 1)
    assert chain.run("BANKA/alice", body, valid_until=by_time)[0] is Code.EXPIRED
    chain.ok("BANKA/alice", body, valid_until=ValidUntil(ValidUntilKind.TIME_MS, NOW_MS))


def test_wrong_chain_bad_signature_wrong_signer_unknown_submitter(chain: Chain) -> None:
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    assert chain.run("BANKA/alice", body, chain_id="other-chain")[0] is Code.WRONG_CHAIN
    assert chain.run("BANKA/alice", body, signers=["BANKA/bob"])[0] is Code.NOT_AUTHORIZED
    assert chain.run("BANKA/nobody", body)[0] is Code.UNKNOWN_SUBMITTER
    raw = bytearray(chain.f.raw("BANKA/alice", body))
    raw[-1] ^= 1  # corrupt the signature
    result = execute_block(chain.state, [bytes(raw)], chain.state.height + 1, NOW_MS)
    assert result.receipts[0].code is Code.BAD_SIGNATURE


def test_cached_verdicts_are_used(chain: Chain) -> None:
    from consensus.crypto import sha256

    raw = chain.f.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))
    verdict = {sha256(raw): False}  # the mempool said the signature is bad
    result = execute_block(chain.state, [raw], chain.state.height + 1, NOW_MS, verdict)
    assert result.receipts[0].code is Code.BAD_SIGNATURE


# -- transfers -------------------------------------------------------------------------------


def test_same_bank_transfer(chain: Chain) -> None:
    events = chain.ok("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 250))
    assert events == (
        ev.Transferred("BANKA/alice", "BANKA/bob", "BANKA:USD", "BANKA:USD", 250, False),
    )
    assert chain.balance("BANKA/alice", "BANKA:USD") == CUSTOMER_FLOAT - 250
    assert chain.balance("BANKA/bob", "BANKA:USD") == CUSTOMER_FLOAT + 250


def test_cross_bank_transfer_burns_settles_and_mints(chain: Chain) -> None:
    events = chain.ok("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 300))
    assert events == (
        ev.Transferred("BANKA/alice", "BANKB/carol", "BANKA:USD", "BANKB:USD", 300, True),
        ev.InterbankSettled("CB:USD", "BANKA", "BANKB", 300),
    )
    assert chain.balance("BANKA/alice", "BANKA:USD") == CUSTOMER_FLOAT - 300
    assert chain.balance("BANKB/carol", "BANKB:USD") == CUSTOMER_FLOAT + 300
    assert chain.balance("CB/BANKA", "CB:USD") == SETTLEMENT_FLOAT - 300
    assert chain.balance("CB/BANKB", "CB:USD") == SETTLEMENT_FLOAT + 300
    token_a = q.get_instrument(chain.state, "BANKA:USD")
    token_b = q.get_instrument(chain.state, "BANKB:USD")
    assert token_a is not None and token_a.supply == 2 * CUSTOMER_FLOAT - 300  # alice, bob
    assert token_b is not None and token_b.supply == CUSTOMER_FLOAT + 300  # carol only


def test_cross_bank_transfer_is_all_or_nothing(chain: Chain) -> None:
    # drain BANKA's settlement account by freezing all of it: the customer leg alone would work
    order = Freeze("CB/BANKA", False, "CB:USD", SETTLEMENT_FLOAT, "court-1")
    chain.ok("REG", order, signers=["REG", "CB"])
    code, _ = chain.run("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 300))
    assert code is Code.INSUFFICIENT_SETTLEMENT_BALANCE
    assert chain.balance("BANKA/alice", "BANKA:USD") == CUSTOMER_FLOAT
    assert chain.balance("BANKB/carol", "BANKB:USD") == CUSTOMER_FLOAT


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (Transfer("BANKA/bob", "BANKA:USD", CUSTOMER_FLOAT + 1), Code.INSUFFICIENT_FREE_BALANCE),
        (Transfer("BANKA/ghost", "BANKA:USD", 1), Code.UNKNOWN_ACCOUNT),
        (Transfer("BANKA/bob", "BANKZ:USD", 1), Code.UNKNOWN_INSTRUMENT),
        (Transfer("BANKA/bob", "BANKB:USD", 1), Code.INSTRUMENT_MISMATCH),
        (Transfer("BANKA/alice", "BANKA:USD", 1), Code.INVALID_ARGUMENT),
    ],
)
def test_transfer_rejections(chain: Chain, body: Transfer, code: Code) -> None:
    assert chain.run("BANKA/alice", body)[0] is code


def test_transfer_from_or_to_frozen_account(chain: Chain) -> None:
    chain.ok("BANKA", Freeze("BANKA/bob", True, None, 0, "order-7"))
    assert chain.run("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))[0] is Code.ACCOUNT_FROZEN
    assert chain.run("BANKA/bob", Transfer("BANKA/alice", "BANKA:USD", 1))[0] is Code.ACCOUNT_FROZEN
    chain.ok("BANKA", Freeze("BANKA/bob", False, None, 0, "order-7-lifted"))
    chain.ok("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))


def test_frozen_amount_limits_free_balance(chain: Chain) -> None:
    events = chain.ok("REG", Freeze("BANKA/alice", False, "BANKA:USD", 9_000, "court-2"))
    assert events == (ev.Frozen("BANKA/alice", "REG", False, "BANKA:USD", 9_000, "court-2"),)
    balance = q.get_balance(chain.state, "BANKA/alice", "BANKA:USD")
    assert (balance.total, balance.frozen, balance.free) == (CUSTOMER_FLOAT, 9_000, 1_000)
    assert (
        chain.run("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1_001))[0]
        is Code.INSUFFICIENT_FREE_BALANCE
    )
    chain.ok("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1_000))
    # overwrite semantics: a new order replaces the amount
    chain.ok("REG", Freeze("BANKA/alice", False, "BANKA:USD", 0, "court-2-release"))
    assert q.get_balance(chain.state, "BANKA/alice", "BANKA:USD").free == 9_000


def test_kyc_expired_account_cannot_receive(chain: Chain) -> None:
    chain.ok("BANKA", AccountOpen("BANKA/eve", (key("eve").public_key,), 1, b"k" * 32, NOW_MS + 1))
    later = execute_block(
        chain.state,
        [chain.f.raw("BANKA/alice", Transfer("BANKA/eve", "BANKA:USD", 1))],
        chain.state.height + 1,
        NOW_MS + 2,
    )
    assert later.receipts[0].code is Code.KYC_EXPIRED


# -- mint / redeem ---------------------------------------------------------------------------


def test_mint_by_issuer(chain: Chain) -> None:
    events = chain.ok("BANKA", Mint("BANKA/alice", "BANKA:USD", 500, "core-debit-1"))
    assert events == (ev.Minted("BANKA/alice", "BANKA:USD", 500, "core-debit-1"),)
    instrument = q.get_instrument(chain.state, "BANKA:USD")
    assert instrument is not None and instrument.supply == 2 * CUSTOMER_FLOAT + 500


@pytest.mark.parametrize(
    ("submitter", "body", "code"),
    [
        ("BANKB", Mint("BANKA/alice", "BANKA:USD", 1, "x"), Code.NOT_AUTHORIZED),
        ("BANKA/alice", Mint("BANKA/alice", "BANKA:USD", 1, "x"), Code.NOT_AUTHORIZED),
        ("BANKA", Mint("BANKB/carol", "BANKA:USD", 1, "x"), Code.INSTRUMENT_MISMATCH),
        ("BANKA", Mint("BANKA/ghost", "BANKA:USD", 1, "x"), Code.UNKNOWN_ACCOUNT),
        ("BANKA", Mint("BANKA/alice", "BANKA:EUR", 1, "x"), Code.UNKNOWN_INSTRUMENT),
        ("BANKA", Mint("BANKA/alice", "BANKA:USD", 2**63 - 1, "x"), Code.LIMIT_EXCEEDED),
    ],
)
def test_mint_rejections(chain: Chain, submitter: str, body: Mint, code: Code) -> None:
    assert chain.run(submitter, body)[0] is code


def test_mint_to_frozen_account_is_rejected(chain: Chain) -> None:
    chain.ok("BANKA", Freeze("BANKA/bob", True, None, 0, "order"))
    assert chain.run("BANKA", Mint("BANKA/bob", "BANKA:USD", 1, "x"))[0] is Code.ACCOUNT_FROZEN


def test_redeem_by_holder_and_by_issuer_with_legal_basis(chain: Chain) -> None:
    events = chain.ok("BANKA/alice", Redeem("BANKA/alice", "BANKA:USD", 100, "iban-hash-1", None))
    assert events == (ev.Redeemed("BANKA/alice", "BANKA:USD", 100, "iban-hash-1"),)
    code, _ = chain.run("BANKA", Redeem("BANKA/alice", "BANKA:USD", 100, "p", None))
    assert code is Code.LEGAL_BASIS_REQUIRED
    chain.ok("BANKA", Redeem("BANKA/alice", "BANKA:USD", 100, "p", "court-9"))
    assert chain.balance("BANKA/alice", "BANKA:USD") == CUSTOMER_FLOAT - 200
    instrument = q.get_instrument(chain.state, "BANKA:USD")
    assert instrument is not None and instrument.supply == 2 * CUSTOMER_FLOAT - 200


def test_redeem_rejections(chain: Chain) -> None:
    too_much = Redeem("BANKA/alice", "BANKA:USD", CUSTOMER_FLOAT + 1, "p", None)
    assert chain.run("BANKA/alice", too_much)[0] is Code.INSUFFICIENT_FREE_BALANCE
    other = Redeem("BANKA/bob", "BANKA:USD", 1, "p", None)
    assert chain.run("BANKA/alice", other)[0] is Code.NOT_AUTHORIZED
    chain.ok("BANKA", Freeze("BANKA/alice", True, None, 0, "order"))
    mine = Redeem("BANKA/alice", "BANKA:USD", 1, "p", None)
    assert chain.run("BANKA/alice", mine)[0] is Code.ACCOUNT_FROZEN


# -- accounts ---------------------------------------------------------------------------------


def test_account_open_update_recover_close(chain: Chain) -> None:
    new_key = key("frank").public_key
    assert chain.ok(
        "BANKB", AccountOpen("BANKB/frank", (new_key,), 1, b"h" * 32, FAR_FUTURE_MS)
    ) == (ev.AccountOpened("BANKB/frank"),)
    assert (
        chain.run("BANKB", AccountOpen("BANKB/frank", (new_key,), 1, b"h" * 32, FAR_FUTURE_MS))[0]
        is Code.ACCOUNT_EXISTS
    )
    chain.ok("BANKB", Mint("BANKB/frank", "BANKB:USD", 10, "f"))
    close = AccountUpdate("BANKB/frank", None, None, None, None, True)
    assert chain.run("BANKB", close)[0] is Code.BALANCE_NOT_ZERO
    recovered = key("frank-2").public_key
    recover = AccountUpdate("BANKB/frank", (recovered,), 1, None, None, False, "case-1")
    events = chain.ok("BANKB", recover, signers=["BANKB", "REG"])
    assert ev.AccountKeysRecovered("BANKB/frank", "case-1", "REG") in events
    assert (
        chain.run("BANKB/frank", Redeem("BANKB/frank", "BANKB:USD", 10, "p", None))[0]
        is Code.NOT_AUTHORIZED
    )
    chain.ok("BANKB/frank", Redeem("BANKB/frank", "BANKB:USD", 10, "p", None), signers=["frank-2"])
    assert ev.AccountClosed("BANKB/frank") in chain.ok("BANKB", close)
    account = q.get_account(chain.state, "BANKB/frank")
    assert account is not None and account.balance_count == 0
    assert chain.run("BANKB", close)[0] is Code.ACCOUNT_CLOSED
    assert (
        chain.run("BANKA/alice", Transfer("BANKB/frank", "BANKA:USD", 1))[0] is Code.ACCOUNT_CLOSED
    )


def test_account_open_rejections(chain: Chain) -> None:
    k = (key("x").public_key,)
    assert (
        chain.run("BANKA", AccountOpen("BANKB/x", k, 1, b"h" * 32, FAR_FUTURE_MS))[0]
        is Code.NOT_AUTHORIZED
    )
    assert (
        chain.run("BANKA", AccountOpen("BANKA/x", k, 1, b"h" * 32, NOW_MS))[0] is Code.KYC_EXPIRED
    )
    assert (
        chain.run("REG", AccountOpen("REG/x", k, 1, b"h" * 32, FAR_FUTURE_MS))[0]
        is Code.NOT_AUTHORIZED
    )
    nothing = AccountUpdate("BANKA/alice", None, None, None, None, False)
    assert chain.run("BANKA", nothing)[0] is Code.INVALID_ARGUMENT
    assert (
        chain.run("BANKA", AccountUpdate("BANKA/ghost", None, None, None, None, True))[0]
        is Code.UNKNOWN_ACCOUNT
    )


# -- freeze ------------------------------------------------------------------------------------


def test_freeze_rules(chain: Chain) -> None:
    assert chain.run("BANKB", Freeze("BANKA/alice", True, None, 0, "x"))[0] is Code.NOT_AUTHORIZED
    too_much = Freeze("BANKA/alice", False, "BANKA:USD", CUSTOMER_FLOAT + 1, "x")
    assert chain.run("REG", too_much)[0] is Code.INSUFFICIENT_FREE_BALANCE
    before = chain.balance("BANKA/alice", "BANKA:USD")
    chain.ok("BANKA", Freeze("BANKA/alice", True, "BANKA:USD", 5, "x"))
    assert chain.balance("BANKA/alice", "BANKA:USD") == before  # never changes balances
    account = q.get_account(chain.state, "BANKA/alice")
    assert account is not None and account.frozen


# -- governance: participants, validators, instruments ----------------------------------------


def _participant(
    pid: str, roles: set[Role], power: int = 0, status: ParticipantStatus = ParticipantStatus.ACTIVE
) -> Participant:
    return Participant(
        pid, pid, frozenset(roles), status, (key(pid).public_key,), 1,
        key(pid + "-val").public_key if power else None, power, "", "",
    )  # fmt: skip


def test_participant_upsert_needs_governance_threshold(chain: Chain) -> None:
    body = ParticipantUpsert(_participant("BANKD", {Role.BANK}))
    assert chain.run("BANKA", body)[0] is Code.NOT_AUTHORIZED  # 1 of 3 banks
    assert chain.run("BANKA", body, signers=["BANKA", "BANKB"])[0] is Code.NOT_AUTHORIZED
    assert (
        chain.run("BANKA/alice", body, signers=["BANKA/alice", *GOVERNANCE])[0]
        is Code.NOT_AUTHORIZED
    )
    assert chain.run("CB", body, signers=["CB", *GOVERNANCE])[0] is Code.NOT_AUTHORIZED
    events = chain.ok("BANKA", body, signers=GOVERNANCE)
    assert events == (ev.ParticipantUpserted("BANKD", True),)
    assert q.get_participant(chain.state, "BANKD") is not None


def test_validator_change_takes_effect_two_heights_later(chain: Chain) -> None:
    old = get_validators(chain.state, 1)
    assert len(old) == 3
    body = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, power=5))
    raw = chain.f.raw("BANKA", body, signers=GOVERNANCE)
    h = chain.state.height + 1
    result = execute_block(chain.state, [raw], h, NOW_MS)
    assert result.receipts[0].code is Code.OK
    new_key = key("BANKD-val").public_key
    assert result.validator_updates == ((new_key, 5),)
    assert get_validators(result.state, h + 1) == old
    assert get_validators(result.state, h + 2) == tuple(sorted((*old, (new_key, 5))))
    assert get_validators(chain.state, h + 2) == old  # the parent state is unchanged


def test_the_set_that_signed_the_tip_stays_known_after_consecutive_changes(chain: Chain) -> None:
    # A restarted node checks the tip's certificate with the set of the tip's own height.
    signers = GOVERNANCE
    for power in (5, 7, 9):
        body = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, power=power))
        chain.ok("BANKA", body, signers=signers)
        tip = chain.state.height
        for height in (tip, tip + 1, tip + 2):
            assert get_validators(chain.state, height)


def test_validator_set_cannot_become_empty() -> None:
    chain = Chain(genesis_state(bank_power=0, validators=1))
    body = ParticipantUpsert(_participant("VAL000", {Role.VALIDATOR}, 0))
    signers = [*GOVERNANCE, "VAL000"]
    assert chain.run("BANKA", body, signers=signers)[0] is Code.VALIDATOR_SET_INVALID
    assert len(get_validators(chain.state, chain.state.height + 2)) == 1


def test_governance_must_stay_reachable() -> None:
    chain = Chain(genesis_state(bank_power=0, validators=1))
    suspended = ParticipantStatus.SUSPENDED
    chain.ok("BANKA", ParticipantUpsert(_participant("BANKC", {Role.BANK}, 0, suspended)),
             signers=GOVERNANCE)  # fmt: skip
    chain.ok("BANKA", ParticipantUpsert(_participant("BANKB", {Role.BANK}, 0, suspended)),
             signers=["BANKA", "BANKB"])  # fmt: skip
    code, _ = chain.run(
        "BANKA", ParticipantUpsert(_participant("BANKA", {Role.BANK}, 0, suspended))
    )
    assert code is Code.GOVERNANCE_UNREACHABLE
    # a suspended participant cannot submit
    assert (
        chain.run("BANKC", Mint("BANKC/dave", "BANKC:USD", 1, "x"))[0] is Code.PARTICIPANT_INACTIVE
    )


def test_instrument_register(chain: Chain) -> None:
    hkd_cb = InstrumentSpec("CB:HKD", InstrumentKind.SETTLEMENT_ASSET, "CB", "HKD", 2, None)
    hkd_a = InstrumentSpec("BANKA:HKD", InstrumentKind.DEPOSIT_TOKEN, "BANKA", "HKD", 2, "CB:HKD")
    # deposit token before its settlement asset exists
    assert (
        chain.run("BANKA", InstrumentRegister(hkd_a), signers=GOVERNANCE)[0]
        is Code.UNKNOWN_INSTRUMENT
    )
    # governance without the issuer's signature
    assert (
        chain.run("BANKA", InstrumentRegister(hkd_cb), signers=GOVERNANCE)[0] is Code.NOT_AUTHORIZED
    )
    chain.ok("BANKA", InstrumentRegister(hkd_cb), signers=[*GOVERNANCE, "CB"])
    assert (
        chain.run("BANKA", InstrumentRegister(hkd_cb), signers=[*GOVERNANCE, "CB"])[0]
        is Code.INSTRUMENT_EXISTS
    )
    chain.ok("BANKA", InstrumentRegister(hkd_a), signers=GOVERNANCE)
    wrong_ccy = InstrumentSpec(
        "BANKB:HKD", InstrumentKind.DEPOSIT_TOKEN, "BANKB", "HKD", 2, "CB:USD"
    )
    assert (
        chain.run("BANKA", InstrumentRegister(wrong_ccy), signers=GOVERNANCE)[0]
        is Code.INSTRUMENT_MISMATCH
    )
    not_agent = InstrumentSpec(
        "BANKB:EUR", InstrumentKind.SETTLEMENT_ASSET, "BANKB", "EUR", 2, None
    )
    assert (
        chain.run("BANKA", InstrumentRegister(not_agent), signers=GOVERNANCE)[0]
        is Code.INVALID_ARGUMENT
    )
    instrument = q.get_instrument(chain.state, "BANKA:HKD")
    assert instrument is not None and instrument.supply == 0
    assert q.get_chain_config(chain.state).chain_id == CHAIN_ID
