"""Read-only queries over a ``State`` for the RPC, the SDK and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from consensus.ledger.codes import Code
from consensus.ledger.controls import FreezeBook, GovernanceParams, PendingChange, PendingRecovery
from consensus.ledger.execute import PendingBlock, execute_tx
from consensus.ledger.holds import Hold
from consensus.ledger.pauses import EMPTY_PAUSE_BOOK, PauseBook
from consensus.ledger.policies import (
    EMPTY_ACCOUNT_POLICIES,
    EMPTY_POLICY_BOOK,
    AccountPolicies,
    PolicyBook,
)
from consensus.ledger.records import (
    ZERO_BALANCE,
    Account,
    Balance,
    ChainConfig,
    Instrument,
    Participant,
)
from consensus.ledger.state import (
    BALANCE_PREFIX,
    CONFIG_KEY,
    GOVERNANCE_KEY,
    PARTICIPANT_INDEX_KEY,
    PAUSE_KEY,
    POLICY_KEY,
    State,
    account_key,
    account_policy_key,
    balance_key,
    balance_prefix,
    decode_value,
    freeze_key,
    funding_key,
    hold_key,
    idempotency_key,
    instrument_key,
    nonce_key,
    parse_balance_key,
    participant_key,
    pending_key,
    recovery_key,
)
from consensus.ledger.view import BlockView

_R = TypeVar("_R")


def _get(state: State, key: bytes, kind: type[_R]) -> _R | None:
    """The record under ``key``, checked to be a ``kind`` (the key's prefix decides which).
    Through the state's decode memo: admission reads the submitter's nonce for every tx."""
    record = state.get_record(key)
    return None if record is None else _checked(key, record, kind)


def _decode(key: bytes, raw: bytes, kind: type[_R]) -> _R:
    return _checked(key, decode_value(key, raw), kind)


def _checked(key: bytes, record: object, kind: type[_R]) -> _R:
    if not isinstance(record, kind):
        raise TypeError(f"state key {key[:16]!r} holds a {type(record).__name__}")
    return record


def get_chain_config(state: State) -> ChainConfig:
    return state.config


def get_governance(state: State) -> GovernanceParams:
    params = _get(state, GOVERNANCE_KEY, GovernanceParams)
    if params is None:
        raise LookupError("state has no governance parameters")
    return params


def get_pending_change(state: State, participant_id: str) -> PendingChange | None:
    """A governance change of the participant waiting out its delay, if any."""
    return _get(state, pending_key(participant_id), PendingChange)


def get_pending_recovery(state: State, account_id: str) -> PendingRecovery | None:
    """A key recovery of the account waiting out its delay, if any."""
    return _get(state, recovery_key(account_id), PendingRecovery)


def get_freeze_book(state: State, account_id: str) -> FreezeBook | None:
    """Every standing freeze order on the account, by authority (None if none)."""
    return _get(state, freeze_key(account_id), FreezeBook)


def get_pause_book(state: State) -> PauseBook:
    """Every standing pause order (empty if nothing is paused)."""
    return _get(state, PAUSE_KEY, PauseBook) or EMPTY_PAUSE_BOOK


def get_policy_book(state: State) -> PolicyBook:
    """Every network, instrument and participant policy order (empty if none)."""
    return _get(state, POLICY_KEY, PolicyBook) or EMPTY_POLICY_BOOK


def get_account_policies(state: State, account_id: str) -> AccountPolicies:
    """The policy orders standing on one account (empty if none)."""
    return _get(state, account_policy_key(account_id), AccountPolicies) or EMPTY_ACCOUNT_POLICIES


def get_hold(state: State, payer: str, hold_id: str) -> Hold | None:
    """The payer's hold with this id, active or ended (None if it never existed)."""
    return _get(state, hold_key(payer, hold_id), Hold)


def is_funding_ref_used(state: State, issuer: str, funding_ref: str) -> bool:
    return state.get(funding_key(issuer, funding_ref)) is not None


def get_participant(state: State, participant_id: str) -> Participant | None:
    return _get(state, participant_key(participant_id), Participant)


def get_participant_ids(state: State) -> tuple[str, ...]:
    return _get(state, PARTICIPANT_INDEX_KEY, tuple) or ()


def get_instrument(state: State, instrument_id: str) -> Instrument | None:
    """The instrument with its outstanding supply (minted - redeemed)."""
    return _get(state, instrument_key(instrument_id), Instrument)


def get_account(state: State, account_id: str) -> Account | None:
    return _get(state, account_key(account_id), Account)


@dataclass(frozen=True, slots=True)
class BalanceView:
    total: int
    frozen: int
    held: int
    free: int


def get_balance(state: State, account_id: str, instrument_id: str) -> BalanceView:
    """Balance of an account in an instrument; all zero when it holds none."""
    balance = _get(state, balance_key(account_id, instrument_id), Balance) or ZERO_BALANCE
    return BalanceView(balance.total, balance.frozen, balance.held, balance.free)


def get_nonce(state: State, submitter: str) -> int:
    """The submitter's last accepted nonce (0 if none); the next tx needs a larger one."""
    return _get(state, nonce_key(submitter), int) or 0


def is_idempotency_key_used(state: State, submitter: str, key: str) -> bool:
    return state.get(idempotency_key(submitter, key)) is not None


def get_idempotency_key_height(state: State, submitter: str, key: str) -> int | None:
    """Height of the block that accepted ``(submitter, key)``, if any."""
    return _get(state, idempotency_key(submitter, key), int)


__all__ = [
    "CONFIG_KEY",
    "BalanceView",
    "get_account",
    "get_account_balances",
    "get_balance",
    "get_balance_totals",
    "get_chain_config",
    "get_freeze_book",
    "get_governance",
    "get_hold",
    "get_idempotency_key_height",
    "get_instrument",
    "get_nonce",
    "get_participant",
    "get_participant_ids",
    "get_pause_book",
    "get_pending_change",
    "get_pending_recovery",
    "is_funding_ref_used",
    "is_idempotency_key_used",
    "precheck_tx",
]


def precheck_tx(state: State, raw: bytes, time_ms: int) -> tuple[Code, str]:
    """Would ``raw`` pass if it were the next block's first transaction, at block time
    ``time_ms``? The code (``Code.OK`` or the typed rejection) and log it would get, by the very
    rules a block runs (``execute.execute_tx`` over a throwaway view): as ERC-3643's
    ``canTransfer``. Read-only: ``state`` is never changed. Later transactions of the same
    block, or another block time, may give another answer."""
    view = BlockView(state)
    block = PendingBlock(view, state.config.chain_id, state.height + 1, time_ms, None)
    receipt = execute_tx(block, raw)
    return receipt.code, receipt.log


def get_account_balances(state: State, account_id: str) -> dict[str, BalanceView]:
    """Every non-zero balance of an account, by instrument id (a prefix scan of the state)."""
    result = {}
    for key, raw in state.iter_prefix(balance_prefix(account_id)):
        balance = _decode(key, raw, Balance)
        instrument_id = parse_balance_key(key)[1]
        result[instrument_id] = BalanceView(
            balance.total, balance.frozen, balance.held, balance.free
        )
    return result


def get_balance_totals(state: State) -> dict[str, int]:
    """Sum of every account's total balance, by instrument id: what conservation checks hold
    against the instruments' supply. Streams every balance (checks and benchmarks only)."""
    totals: dict[str, int] = {}
    for key, raw in state.iter_prefix(BALANCE_PREFIX):
        instrument_id = parse_balance_key(key)[1]
        total = _decode(key, raw, Balance).total
        totals[instrument_id] = totals.get(instrument_id, 0) + total
    return totals
