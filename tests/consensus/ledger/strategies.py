"""Hypothesis strategies for every transaction body, the envelope, receipts and events."""

from __future__ import annotations

from hypothesis import strategies as st

from consensus import crypto
from consensus.ledger import events as ev
from consensus.ledger.codes import AMOUNT_MAX, Code
from consensus.ledger.controls import GovernanceParams
from consensus.ledger.events import Receipt
from consensus.ledger.holds import HoldRef, HoldTerms
from consensus.ledger.pauses import PauseScope
from consensus.ledger.policies import (
    ApprovalRule,
    Limits,
    PolicyScope,
    PolicyTerms,
    TravelRecord,
)
from consensus.ledger.records import (
    InstrumentKind,
    InstrumentSpec,
    Participant,
    ParticipantStatus,
    Role,
)
from consensus.ledger.txs import (
    AccountOpen,
    AccountRecoveryCancel,
    AccountUpdate,
    Body,
    ForcedTransfer,
    Freeze,
    GovernanceParamsSet,
    HoldApprove,
    HoldCancel,
    HoldCreate,
    HoldExecute,
    InstrumentRegister,
    Mint,
    ParticipantChangeCancel,
    ParticipantUpsert,
    Pause,
    PolicySet,
    Redeem,
    SignedTx,
    Transfer,
    TxType,
    UnsignedTx,
    ValidUntil,
    ValidUntilKind,
)

participant_ids = st.from_regex(r"[A-Z][A-Z0-9_]{0,31}", fullmatch=True)
currencies = st.from_regex(r"[A-Z]{3}", fullmatch=True)
instrument_ids = st.builds(lambda p, c: f"{p}:{c}", participant_ids, currencies)
account_ids = st.builds(
    lambda p, local: f"{p}/{local}",
    st.from_regex(r"[A-Z][A-Z0-9_]{0,14}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_.\-]{1,48}", fullmatch=True),
)
refs = st.from_regex(r"[\x20-\x7e]{0,40}", fullmatch=True)
nonempty_refs = st.from_regex(r"[\x20-\x7e]{1,40}", fullmatch=True)
amounts = st.integers(1, AMOUNT_MAX)
hashes = st.binary(min_size=32, max_size=32)
public_keys = st.binary(min_size=32, max_size=32)
keysets = st.lists(public_keys, min_size=1, max_size=4, unique=True).map(
    lambda ks: tuple(sorted(ks))
)


@st.composite
def keys_and_threshold(draw: st.DrawFn) -> tuple[tuple[bytes, ...], int]:
    keys = draw(keysets)
    return keys, draw(st.integers(1, len(keys)))


@st.composite
def participants(draw: st.DrawFn) -> Participant:
    keys, threshold = draw(keys_and_threshold())
    return Participant(
        participant_id=draw(participant_ids),
        name=draw(refs),
        roles=frozenset(draw(st.sets(st.sampled_from(list(Role))))),
        status=draw(st.sampled_from(list(ParticipantStatus))),
        keys=keys,  # type: ignore[arg-type]
        threshold=threshold,
        validator_key=draw(st.none() | public_keys),  # type: ignore[arg-type]
        validator_power=draw(st.integers(0, 2**40)),
        lei=draw(refs),
        bic=draw(refs),
    )


@st.composite
def instrument_specs(draw: st.DrawFn) -> InstrumentSpec:
    issuer, currency = draw(participant_ids), draw(currencies)
    kind = draw(st.sampled_from(list(InstrumentKind)))
    settlement = None
    if kind is InstrumentKind.DEPOSIT_TOKEN:
        settlement = f"{draw(participant_ids)}:{currency}"
    return InstrumentSpec(
        f"{issuer}:{currency}", kind, issuer, currency, draw(st.integers(0, 18)), settlement
    )


@st.composite
def account_updates(draw: st.DrawFn) -> AccountUpdate:
    keyset = draw(st.none() | keys_and_threshold())
    kyc = draw(st.none() | st.tuples(hashes, st.integers(0, AMOUNT_MAX)))
    return AccountUpdate(
        draw(account_ids),
        None if keyset is None else keyset[0],  # type: ignore[arg-type]
        None if keyset is None else keyset[1],
        None if kyc is None else kyc[0],
        None if kyc is None else kyc[1],
        draw(st.booleans()),
        None if keyset is None else draw(st.none() | nonempty_refs),
    )


@st.composite
def freezes(draw: st.DrawFn) -> Freeze:
    instrument = draw(st.none() | instrument_ids)
    amount = 0 if instrument is None else draw(st.integers(0, AMOUNT_MAX))
    return Freeze(draw(account_ids), draw(st.booleans()), instrument, amount, draw(nonempty_refs))


@st.composite
def account_opens(draw: st.DrawFn) -> AccountOpen:
    keys, threshold = draw(keys_and_threshold())
    expiry = draw(st.integers(0, AMOUNT_MAX))
    return AccountOpen(draw(account_ids), keys, threshold, draw(hashes), expiry)  # type: ignore[arg-type]


@st.composite
def governance_params(draw: st.DrawFn) -> GovernanceParams:
    denominator = draw(st.integers(2, 1_000))
    numerator = draw(st.integers((denominator + 1) // 2, denominator - 1))
    return GovernanceParams(
        numerator,
        denominator,
        draw(st.integers(1, 1_000_000)),
        draw(st.integers(0, 1_000_000)),
        draw(st.integers(1, 128)),
    )


hold_ids = st.from_regex(r"[A-Za-z0-9_.\-]{1,48}", fullmatch=True)


@st.composite
def pauses(draw: st.DrawFn) -> Pause:
    scope = draw(st.sampled_from(list(PauseScope)))
    target = {
        PauseScope.NETWORK: st.just(""),
        PauseScope.INSTRUMENT: instrument_ids,
        PauseScope.PARTICIPANT: participant_ids,
    }[scope]
    return Pause(scope, draw(target), draw(st.booleans()), draw(nonempty_refs))


travel_records = st.builds(TravelRecord, hashes, st.from_regex(r"[A-Z0-9]{1,4}", fullmatch=True))


def approval_rules(ids: st.SearchStrategy[str]) -> st.SearchStrategy[ApprovalRule]:
    @st.composite
    def rule(draw: st.DrawFn) -> ApprovalRule:
        approvers = tuple(sorted(draw(st.lists(ids, min_size=1, max_size=8, unique=True))))
        return ApprovalRule(draw(st.integers(1, len(approvers))), approvers)

    return rule()


optional_amounts = st.none() | amounts
named_authorities = st.lists(participant_ids, min_size=1, max_size=32, unique=True).map(
    lambda ids: tuple(sorted(ids))
)
limits = st.builds(Limits, optional_amounts, optional_amounts, optional_amounts, optional_amounts)


@st.composite
def policy_sets(draw: st.DrawFn) -> PolicySet:
    scope = draw(st.sampled_from(list(PolicyScope)))
    target = {
        PolicyScope.NETWORK: st.just(""),
        PolicyScope.INSTRUMENT: instrument_ids,
        PolicyScope.PARTICIPANT: participant_ids,
        PolicyScope.ACCOUNT: account_ids,
    }[scope]
    terms = PolicyTerms(
        draw(limits),
        draw(st.none() | approval_rules(participant_ids)),
        draw(st.none() | named_authorities),
        draw(st.none() | named_authorities),
    )
    return PolicySet(scope, draw(target), terms)


@st.composite
def hold_terms(draw: st.DrawFn) -> HoldTerms:
    not_before = draw(st.integers(0, AMOUNT_MAX - 1))
    return HoldTerms(
        draw(hold_ids),
        draw(account_ids),
        draw(instrument_ids),
        draw(amounts),
        not_before,
        draw(st.integers(not_before + 1, AMOUNT_MAX)),
        draw(st.none() | hashes),
        draw(st.none() | participant_ids | account_ids),
        draw(st.booleans()),
        draw(st.none() | approval_rules(participant_ids | account_ids)),
        draw(st.none() | travel_records),
    )


hold_refs = st.builds(
    HoldRef, account_ids, hold_ids, st.none() | st.binary(min_size=0, max_size=64)
)
hold_executes = st.lists(
    hold_refs, min_size=1, max_size=4, unique_by=lambda r: (r.payer, r.hold_id)
).map(lambda legs: HoldExecute(tuple(sorted(legs, key=lambda r: (r.payer, r.hold_id)))))

BODY_STRATEGIES: dict[TxType, st.SearchStrategy[Body]] = {
    TxType.PARTICIPANT_UPSERT: st.builds(ParticipantUpsert, participants()),
    TxType.INSTRUMENT_REGISTER: st.builds(InstrumentRegister, instrument_specs()),
    TxType.ACCOUNT_OPEN: account_opens(),
    TxType.ACCOUNT_UPDATE: account_updates(),
    TxType.MINT: st.builds(Mint, account_ids, instrument_ids, amounts, nonempty_refs),
    TxType.REDEEM: st.builds(
        Redeem, account_ids, instrument_ids, amounts, nonempty_refs, st.none() | nonempty_refs
    ),
    TxType.TRANSFER: st.builds(
        Transfer, account_ids, instrument_ids, amounts, st.none() | travel_records
    ),
    TxType.FREEZE: freezes(),
    TxType.GOVERNANCE_PARAMS_SET: st.builds(GovernanceParamsSet, governance_params()),
    TxType.PARTICIPANT_CHANGE_CANCEL: st.builds(ParticipantChangeCancel, participant_ids),
    TxType.ACCOUNT_RECOVERY_CANCEL: st.builds(AccountRecoveryCancel, account_ids),
    TxType.PAUSE: pauses(),
    TxType.HOLD_CREATE: st.builds(HoldCreate, hold_terms()),
    TxType.HOLD_EXECUTE: hold_executes,
    TxType.HOLD_CANCEL: st.builds(HoldCancel, account_ids, hold_ids),
    TxType.FORCED_TRANSFER: st.builds(
        ForcedTransfer,
        account_ids,
        account_ids,
        instrument_ids,
        amounts,
        nonempty_refs,
        st.none() | hold_ids,
    ),
    TxType.POLICY_SET: policy_sets(),
    TxType.HOLD_APPROVE: st.builds(HoldApprove, account_ids, hold_ids),
}
bodies: st.SearchStrategy[Body] = st.one_of(*BODY_STRATEGIES.values())

valid_untils = st.builds(
    ValidUntil, st.sampled_from(list(ValidUntilKind)), st.integers(0, AMOUNT_MAX)
)


@st.composite
def unsigned_txs(draw: st.DrawFn, body: st.SearchStrategy[Body] = bodies) -> UnsignedTx:
    return UnsignedTx(
        chain_id=draw(st.from_regex(r"[a-z0-9\-]{1,50}", fullmatch=True)),  # type: ignore[arg-type]
        submitter=draw(participant_ids | account_ids),
        nonce=draw(st.integers(1, AMOUNT_MAX)),
        idempotency_key=draw(st.from_regex(r"[\x21-\x7e]{1,64}", fullmatch=True)),
        valid_until=draw(valid_untils),
        memo=draw(st.text(max_size=40)),
        body=draw(body),
    )


SEEDS = [crypto.PrivateKey(bytes([i]) * 32) for i in range(1, 5)]


@st.composite
def signed_txs(draw: st.DrawFn) -> SignedTx:
    from consensus.ledger.txs import sign_tx

    keys = draw(st.lists(st.sampled_from(SEEDS), min_size=1, max_size=3))
    return sign_tx(draw(unsigned_txs()), keys)


events = st.one_of(
    st.builds(ev.ParticipantUpserted, nonempty_refs, st.booleans()),
    st.builds(ev.InstrumentRegistered, nonempty_refs),
    st.builds(ev.AccountOpened, nonempty_refs),
    st.builds(ev.AccountUpdated, nonempty_refs),
    st.builds(ev.AccountKeysRecovered, nonempty_refs, nonempty_refs, refs),
    st.builds(ev.AccountKeysRotated, nonempty_refs),
    st.builds(ev.AccountRecoveryProposed, nonempty_refs, nonempty_refs, amounts),
    st.builds(ev.AccountRecoveryCancelled, nonempty_refs),
    st.builds(ev.AccountClosed, nonempty_refs),
    st.builds(ev.Minted, nonempty_refs, nonempty_refs, amounts, refs),
    st.builds(ev.Redeemed, nonempty_refs, nonempty_refs, amounts, refs),
    st.builds(
        ev.Transferred,
        nonempty_refs,
        nonempty_refs,
        nonempty_refs,
        nonempty_refs,
        amounts,
        st.booleans(),
    ),
    st.builds(ev.InterbankSettled, nonempty_refs, nonempty_refs, nonempty_refs, amounts),
    st.builds(
        ev.Frozen,
        nonempty_refs,
        nonempty_refs,
        st.booleans(),
        st.none() | nonempty_refs,
        st.integers(0, AMOUNT_MAX),
        refs,
    ),
    st.builds(ev.ParticipantChangeProposed, nonempty_refs, amounts),
    st.builds(ev.ParticipantChangeCancelled, nonempty_refs),
    st.builds(ev.GovernanceParamsChanged, amounts, amounts, amounts, amounts, amounts),
    st.builds(ev.Paused, st.integers(1, 3), refs, nonempty_refs, st.booleans(), nonempty_refs),
    st.builds(
        ev.HoldCreated, nonempty_refs, nonempty_refs, nonempty_refs, nonempty_refs, amounts, amounts
    ),
    st.builds(
        ev.HoldExecuted,
        nonempty_refs,
        nonempty_refs,
        nonempty_refs,
        nonempty_refs,
        nonempty_refs,
        amounts,
        st.booleans(),
    ),
    st.builds(
        ev.HoldCancelled, nonempty_refs, nonempty_refs, amounts, nonempty_refs, st.booleans()
    ),
    st.builds(
        ev.ForcedTransferred,
        nonempty_refs,
        nonempty_refs,
        nonempty_refs,
        nonempty_refs,
        amounts,
        nonempty_refs,
        nonempty_refs,
        st.booleans(),
    ),
    st.builds(
        ev.PolicyChanged,
        st.integers(1, 4),
        refs,
        refs,
        optional_amounts,
        optional_amounts,
        optional_amounts,
        optional_amounts,
        st.integers(0, 8),
    ),
    st.builds(
        ev.TravelRuleRecorded,
        nonempty_refs,
        nonempty_refs,
        amounts,
        hashes.map(bytes.hex),
        st.from_regex(r"[A-Z0-9]{1,4}", fullmatch=True),
    ),
    st.builds(ev.HoldApproved, nonempty_refs, nonempty_refs, nonempty_refs, st.integers(1, 8)),
    st.builds(
        ev.AuthoritiesNamed,
        named_authorities.map(",".join) | st.just(""),
        named_authorities.map(",".join) | st.just(""),
    ),
)

receipts = st.builds(
    Receipt,
    st.sampled_from(list(Code)),
    st.text(max_size=60),
    st.lists(events, max_size=4).map(tuple),
)


MUTATIONS = ("flip", "insert", "delete", "truncate", "set")


def mutate_bytes(raw: bytes, data: st.DataObject, ops: tuple[str, ...] = MUTATIONS) -> bytes:
    """``raw`` after one to three drawn edits: a bit flipped, a byte inserted, deleted or set,
    or the tail cut off (an edit that does not apply to empty bytes cuts instead)."""
    edited = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(ops))
        index = data.draw(st.integers(0, max(0, len(edited) - 1)))
        if op == "flip" and edited:
            edited[index] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "insert":
            edited.insert(index, data.draw(st.integers(0, 255)))
        elif op == "delete" and edited:
            del edited[index]
        elif op == "set" and edited:
            edited[index] = data.draw(st.integers(0, 255))
        else:
            del edited[index:]
    return bytes(edited)
