"""A block's working view over a parent ``State``: typed reads, staged writes, no mutation.

Reads decode each record at most once per block. Writes go to a per-transaction stage that is
merged into the block's writes only when the transaction succeeds, so a rejected transaction
changes nothing, whatever a rule did before it raised.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from consensus.ledger.controls import (
    EMPTY_FREEZE_BOOK,
    FreezeBook,
    GovernanceParams,
    PendingChange,
    PendingRecovery,
)
from consensus.ledger.holds import Hold
from consensus.ledger.pauses import EMPTY_PAUSE_BOOK, PauseBook
from consensus.ledger.policies import (
    EMPTY_ACCOUNT_POLICIES,
    EMPTY_POLICY_BOOK,
    AccountPolicies,
    DailySpend,
    PolicyBook,
)
from consensus.ledger.records import (
    ZERO_BALANCE,
    Account,
    Balance,
    ChainConfig,
    Instrument,
    Participant,
    ValidatorSchedule,
)
from consensus.ledger.state import (
    ACCOUNT_PREFIX,
    BALANCE_PREFIX,
    CONFIG_KEY,
    GOVERNANCE_KEY,
    INSTRUMENT_PREFIX,
    NONCE_PREFIX,
    PARTICIPANT_INDEX_KEY,
    PAUSE_KEY,
    POLICY_KEY,
    SCHEDULE_KEY,
    SEPARATOR,
    Missing,
    Record,
    State,
    account_key,
    account_policy_key,
    daily_spend_key,
    freeze_key,
    funding_key,
    hold_key,
    idempotency_key,
    instrument_key,
    nonce_key,
    participant_key,
    pending_key,
    recovery_key,
)

_MISSING = Missing.MISSING


class BlockView:
    """Overlay of one block's writes on a parent state (which it never mutates)."""

    __slots__ = ("_dirty", "_dirty_mark", "_parent", "_records", "_undo")

    def __init__(self, parent: State) -> None:
        self._parent = parent
        self._records: dict[bytes, Record | None] = {}
        """Every record this block has read or written (None = absent or deleted)."""
        self._dirty: dict[bytes, None] = {}
        """Keys written by this block, in first-write order (an ordered set)."""
        self._undo: list[tuple[bytes, Record | Missing | None]] = []
        """(key, previous record or _MISSING) for each write of the open tx."""
        self._dirty_mark = 0
        """len(_dirty) when the open tx began: keys it added sit after this point."""

    # -- transaction boundaries --------------------------------------------------------------

    def commit_tx(self) -> None:
        self._undo.clear()
        self._dirty_mark = len(self._dirty)

    def discard_tx(self) -> None:
        """Roll back every write of the open transaction, newest first."""
        records, dirty = self._records, self._dirty
        for key, previous in reversed(self._undo):
            if previous is _MISSING:
                del records[key]
            else:
                records[key] = previous
        while len(dirty) > self._dirty_mark:  # dicts pop in reverse insertion order
            dirty.popitem()
        self._undo.clear()

    def compute_changes(self) -> dict[bytes, bytes | None]:
        """The block's writes as encoded state changes."""
        assert not self._undo, "a transaction is still open"
        records = self._records
        return self._parent.encode_records((key, records[key]) for key in self._dirty)

    # -- generic access ----------------------------------------------------------------------

    def read(self, key: bytes) -> Record | None:
        value = self._records.get(key, _MISSING)
        if value is _MISSING:
            value = self._records[key] = self._parent.get_record(key)
        return value

    def write(self, key: bytes, record: Record | None) -> None:
        records = self._records
        self._undo.append((key, records.get(key, _MISSING)))
        records[key] = record
        self._dirty[key] = None

    # -- typed access ------------------------------------------------------------------------
    # A key's prefix fixes the type of the record under it (``state.get_reader`` checks it when
    # the bytes are decoded, ``put_*`` when it is written), so each ``cast`` below states a fact
    # the type checker cannot see. The hot accessors inline ``read`` (one dict probe on a hit):
    # a TRANSFER makes about ten of them.

    def get_config(self) -> ChainConfig:
        return cast(ChainConfig, self.read(CONFIG_KEY))

    def get_participant(self, participant_id: str) -> Participant | None:
        return cast("Participant | None", self.read(participant_key(participant_id)))

    def get_participant_ids(self) -> tuple[str, ...]:
        return cast("tuple[str, ...] | None", self.read(PARTICIPANT_INDEX_KEY)) or ()

    def put_participant(self, participant: Participant) -> None:
        ids = self.get_participant_ids()
        if participant.participant_id not in ids:
            self.write(PARTICIPANT_INDEX_KEY, tuple(sorted((*ids, participant.participant_id))))
        self.write(participant_key(participant.participant_id), participant)

    def get_instrument(self, instrument_id: str) -> Instrument | None:
        key = INSTRUMENT_PREFIX + instrument_id.encode()
        record = self._records.get(key, _MISSING)
        return cast("Instrument | None", self.read(key) if record is _MISSING else record)

    def put_instrument(self, instrument: Instrument) -> None:
        self.write(instrument_key(instrument.spec.instrument_id), instrument)

    def get_account(self, account_id: str) -> Account | None:
        key = ACCOUNT_PREFIX + account_id.encode()
        record = self._records.get(key, _MISSING)
        return cast("Account | None", self.read(key) if record is _MISSING else record)

    def put_account(self, account: Account) -> None:
        self.write(account_key(account.account_id), account)

    def get_balance(self, account_id: str, instrument_id: str) -> Balance:
        key = BALANCE_PREFIX + account_id.encode() + SEPARATOR + instrument_id.encode()
        return self.get_balance_at(key)

    def get_balance_at(self, key: bytes) -> Balance:
        """The balance under a ``state.balance_key`` (the hot path builds each key once)."""
        record = self._records.get(key, _MISSING)
        if record is _MISSING:
            record = self.read(key)
        return cast("Balance | None", record) or ZERO_BALANCE

    def put_balance(
        self, account_id: str, instrument_id: str, old: Balance, balance: Balance
    ) -> None:
        """Replace ``old`` (as just read) by ``balance``; an all-zero balance is deleted, and
        the account's balance count follows."""
        key = BALANCE_PREFIX + account_id.encode() + SEPARATOR + instrument_id.encode()
        self.put_balance_at(key, account_id, old, balance)

    def put_balance_at(self, key: bytes, account_id: str, old: Balance, balance: Balance) -> None:
        """``put_balance`` with the key of (account_id, instrument) already built."""
        existed = bool(old.total or old.frozen or old.held)
        exists = bool(balance.total or balance.frozen or balance.held)
        self.write(key, balance if exists else None)
        if existed != exists:
            account = self.get_account(account_id)
            assert account is not None, "balances belong to existing accounts"
            count = account.balance_count + (1 if exists else -1)
            self.put_account(replace(account, balance_count=count))

    def get_nonce(self, submitter: str) -> int:
        """The submitter's last accepted nonce (0 before its first)."""
        key = NONCE_PREFIX + submitter.encode()
        nonce = self._records.get(key, _MISSING)
        if nonce is _MISSING:
            nonce = self.read(key)
        return cast("int | None", nonce) or 0

    def put_nonce(self, submitter: str, nonce: int) -> None:
        self.write(nonce_key(submitter), nonce)

    def is_idempotency_key_used(self, submitter: str, key: str) -> bool:
        return self.is_idempotency_key_used_at(idempotency_key(submitter, key))

    def is_idempotency_key_used_at(self, state_key: bytes) -> bool:
        """``is_idempotency_key_used`` by its ``state.idempotency_key`` (a tx asks twice)."""
        used = self._records.get(state_key, _MISSING)
        if used is _MISSING:
            used = self.read(state_key)
        return used is not None

    def put_idempotency_key(self, submitter: str, key: str, height: int) -> None:
        """Mark ``(submitter, key)`` used by the block at ``height`` (kept for queries)."""
        self.write(idempotency_key(submitter, key), height)

    def get_schedule(self) -> ValidatorSchedule:
        return cast(ValidatorSchedule, self.read(SCHEDULE_KEY))

    def put_schedule(self, schedule: ValidatorSchedule) -> None:
        self.write(SCHEDULE_KEY, schedule)

    # -- governance and controls (``controls.py``) -------------------------------------------

    def get_governance(self) -> GovernanceParams:
        return cast(GovernanceParams, self.read(GOVERNANCE_KEY))

    def put_governance(self, params: GovernanceParams) -> None:
        self.write(GOVERNANCE_KEY, params)

    def get_pending_change(self, participant_id: str) -> PendingChange | None:
        return cast("PendingChange | None", self.read(pending_key(participant_id)))

    def put_pending_change(self, participant_id: str, change: PendingChange | None) -> None:
        """Record (or, with None, drop) the pending change of a participant."""
        self.write(pending_key(participant_id), change)

    def get_pending_recovery(self, account_id: str) -> PendingRecovery | None:
        return cast("PendingRecovery | None", self.read(recovery_key(account_id)))

    def put_pending_recovery(self, account_id: str, recovery: PendingRecovery | None) -> None:
        """Record (or, with None, drop) the pending key recovery of an account."""
        self.write(recovery_key(account_id), recovery)

    def get_freeze_book(self, account_id: str) -> FreezeBook:
        record = self.read(freeze_key(account_id))
        return cast("FreezeBook | None", record) or EMPTY_FREEZE_BOOK

    def put_freeze_book(self, account_id: str, book: FreezeBook) -> None:
        self.write(freeze_key(account_id), book if book.orders else None)

    def is_funding_ref_used(self, issuer: str, funding_ref: str) -> bool:
        return self.read(funding_key(issuer, funding_ref)) is not None

    def put_funding_ref(self, issuer: str, funding_ref: str, height: int) -> None:
        """Mark ``funding_ref`` minted against by ``issuer`` at ``height``, forever."""
        self.write(funding_key(issuer, funding_ref), height)

    # -- pauses and holds (``pauses.py``, ``holds.py``) ----------------------------------------

    def get_pause_book(self) -> PauseBook:
        record = self._records.get(PAUSE_KEY, _MISSING)
        if record is _MISSING:
            record = self.read(PAUSE_KEY)
        return cast("PauseBook | None", record) or EMPTY_PAUSE_BOOK

    def put_pause_book(self, book: PauseBook) -> None:
        self.write(PAUSE_KEY, book if book.orders else None)

    def get_hold(self, payer: str, hold_id: str) -> Hold | None:
        return cast("Hold | None", self.read(hold_key(payer, hold_id)))

    def put_hold(self, hold: Hold) -> None:
        self.write(hold_key(hold.payer, hold.terms.hold_id), hold)

    # -- policies (``policies.py``) ------------------------------------------------------------

    def get_policy_book(self) -> PolicyBook:
        """The policy book (empty if none): one cached probe on the hot path."""
        record = self._records.get(POLICY_KEY, _MISSING)
        if record is _MISSING:
            record = self.read(POLICY_KEY)
        return cast("PolicyBook | None", record) or EMPTY_POLICY_BOOK

    def put_policy_book(self, book: PolicyBook) -> None:
        self.write(POLICY_KEY, None if book.is_empty else book)

    def get_account_policies(self, account_id: str) -> AccountPolicies:
        record = self.read(account_policy_key(account_id))
        return cast("AccountPolicies | None", record) or EMPTY_ACCOUNT_POLICIES

    def put_account_policies(self, account_id: str, policies: AccountPolicies) -> None:
        self.write(account_policy_key(account_id), policies if policies.orders else None)

    def get_daily_spend(self, account_id: str, instrument_id: str) -> DailySpend | None:
        return cast("DailySpend | None", self.read(daily_spend_key(account_id, instrument_id)))

    def put_daily_spend(self, account_id: str, instrument_id: str, spend: DailySpend) -> None:
        self.write(daily_spend_key(account_id, instrument_id), spend)
