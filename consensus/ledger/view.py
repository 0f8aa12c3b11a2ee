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
    CONFIG_KEY,
    PARTICIPANT_INDEX_KEY,
    SCHEDULE_KEY,
    State,
    account_key,
    balance_key,
    decode_value,
    encode_value,
    idempotency_key,
    instrument_key,
    nonce_key,
    participant_key,
)

_MISSING: Any = object()


class BlockView:
    """Overlay of one block's writes on a parent state (which it never mutates)."""

    __slots__ = ("_block", "_cache", "_parent", "_stage")

    def __init__(self, parent: State) -> None:
        self._parent = parent
        self._cache: dict[bytes, Any] = {}
        """Decoded parent records (None when absent)."""
        self._block: dict[bytes, Any] = {}
        """Records written by committed transactions of this block (None deletes)."""
        self._stage: dict[bytes, Any] = {}
        """Records written by the transaction being executed."""

    # -- transaction boundaries --------------------------------------------------------------

    def commit_tx(self) -> None:
        self._block.update(self._stage)
        self._stage.clear()

    def discard_tx(self) -> None:
        self._stage.clear()

    def compute_changes(self) -> dict[bytes, bytes | None]:
        """The block's writes as encoded state changes."""
        assert not self._stage, "a transaction is still open"
        return {
            key: None if record is None else encode_value(record)
            for key, record in self._block.items()
        }

    # -- generic access ----------------------------------------------------------------------

    def read(self, key: bytes) -> Any:
        value = self._stage.get(key, _MISSING)
        if value is _MISSING:
            value = self._block.get(key, _MISSING)
            if value is _MISSING:
                value = self._cache.get(key, _MISSING)
                if value is _MISSING:
                    raw = self._parent.get(key)
                    value = None if raw is None else decode_value(key, raw)
                    self._cache[key] = value
        return value

    def write(self, key: bytes, record: Any) -> None:
        self._stage[key] = record

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

    def get_instrument(self, instrument_id: str) -> Instrument | None:
        record: Instrument | None = self.read(instrument_key(instrument_id))
        return record

    def put_instrument(self, instrument: Instrument) -> None:
        self.write(instrument_key(instrument.spec.instrument_id), instrument)

    def get_account(self, account_id: str) -> Account | None:
        record: Account | None = self.read(account_key(account_id))
        return record

    def put_account(self, account: Account) -> None:
        self.write(account_key(account.account_id), account)

    def get_balance(self, account_id: str, instrument_id: str) -> Balance:
        record: Balance | None = self.read(balance_key(account_id, instrument_id))
        return record or ZERO_BALANCE

    def put_balance(self, account_id: str, instrument_id: str, balance: Balance) -> None:
        """Store a balance; an all-zero balance is deleted (the account's count follows)."""
        key = balance_key(account_id, instrument_id)
        existed = self.read(key) is not None
        exists = not balance.is_zero
        self.write(key, balance if exists else None)
        if existed != exists:
            account = self.get_account(account_id)
            assert account is not None, "balances belong to existing accounts"
            count = account.balance_count + (1 if exists else -1)
            self.put_account(_with_count(account, count))

    def get_nonce(self, submitter: str) -> int:
        nonce: int | None = self.read(nonce_key(submitter))
        return nonce or 0

    def put_nonce(self, submitter: str, nonce: int) -> None:
        self.write(nonce_key(submitter), nonce)

    def is_idempotency_key_used(self, submitter: str, key: str) -> bool:
        return self.read(idempotency_key(submitter, key)) is not None

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
