"""The ledger state as a map ``bytes -> bytes``, held as immutable layers, with the state tree
that commits to it (``consensus.ledger.commitment``; its root is the app hash).

Keys are a one-byte prefix plus ASCII ids (ids never contain ``\\x00``, which separates the two
parts of composite keys); values are canonical encodings of records. The node persists each
block's ``state_changes``; what its layers do not hold a state reads from its *base*
(``statebase.StateBase``): on a node a snapshot of the committed state on disk, so only the
uncommitted blocks and bounded caches are in memory (:meth:`State.rebased` after each commit).

A ``State`` never changes after construction. A block's writes become a new top layer over the
parent's layers (no copy of the world); layers are merged log-structured style (a layer is
folded into the one below when it grows to half its size), so reads touch O(log n) dicts and
each write is copied O(log n) times amortised. The parent stays valid and unchanged. Walks of
the state (:meth:`State.items`, :meth:`State.iter_prefix`) stream: layers merged over the base.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import cast

import msgpack

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger import commitment
from consensus.ledger.codes import AMOUNT_MAX, PARTICIPANTS_MAX
from consensus.ledger.controls import FreezeBook, GovernanceParams, PendingChange, PendingRecovery
from consensus.ledger.holds import Hold
from consensus.ledger.pauses import PauseBook
from consensus.ledger.policies import AccountPolicies, DailySpend, PolicyBook
from consensus.ledger.records import (
    Account,
    Balance,
    ChainConfig,
    Instrument,
    Participant,
    ValidatorSchedule,
    validate_participant_id,
)
from consensus.ledger.statebase import StateBase, merge_over, overlay_range, prefix_stop
from consensus.merkle import StateTree
from consensus.types import HASH_LEN, Hash32

META_KEY = b"\x00meta"
"""``[height, app_hash]`` of the last executed block. Not part of what the app hash covers."""
CONFIG_KEY = b"C"
SCHEDULE_KEY = b"V"
PARTICIPANT_INDEX_KEY = b"p"
GOVERNANCE_KEY = b"G"
PAUSE_KEY = b"S"
POLICY_KEY = b"Y"
"""The policy book: network, instrument and participant policy orders (``policies.py``)."""

PARTICIPANT_PREFIX = b"P"
INSTRUMENT_PREFIX = b"I"
ACCOUNT_PREFIX = b"A"
BALANCE_PREFIX = b"B"
NONCE_PREFIX = b"N"
IDEMPOTENCY_PREFIX = b"K"
PENDING_PREFIX = b"Q"
FREEZE_PREFIX = b"F"
FUNDING_PREFIX = b"R"
HOLD_PREFIX = b"H"
ACCOUNT_POLICY_PREFIX = b"y"
DAILY_SPEND_PREFIX = b"D"
RECOVERY_PREFIX = b"r"
"""A pending key recovery of an account (``controls.PendingRecovery``)."""
SEPARATOR = b"\x00"


def participant_key(participant_id: str) -> bytes:
    return PARTICIPANT_PREFIX + participant_id.encode()


def instrument_key(instrument_id: str) -> bytes:
    return INSTRUMENT_PREFIX + instrument_id.encode()


def account_key(account_id: str) -> bytes:
    return ACCOUNT_PREFIX + account_id.encode()


def balance_key(account_id: str, instrument_id: str) -> bytes:
    return BALANCE_PREFIX + account_id.encode() + SEPARATOR + instrument_id.encode()


def balance_prefix(account_id: str) -> bytes:
    """Prefix of every balance key of one account (for a storage prefix scan)."""
    return BALANCE_PREFIX + account_id.encode() + SEPARATOR


def parse_balance_key(key: bytes) -> tuple[str, str]:
    """(account_id, instrument_id) of a balance key."""
    account, _, instrument = key[1:].partition(SEPARATOR)
    return account.decode(), instrument.decode()


def nonce_key(submitter: str) -> bytes:
    return NONCE_PREFIX + submitter.encode()


def idempotency_key(submitter: str, key: str) -> bytes:
    return IDEMPOTENCY_PREFIX + submitter.encode() + SEPARATOR + key.encode()


def pending_key(participant_id: str) -> bytes:
    return PENDING_PREFIX + participant_id.encode()


def recovery_key(account_id: str) -> bytes:
    return RECOVERY_PREFIX + account_id.encode()


def freeze_key(account_id: str) -> bytes:
    return FREEZE_PREFIX + account_id.encode()


def funding_key(issuer: str, funding_ref: str) -> bytes:
    return FUNDING_PREFIX + issuer.encode() + SEPARATOR + funding_ref.encode()


def hold_key(payer: str, hold_id: str) -> bytes:
    return HOLD_PREFIX + payer.encode() + SEPARATOR + hold_id.encode()


def account_policy_key(account_id: str) -> bytes:
    return ACCOUNT_POLICY_PREFIX + account_id.encode()


def daily_spend_key(account_id: str, instrument_id: str) -> bytes:
    return DAILY_SPEND_PREFIX + account_id.encode() + SEPARATOR + instrument_id.encode()


def _read_uint(value: Value) -> int:
    return codec.expect_uint(value, "counter", AMOUNT_MAX)


def _read_index(value: Value) -> tuple[str, ...]:
    ids = codec.expect_list_of(value, "participants", validate_participant_id, PARTICIPANTS_MAX)
    codec.sorted_unique(ids, "participants")
    return ids


def _read_meta(value: Value) -> tuple[int, Hash32]:
    height, app_hash = codec.expect_fields(value, "meta", 2)
    return codec.expect_uint(height, "height"), Hash32(
        codec.expect_bytes(app_hash, "app_hash", HASH_LEN)
    )


Record = (
    Participant
    | Instrument
    | Account
    | Balance
    | ChainConfig
    | GovernanceParams
    | PendingChange
    | PendingRecovery
    | FreezeBook
    | PauseBook
    | Hold
    | PolicyBook
    | AccountPolicies
    | DailySpend
    | ValidatorSchedule
    | int
    | tuple[str, ...]
    | tuple[int, Hash32]
)
"""Whatever a state key holds, decoded. The key's prefix fixes which one (``get_reader``)."""
Reader = Callable[[Value], Record]

# prefix -> strict reader of the decoded value; used for typed reads and to validate from_kv.
_EXACT_READERS: dict[bytes, Reader] = {
    META_KEY: _read_meta,
    CONFIG_KEY: ChainConfig.from_wire,
    SCHEDULE_KEY: ValidatorSchedule.from_wire,
    PARTICIPANT_INDEX_KEY: _read_index,
    GOVERNANCE_KEY: GovernanceParams.from_wire,
    PAUSE_KEY: PauseBook.from_wire,
    POLICY_KEY: PolicyBook.from_wire,
}
_PREFIX_READERS: dict[bytes, Reader] = {
    PARTICIPANT_PREFIX: Participant.from_wire,
    INSTRUMENT_PREFIX: Instrument.from_wire,
    ACCOUNT_PREFIX: Account.from_wire,
    BALANCE_PREFIX: Balance.from_wire,
    NONCE_PREFIX: _read_uint,
    IDEMPOTENCY_PREFIX: _read_uint,
    PENDING_PREFIX: PendingChange.from_wire,
    RECOVERY_PREFIX: PendingRecovery.from_wire,
    FREEZE_PREFIX: FreezeBook.from_wire,
    FUNDING_PREFIX: _read_uint,
    HOLD_PREFIX: Hold.from_wire,
    ACCOUNT_POLICY_PREFIX: AccountPolicies.from_wire,
    DAILY_SPEND_PREFIX: DailySpend.from_wire,
}


def get_reader(key: bytes) -> Reader:
    """The strict reader for the value stored under ``key``; CodecError for unknown keys."""
    reader = _EXACT_READERS.get(key) or _PREFIX_READERS.get(key[:1])
    if reader is None:
        raise CodecError(f"unknown state key {key[:16]!r}")
    return reader


def to_wire(record: Record) -> Value:
    return record if isinstance(record, (int, tuple)) else record.to_wire()


def encode_value(record: Record | list[Value]) -> bytes:
    """Canonical bytes of a stored record. Records hold no maps, so msgpack's packer output is
    already canonical (the same bytes ``codec.encode`` gives, checked by ``State.from_kv``)."""
    wire = record if isinstance(record, list) else to_wire(record)
    packed: bytes = msgpack.packb(wire, use_bin_type=True)
    return packed


def _unpack(raw: bytes) -> Value:
    """Our own stored bytes, unpacked without the codec's canonical-form check (trusted)."""
    value: Value = msgpack.unpackb(raw, raw=False, use_list=True)
    return value


def decode_value(key: bytes, raw: bytes) -> Record:
    """Typed record from our own stored bytes (trusted: written by encode_value)."""
    return get_reader(key)(_unpack(raw))


class Missing(enum.Enum):
    """The sentinel of a key a map does not mention (where ``None`` means deleted)."""

    MISSING = enum.auto()


_MISSING = Missing.MISSING
RECORD_DECODE_MEMO_MAX = 1 << 18
"""Default bound of each prefix's decode memo (cleared when full: only speed depends on it)."""


class RecordMemo(dict[int, dict[bytes, Record]]):
    """Decoded records by key prefix, then by stored bytes; each prefix's dict holds at most
    ``limit`` entries (cleared when full). A dict subclass, so the hot path's probes stay C."""

    __slots__ = ("limit",)

    def __init__(self, limit: int = RECORD_DECODE_MEMO_MAX) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError("a decode memo holds at least one record")
        self.limit = limit

    def entries(self) -> int:
        """Records memoised over every prefix (at most ``limit`` per prefix)."""
        return sum(len(memo) for memo in self.values())


class State:
    """An immutable ledger state: a stack of layers, newest first, over an optional read-only
    base (None: the layers hold everything). See the module docstring."""

    __slots__ = ("_base", "_config", "_decoded", "_layers", "_meta", "_tree")

    def __init__(
        self,
        layers: tuple[dict[bytes, bytes | None], ...],
        decoded: RecordMemo | None = None,
        tree: StateTree | None = None,
        base: StateBase | None = None,
    ) -> None:
        self._layers = layers
        self._base = base
        """What the layers do not mention; it never changes (a snapshot of one version)."""
        self._tree = tree
        """The state tree of exactly this state; None until first needed (then built from the
        items: the app hash is a function of the contents, so any copy rebuilds the same)."""
        self._decoded: RecordMemo = RecordMemo() if decoded is None else decoded
        """Memo of decode_value, per key prefix, keyed by the value's bytes. Decoding is a pure
        function of (prefix, bytes), so states derived from each other share one memo."""
        self._config: ChainConfig | None = None
        self._meta: tuple[int, Hash32] | None = None
        """The chain config and the meta record, read once: a state never changes (its layers
        are never written after construction and its base is one version), and every admission
        check and every tx of a block asks for them."""

    @classmethod
    def from_kv(cls, items: Iterable[tuple[bytes, bytes]]) -> State:
        """Rebuild from persisted KV pairs; every key and value is validated strictly."""
        base: dict[bytes, bytes | None] = {}
        for key, value in items:
            key, value = bytes(key), bytes(value)
            get_reader(key)(codec.decode(value))
            if key in base:
                raise CodecError("duplicate state key")
            base[key] = value
        if META_KEY not in base or CONFIG_KEY not in base or GOVERNANCE_KEY not in base:
            raise CodecError("state lacks meta, chain config or governance parameters")
        return cls((base,))

    @classmethod
    def on_base(cls, base: StateBase, tree: StateTree, memo_limit: int) -> State:
        """The state stored in ``base`` (e.g. on disk), committed to by ``tree``."""
        if base.get(META_KEY) is None or base.get(CONFIG_KEY) is None:
            raise CodecError("state lacks meta or chain config")
        return cls((), RecordMemo(memo_limit), tree, base)

    def rebased(self, base: StateBase) -> State:
        """This state read from ``base``, which must hold exactly its contents (the node's
        snapshot once this state is committed): the layers are dropped, memo and tree kept."""
        return State((), self._decoded, self._tree, base)

    def get(self, key: bytes) -> bytes | None:
        for layer in self._layers:
            value = layer.get(key, _MISSING)
            if value is not _MISSING:
                return value
        base = self._base
        return None if base is None else base.get(key)

    def iter_range(self, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) with ``start <= key < stop`` (None: no bound), in key order,
        streamed from the base with the layers merged over it."""
        overlay = overlay_range(self._layers, start, stop)
        base = iter(()) if self._base is None else self._base.iter_range(start, stop)
        return merge_over(overlay, base)

    def iter_prefix(
        self, prefix: bytes, start: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix`` (from ``start`` on), in key order."""
        lower = prefix if start is None else max(prefix, start)
        return self.iter_range(lower, prefix_stop(prefix))

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) in key order (the storage's iter_state order), streamed."""
        return self.iter_range(b"", None)

    def to_kv(self) -> dict[bytes, bytes]:
        """The whole state as one dict: for tests and small states only (it copies it all)."""
        return dict(self.items())

    @property
    def layer_count(self) -> int:
        return len(self._layers)

    @property
    def memo(self) -> RecordMemo:
        """The decode memo (shared by the states derived from this one)."""
        return self._decoded

    @property
    def tree(self) -> StateTree:
        """The state tree whose root is this state's app hash."""
        if self._tree is None:
            self._tree = commitment.build_state_tree(self.items(), self.height)
        return self._tree

    def with_tree(self, tree: StateTree) -> State:
        """This state with ``tree`` as its state tree (e.g. the stored one, after a restart)."""
        return State(self._layers, self._decoded, tree, self._base)

    def with_changes(
        self, changes: Mapping[bytes, bytes | None], tree: StateTree | None = None
    ) -> State:
        """A new state with ``changes`` applied (None deletes), committed to by ``tree`` (None:
        built when first needed); this state is left as it was."""
        layers = [dict(changes), *self._layers]
        while len(layers) > 1 and 2 * len(layers[0]) >= len(layers[1]):
            newer, older = layers[0], layers[1]
            merged = {**older, **newer}
            if len(layers) == 2 and self._base is None:  # nothing below: drop tombstones
                merged = {k: v for k, v in merged.items() if v is not None}
            layers[:2] = [merged]
        return State(tuple(layers), self._decoded, tree, self._base)

    def get_record(self, key: bytes) -> Record | None:
        """The decoded record under ``key`` (None if absent): ``get`` then ``decode``, fused
        because every first read of a key in a block lands here."""
        for layer in self._layers:
            raw = layer.get(key, _MISSING)
            if raw is not _MISSING:
                break
        else:
            base = self._base
            if base is None:
                return None
            raw = base.get(key)
        if raw is None:
            return None
        memo = self._decoded.get(key[0])
        if memo is not None:
            record = memo.get(raw, _MISSING)
            if record is not _MISSING:
                return record
        return self.decode(key, raw)

    def decode(self, key: bytes, raw: bytes) -> Record:
        """The record stored as ``raw`` under ``key`` (memoised)."""
        memo = self._decoded.get(key[0])
        if memo is None:
            memo = self._decoded[key[0]] = {}
        record = memo.get(raw, _MISSING)
        if record is _MISSING:
            if len(memo) >= self._decoded.limit:
                memo.clear()
            record = memo[raw] = decode_value(key, raw)
        return record

    def encode_records(
        self, records: Iterable[tuple[bytes, Record | None]]
    ) -> dict[bytes, bytes | None]:
        """Encode a block's written records as state changes, memoising each (bytes -> record)
        so the next block reads them without decoding."""
        changes: dict[bytes, bytes | None] = {}
        memos, limit = self._decoded, self._decoded.limit
        pack = msgpack.Packer(use_bin_type=True).pack  # packb's bytes; one packer per block
        for key, record in records:
            if record is None:
                changes[key] = None
                continue
            raw: bytes = pack(to_wire(record))
            changes[key] = raw
            memo = memos.get(key[0])
            if memo is None:
                memo = memos[key[0]] = {}
            elif len(memo) >= limit:
                memo.clear()
            memo[raw] = record
        return changes

    # -- metadata --------------------------------------------------------------------------

    @property
    def height(self) -> int:
        return self._meta_record()[0]

    @property
    def app_hash(self) -> Hash32:
        return self._meta_record()[1]

    def _meta_record(self) -> tuple[int, Hash32]:
        # Read by every admission check (for the next height): once per state.
        meta = self._meta
        if meta is None:
            record = self.get_record(META_KEY)
            if record is None:
                raise LookupError("state has no meta record")
            meta = self._meta = cast(tuple[int, Hash32], record)
        return meta

    @property
    def config(self) -> ChainConfig:
        # Read by every admission check (up to three times) and every tx of a block: once per
        # state (and through the decode memo, so decoded once per stored value).
        config = self._config
        if config is None:
            record = self.get_record(CONFIG_KEY)
            if not isinstance(record, ChainConfig):
                raise LookupError("state has no chain config")
            config = self._config = record
        return config


def encode_meta(height: int, app_hash: bytes) -> bytes:
    return encode_value([height, app_hash])


def commit_block_changes(
    state: State, height: int, changes: Mapping[bytes, bytes | None]
) -> tuple[StateTree, commitment.TreeWrites]:
    """The state tree after a block's ``changes`` on ``state``; its root is the block's app hash."""
    return commitment.commit_changes(state.tree, height, changes, state.get)
