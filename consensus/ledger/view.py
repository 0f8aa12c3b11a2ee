"""A block's working view over a parent ``State``: typed reads, staged writes, no mutation.

Reads decode each record at most once per block. Writes go to a per-transaction stage that is
merged into the block's writes only when the transaction succeeds, so a rejected transaction
changes nothing, whatever a rule did before it raised.
"""

from __future__ import annotations

from typing import Any

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
    IDEMPOTENCY_PREFIX,
    INSTRUMENT_PREFIX,
    NONCE_PREFIX,
    PARTICIPANT_INDEX_KEY,
    SCHEDULE_KEY,
    SEPARATOR,
    State,
    account_key,
    idempotency_key,
    instrument_key,
    nonce_key,
    participant_key,
)

_MISSING: Any = object()


class BlockView:
    """Overlay of one block's writes on a parent state (which it never mutates)."""

    __slots__ = ("_dirty", "_dirty_mark", "_parent", "_records", "_undo")

    def __init__(self, parent: State) -> None:
        self._parent = parent
        self._records: dict[bytes, Any] = {}
        """Every record this block has read or written (None = absent or deleted)."""
        self._dirty: dict[bytes, None] = {}
        """Keys written by this block, in first-write order (an ordered set)."""
        self._undo: list[tuple[bytes, Any]] = []
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

    def read(self, key: bytes) -> Any:
        value = self._records.get(key, _MISSING)
        if value is _MISSING:
            value = self._records[key] = self._parent.get_record(key)
        return value

    def write(self, key: bytes, record: Any) -> None:
        records = self._records
        self._undo.append((key, records.get(key, _MISSING)))
        records[key] = record
        self._dirty[key] = None

    # -- typed access ------------------------------------------------------------------------

    def get_config(self) -> ChainConfig:
        config: ChainConfig = self.read(CONFIG_KEY)
        return config

    def get_participant(self, participant_id: str) -> Participant | None:
        record: Participant | None = self.read(participant_key(participant_id))
        return record

    def get_participant_ids(self) -> tuple[str, ...]:
        ids: tuple[str, ...] | None = self.read(PARTICIPANT_INDEX_KEY)
        return ids or ()

    def put_participant(self, participant: Participant) -> None:
        ids = self.get_participant_ids()
        if participant.participant_id not in ids:
            self.write(PARTICIPANT_INDEX_KEY, tuple(sorted((*ids, participant.participant_id))))
        self.write(participant_key(participant.participant_id), participant)

    # The hot accessors below inline ``read`` (one dict probe on a hit): TRANSFER makes ~10.

    def get_instrument(self, instrument_id: str) -> Instrument | None:
        key = INSTRUMENT_PREFIX + instrument_id.encode()
        record: Instrument | None = self._records.get(key, _MISSING)
        return self.read(key) if record is _MISSING else record

    def put_instrument(self, instrument: Instrument) -> None:
        self.write(instrument_key(instrument.spec.instrument_id), instrument)

    def get_account(self, account_id: str) -> Account | None:
        key = ACCOUNT_PREFIX + account_id.encode()
        record: Account | None = self._records.get(key, _MISSING)
        return self.read(key) if record is _MISSING else record

    def put_account(self, account: Account) -> None:
        self.write(account_key(account.account_id), account)

    def get_balance(self, account_id: str, instrument_id: str) -> Balance:
        key = BALANCE_PREFIX + account_id.encode() + SEPARATOR + instrument_id.encode()
        return self.get_balance_at(key)

    def get_balance_at(self, key: bytes) -> Balance:
        """The balance under a ``state.balance_key`` (the hot path builds each key once)."""
        record: Balance | None = self._records.get(key, _MISSING)
        if record is _MISSING:
            record = self.read(key)
        return record or ZERO_BALANCE

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
            self.put_account(_with_count(account, count))

    def get_nonce(self, submitter: str) -> int:
        key = NONCE_PREFIX + submitter.encode()
        nonce: int | None = self._records.get(key, _MISSING)
        if nonce is _MISSING:
            nonce = self.read(key)
        return nonce or 0

    def put_nonce(self, submitter: str, nonce: int) -> None:
        self.write(nonce_key(submitter), nonce)

    def is_idempotency_key_used(self, submitter: str, key: str) -> bool:
        state_key = IDEMPOTENCY_PREFIX + submitter.encode() + SEPARATOR + key.encode()
        used = self._records.get(state_key, _MISSING)
        if used is _MISSING:
            used = self.read(state_key)
        return used is not None

    def put_idempotency_key(self, submitter: str, key: str, height: int) -> None:
        self.write(idempotency_key(submitter, key), height)

    def get_schedule(self) -> ValidatorSchedule:
        schedule: ValidatorSchedule = self.read(SCHEDULE_KEY)
        return schedule

    def put_schedule(self, schedule: ValidatorSchedule) -> None:
        self.write(SCHEDULE_KEY, schedule)


def _with_count(account: Account, count: int) -> Account:
    return Account(
        account.account_id,
        account.status,
        account.keys,
        account.threshold,
        account.kyc_ref_hash,
        account.kyc_expiry_ms,
        account.frozen,
        count,
    )
