"""The storage contract: what a block store holds, how a block is written, and what is refused.

A store keeps, per committed height, the block, the certificate that committed it, its receipts
and the app hash after it; an index from tx hash to (height, index); the ledger's whole state as
a key-value map; and a few metadata records. ``commit_block`` is all-or-nothing: a write that is
refused (:func:`validate_block_write`) or a crash mid-write leaves the store exactly as before.

Both :class:`~node.storage.leveldb.LevelDBStore` and :class:`~node.storage.memory.MemoryStore`
share the validation here, so they refuse the same writes with the same errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, cast, runtime_checkable

from node.errors import NodeError
from node.storage import keys

BLOCK_BYTES_MAX: Final = 64 * 1024 * 1024
"""Largest block, certificate or results value (the codec itself caps inputs at 16 MiB)."""

TXS_PER_BLOCK_MAX: Final = 1_000_000
STATE_KEY_BYTES_MAX: Final = 1024
STATE_VALUE_BYTES_MAX: Final = 16 * 1024 * 1024
META_NAME_BYTES_MAX: Final = 256
META_VALUE_BYTES_MAX: Final = 1024 * 1024
APP_HASH_BYTES: Final = 32


class StorageError(NodeError):
    """Root of every error a store raises on purpose."""


class InvalidInputError(StorageError):
    """An argument is malformed, or a block is not the next height (a bug in the caller)."""


class StoreLockedError(StorageError):
    """Another process (or another handle in this one) already has the database open."""


class StoreCorruptedError(StorageError):
    """The files on disk are inconsistent or of another format version (operator must act)."""


class StoreClosedError(StorageError):
    """The store was used after :meth:`Store.close`."""


@dataclass(frozen=True, slots=True)
class BlockWrite:
    """Everything persisted for one committed block, written in one atomic batch."""

    height: int
    """Must be ``latest_height() + 1``; the first block is height 1."""
    block: bytes
    """Encoded block (opaque to storage); non-empty."""
    certificate: bytes
    """Encoded commit certificate that committed THIS block; non-empty."""
    results: bytes
    """Encoded receipts of the block (opaque; may be empty)."""
    tx_hashes: Sequence[bytes]
    """32-byte tx hashes in block order; tx ``i`` is indexed as ``(height, i)``."""
    state_changes: Mapping[bytes, bytes | None]
    """Ledger KV writes made by executing the block; ``None`` deletes the key."""
    app_hash: bytes
    """32-byte ledger app hash after executing this block."""
    tree_writes: Mapping[bytes, bytes | None] = field(default_factory=dict)
    """State tree writes of the block (``consensus.merkle.store`` keys; ``None`` deletes)."""


class StateSnapshot(Protocol):
    """The ledger state column as of one moment: later commits never show up in it."""

    def get(self, key: bytes) -> bytes | None: ...
    def iter_range(self, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]: ...


@runtime_checkable
class Store(Protocol):
    """A block store. Reads of anything that was never written return ``None``."""

    def commit_block(self, write: BlockWrite) -> None: ...
    def latest_height(self) -> int: ...
    def get_block(self, height: int) -> bytes | None: ...
    def get_certificate(self, height: int) -> bytes | None: ...
    def get_results(self, height: int) -> bytes | None: ...
    def get_app_hash(self, height: int) -> bytes | None: ...
    def get_tx_location(self, tx_hash: bytes) -> tuple[int, int] | None: ...
    def get_state(self, key: bytes) -> bytes | None: ...
    def get_tree(self, key: bytes) -> bytes | None: ...
    def iter_tree(self, prefix: bytes, stop: bytes | None = None) -> Iterator[bytes]: ...
    def delete_tree(self, tree_keys: Sequence[bytes]) -> None: ...
    def iter_state(
        self, prefix: bytes = b"", *, start: bytes | None = None, limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]: ...
    def state_snapshot(self) -> StateSnapshot: ...
    def get_meta(self, key: str) -> bytes | None: ...
    def put_meta(self, key: str, value: bytes) -> None: ...
    def close(self) -> None: ...


def validate_block_write(write: BlockWrite, latest_height: int) -> None:
    """Raise :class:`InvalidInputError` unless ``write`` can follow ``latest_height``."""
    if not isinstance(write, BlockWrite):
        raise InvalidInputError(f"expected a BlockWrite, got {type(write).__name__}")
    if not keys.is_valid_height(write.height) or write.height != latest_height + 1:
        raise InvalidInputError(
            f"non-contiguous height {write.height!r}: the next block must be {latest_height + 1}"
        )
    _validate_bytes(write.block, "block", 1, BLOCK_BYTES_MAX)
    _validate_bytes(write.certificate, "certificate", 1, BLOCK_BYTES_MAX)
    _validate_bytes(write.results, "results", 0, BLOCK_BYTES_MAX)
    _validate_bytes(write.app_hash, "app_hash", APP_HASH_BYTES, APP_HASH_BYTES)
    _validate_tx_hashes(write.tx_hashes)
    _validate_state_changes(write.state_changes)
    _validate_state_changes(write.tree_writes)


def _validate_bytes(value: object, name: str, len_min: int, len_max: int) -> None:
    if not isinstance(value, bytes):
        raise InvalidInputError(f"{name} must be bytes, got {type(value).__name__}")
    if not len_min <= len(value) <= len_max:
        if len_min == len_max:
            raise InvalidInputError(f"{name} must be {len_min} bytes, got {len(value)}")
        raise InvalidInputError(f"{name} must be {len_min}..{len_max} bytes, got {len(value)}")


def _validate_tx_hashes(tx_hashes: object) -> None:
    if not isinstance(tx_hashes, Sequence) or isinstance(tx_hashes, bytes | str):
        raise InvalidInputError("tx_hashes must be a sequence of 32-byte hashes")
    if len(tx_hashes) > TXS_PER_BLOCK_MAX:
        raise InvalidInputError(f"{len(tx_hashes)} tx hashes exceed {TXS_PER_BLOCK_MAX}")
    for i, tx_hash in enumerate(tx_hashes):
        _validate_bytes(tx_hash, f"tx_hashes[{i}]", keys.TX_HASH_BYTES, keys.TX_HASH_BYTES)


def _validate_state_changes(changes: object) -> None:
    if not isinstance(changes, Mapping):
        raise InvalidInputError("state_changes must be a mapping of bytes to bytes or None")
    if _changes_look_valid(changes):
        return
    for key, value in changes.items():  # find the first bad entry, to say which
        _validate_bytes(key, "state key", 1, STATE_KEY_BYTES_MAX)
        if value is not None:
            _validate_bytes(value, f"state value of {key[:32]!r}", 0, STATE_VALUE_BYTES_MAX)


def _changes_look_valid(changes: Mapping[object, object]) -> bool:
    """The whole check of :func:`_validate_state_changes` in loops that run in C (a block's
    tree writes are tens of thousands of entries); False sends the caller item by item."""
    values = [value for value in changes.values() if value is not None]
    if not (set(map(type, changes)) <= {bytes} and set(map(type, values)) <= {bytes}):
        return False
    keys_ = cast("list[bytes]", list(changes))
    return (
        min(map(len, keys_), default=1) >= 1
        and max(map(len, keys_), default=0) <= STATE_KEY_BYTES_MAX
        and max(map(len, cast("list[bytes]", values)), default=0) <= STATE_VALUE_BYTES_MAX
    )


def validate_meta_name(name: object) -> None:
    """Raise :class:`InvalidInputError` unless ``name`` is a usable metadata name."""
    if not isinstance(name, str):
        raise InvalidInputError(f"meta key must be str, got {type(name).__name__}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"meta key is not encodable as UTF-8: {name!r}") from exc
    if not 1 <= size <= META_NAME_BYTES_MAX:
        raise InvalidInputError(f"meta key must be 1..{META_NAME_BYTES_MAX} UTF-8 bytes")


def validate_meta_value(value: object) -> None:
    _validate_bytes(value, "meta value", 0, META_VALUE_BYTES_MAX)


def validate_height_arg(height: object) -> bool:
    """For reads: raise on a non-int; return False for an int no block can have (then: None)."""
    if type(height) is not int:
        raise InvalidInputError(f"height must be int, got {type(height).__name__}")
    return 1 <= height <= keys.HEIGHT_MAX


def validate_bytes_arg(value: object, name: str) -> None:
    """For reads: raise unless ``value`` is bytes (a bytes value of any length is a fine query)."""
    if not isinstance(value, bytes):
        raise InvalidInputError(f"{name} must be bytes, got {type(value).__name__}")


def validate_iter_args(prefix: object, start: object, limit: object) -> None:
    validate_bytes_arg(prefix, "prefix")
    if start is not None:
        validate_bytes_arg(start, "start")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise InvalidInputError(f"limit must be a non-negative int or None, got {limit!r}")


def compute_tx_index_writes(
    write: BlockWrite, is_indexed: Callable[[bytes], bool]
) -> dict[bytes, tuple[int, int]]:
    """The tx-index entries a block adds: the first inclusion of a hash wins, ever.

    A committed block is final, so storage must accept it even if it repeats a tx (the ledger
    rejects the replay by nonce); keeping the first location keeps the index pointing at the
    inclusion that took effect.
    """
    added: dict[bytes, tuple[int, int]] = {}
    for index, tx_hash in enumerate(write.tx_hashes):
        if tx_hash not in added and not is_indexed(tx_hash):
            added[tx_hash] = (write.height, index)
    return added
