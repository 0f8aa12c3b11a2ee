"""The durable block store: LevelDB through plyvel, one synced WriteBatch per committed block.

A block's block, certificate, results, tx index entries, state changes, app hash and the new
latest-height record go into ONE ``WriteBatch(sync=True)``. LevelDB appends a batch to its log as
one checksummed record and drops a torn last record on recovery, so after a crash the store
holds every block up to some height completely and nothing of the next. A write is validated in
full before the batch is built: a refused write touches nothing.

What this module must never do: write a block's parts in more than one batch, overwrite a
committed height, or let two processes open the same database (LevelDB's LOCK file refuses the
second one; we turn that into a :class:`StoreLockedError` that says so).

Thread use: one writer at a time (a lock serialises ``commit_block``/``put_meta``); reads and
iterators may run in other threads. ``close()`` only after every reader is done.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import plyvel

from node.storage import base, keys
from node.storage.base import (
    BlockWrite,
    StorageError,
    StoreClosedError,
    StoreCorruptedError,
    StoreLockedError,
)
from node.storage.install import SnapshotInstall, install_snapshot
from node.storage.options import LevelDBOptions

_PREFIX_STATE = keys.PREFIX_STATE


class LevelDBStore:
    """A block store in the LevelDB directory ``path`` (created when ``create`` is true),
    opened with LevelDB's memory bounds ``options`` (``[storage] leveldb_*``)."""

    __slots__ = ("__weakref__", "_db", "_latest_height", "_path", "_write_lock", "options")

    def __init__(
        self, path: str | Path, create: bool = True, options: LevelDBOptions | None = None
    ) -> None:
        self._path = Path(path)
        self._write_lock = threading.Lock()
        self.options = LevelDBOptions() if options is None else options
        self._db: Any = _open_db(self._path, create, self.options)
        try:
            self._latest_height = self._load_layout()
        except BaseException:
            self._db.close()
            raise

    @property
    def path(self) -> Path:
        return self._path

    def __enter__(self) -> LevelDBStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------------------

    def commit_block(self, write: BlockWrite) -> None:
        """Persist the whole block in one synced batch, or raise and persist nothing."""
        with self._write_lock:
            db = self._check_open()
            base.validate_block_write(write, self._latest_height)
            db_get = db.get  # one lookup per tx of the block: no wrapper per call

            def is_indexed(tx_hash: bytes) -> bool:
                return db_get(keys.PREFIX_TX + tx_hash) is not None

            tx_writes = _call(lambda: base.compute_tx_index_writes(write, is_indexed), "reading")
            batch = db.write_batch(sync=True)
            height = write.height
            batch.put(keys.block_key(height), write.block)
            batch.put(keys.certificate_key(height), write.certificate)
            batch.put(keys.results_key(height), write.results)
            batch.put(keys.app_hash_key(height), write.app_hash)
            for tx_hash, (tx_height, index) in tx_writes.items():
                batch.put(keys.tx_key(tx_hash), keys.encode_tx_location(tx_height, index))
            _put_column(batch, keys.PREFIX_STATE, write.state_changes)
            _put_column(batch, keys.PREFIX_TREE, write.tree_writes)
            batch.put(keys.LATEST_HEIGHT_KEY, keys.encode_height(height))
            _call(batch.write, f"writing block {height}")
            self._latest_height = height

    def put_meta(self, key: str, value: bytes) -> None:
        """Store a small metadata record, synced to disk before returning."""
        with self._write_lock:
            db = self._check_open()
            base.validate_meta_name(key)
            base.validate_meta_value(value)
            _call(lambda: db.put(keys.meta_key(key), value, sync=True), f"writing meta {key!r}")

    def install_snapshot(self, install: SnapshotInstall) -> None:
        """Install a verified state snapshot into this empty store (:mod:`.install`)."""
        with self._write_lock:
            db = self._check_open()
            _call(lambda: install_snapshot(db, self._latest_height, install), "installing")
            self._latest_height = install.height

    def delete_tree(self, tree_keys: Sequence[bytes]) -> None:
        """Delete state tree entries (pruned versions) in one batch; not part of any block."""
        with self._write_lock:
            db = self._check_open()
            batch = db.write_batch()
            for key in tree_keys:
                batch.delete(keys.tree_key(key))
            _call(batch.write, "pruning the state tree")

    def close(self) -> None:
        """Close the database (idempotent). Every later call raises :class:`StoreClosedError`."""
        with self._write_lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- reads ----------------------------------------------------------------------------------

    def latest_height(self) -> int:
        self._check_open()
        return self._latest_height

    def get_block(self, height: int) -> bytes | None:
        return self._get_at(keys.PREFIX_BLOCK, height)

    def get_certificate(self, height: int) -> bytes | None:
        return self._get_at(keys.PREFIX_CERTIFICATE, height)

    def get_results(self, height: int) -> bytes | None:
        return self._get_at(keys.PREFIX_RESULTS, height)

    def get_app_hash(self, height: int) -> bytes | None:
        return self._get_at(keys.PREFIX_APP_HASH, height)

    def get_tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        base.validate_bytes_arg(tx_hash, "tx_hash")
        raw = self._get(keys.tx_key(tx_hash))
        if raw is None:
            return None
        try:
            return keys.decode_tx_location(raw)
        except ValueError as exc:
            raise StoreCorruptedError(f"tx index entry of {tx_hash.hex()}: {exc}") from exc

    def get_state(self, key: bytes) -> bytes | None:
        base.validate_bytes_arg(key, "key")
        return self._get(keys.state_key(key))

    def get_tree(self, key: bytes) -> bytes | None:
        """One tree node (the tree's hot read: a block's update may read thousands, so the
        checks and the error translation of ``_get`` run only when needed)."""
        db = self._db
        if db is None or type(key) is not bytes:
            base.validate_bytes_arg(key, "key")
            db = self._check_open()
        try:
            value: bytes | None = db.get(keys.PREFIX_TREE + key)
        except (plyvel.Error, RuntimeError) as exc:
            raise _translate(exc, "reading a tree node") from exc
        return value

    def iter_tree(self, prefix: bytes, stop: bytes | None = None) -> Iterator[bytes]:
        """State tree keys under ``prefix`` (below ``stop`` if given), in key order."""
        db = self._check_open()
        base.validate_bytes_arg(prefix, "prefix")
        upper = keys.compute_prefix_upper_bound(keys.tree_key(prefix))
        if stop is not None:
            upper = keys.tree_key(stop)
        iterator = _call(
            lambda: db.iterator(start=keys.tree_key(prefix), stop=upper, include_value=False),
            "opening an iterator",
        )
        with contextlib.closing(iterator):
            for key in iterator:
                yield key[1:]

    def iter_state(
        self, prefix: bytes = b"", *, start: bytes | None = None, limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Ledger entries under ``prefix`` (from ``start`` on, at most ``limit``) in key order.

        The LevelDB iterator is created here, so it reads a snapshot as of this call; it is
        bounded to the prefix's key range and closed when exhausted or garbage-collected.
        """
        db = self._check_open()
        base.validate_iter_args(prefix, start, limit)
        lower = max(prefix, start) if start is not None else prefix
        upper = keys.compute_prefix_upper_bound(keys.state_key(prefix))
        iterator = _call(
            lambda: db.iterator(start=keys.state_key(lower), stop=upper), "opening an iterator"
        )
        return _iter_ledger_entries(iterator, limit)

    def state_snapshot(self) -> LevelDBStateSnapshot:
        """The state column as of now, read through a LevelDB snapshot (later commits never
        show up in it; released when the object is dropped or the store is closed)."""
        db = self._check_open()
        return LevelDBStateSnapshot(_call(db.snapshot, "taking a snapshot"))

    def get_meta(self, key: str) -> bytes | None:
        base.validate_meta_name(key)
        return self._get(keys.meta_key(key))

    # -- internals ------------------------------------------------------------------------------

    def _get_at(self, prefix: bytes, height: int) -> bytes | None:
        if not base.validate_height_arg(height):
            self._check_open()
            return None
        return self._get(prefix + keys.encode_height(height))

    def _get(self, key: bytes) -> bytes | None:
        db = self._check_open()
        value: bytes | None = _call(lambda: db.get(key), "reading")
        return value

    def _check_open(self) -> Any:
        db = self._db
        if db is None:
            raise StoreClosedError(f"the store at {self._path} is closed")
        return db

    def _load_layout(self) -> int:
        """Check (or, for an empty database, write) the format version; return the latest height."""
        version = self._get(keys.FORMAT_VERSION_KEY)
        if version is None:
            if _call(lambda: next(self._db.iterator(include_value=False), None), "reading"):
                raise StoreCorruptedError(f"{self._path} is a LevelDB but not a DepoChain store")
            raw = keys.encode_format_version(keys.FORMAT_VERSION)
            _call(lambda: self._db.put(keys.FORMAT_VERSION_KEY, raw, sync=True), "initialising")
        elif version != keys.encode_format_version(keys.FORMAT_VERSION):
            raise StoreCorruptedError(
                f"{self._path} has store format {version.hex()}, this node reads "
                f"{keys.FORMAT_VERSION}"
            )
        return self._load_latest_height()

    def _load_latest_height(self) -> int:
        raw = self._get(keys.LATEST_HEIGHT_KEY)
        try:
            latest = 0 if raw is None else keys.decode_height(raw)
        except ValueError as exc:
            raise StoreCorruptedError(f"{self._path}: latest-height record: {exc}") from exc
        # Cheap sanity check of the invariant "every height <= latest complete, nothing above".
        for prefix in keys.HEIGHT_PREFIXES:
            if latest > 0 and self._get(prefix + keys.encode_height(latest)) is None:
                raise StoreCorruptedError(f"{self._path}: block {latest} is incomplete")
            if latest < keys.HEIGHT_MAX and self._get(prefix + keys.encode_height(latest + 1)):
                raise StoreCorruptedError(f"{self._path}: data above latest height {latest}")
        return latest


class LevelDBStateSnapshot:
    """Ledger keys read from one LevelDB snapshot of the state column (thread-safe reads)."""

    __slots__ = ("_get", "_snapshot")

    def __init__(self, snapshot: Any) -> None:
        self._snapshot = snapshot
        self._get = snapshot.get  # bound once: a block's first reads of its keys all come here

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes | None = self._get(_PREFIX_STATE + key)
        except RuntimeError as exc:  # the store was closed under us
            raise StoreClosedError(f"reading state: {_describe(exc)}") from exc
        return value

    def iter_range(self, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        upper = keys.compute_prefix_upper_bound(keys.PREFIX_STATE)
        if stop is not None:
            upper = keys.state_key(stop)
        iterator = _call(
            lambda: self._snapshot.iterator(start=keys.state_key(start), stop=upper),
            "opening a snapshot iterator",
        )
        return _iter_ledger_entries(iterator, None)


def _open_db(path: Path, create: bool, options: LevelDBOptions) -> Any:
    """Open LevelDB, turning its errors into ones an operator can act on."""
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the block store directory {path}: {exc}") from exc
    elif not (path / "CURRENT").is_file():  # LevelDB would create the directory regardless
        raise StorageError(f"there is no block store at {path}: it does not exist")
    try:
        return plyvel.DB(str(path), create_if_missing=create, **options.plyvel_kwargs())
    except plyvel.IOError as exc:
        if "lock" in str(exc).lower():
            raise StoreLockedError(
                f"the block store {path} is locked by another process (is another node using "
                f"this home directory?): {_describe(exc)}"
            ) from exc
        raise StorageError(f"cannot open the block store {path}: {_describe(exc)}") from exc
    except plyvel.CorruptionError as exc:
        raise StoreCorruptedError(f"the block store {path} is corrupted: {_describe(exc)}") from exc
    except plyvel.Error as exc:
        raise StorageError(f"cannot open the block store {path}: {_describe(exc)}") from exc


def _call(action: Callable[[], Any], what: str) -> Any:
    """Run one plyvel call; its errors become :class:`StorageError` subclasses."""
    try:
        return action()
    except (plyvel.Error, RuntimeError) as exc:
        raise _translate(exc, what) from exc


def _translate(exc: Exception, what: str) -> StorageError:
    """The store's error for a plyvel error met while doing ``what``."""
    if isinstance(exc, plyvel.CorruptionError):
        return StoreCorruptedError(f"{what}: {_describe(exc)}")
    if isinstance(exc, plyvel.Error):
        return StorageError(f"{what}: {_describe(exc)}")
    return StoreClosedError(f"{what}: {_describe(exc)}")  # "Database is closed" and the like


def _put_column(batch: Any, prefix: bytes, writes: Mapping[bytes, bytes | None]) -> None:
    """Put one column's writes (``None`` deletes) into ``batch``, each key under ``prefix``
    (a block's tree writes are tens of thousands: one loop, no call per key)."""
    put, delete = batch.put, batch.delete
    for key, value in writes.items():
        if value is None:
            delete(prefix + key)
        else:
            put(prefix + key, value)


def _describe(exc: BaseException) -> str:
    """plyvel puts LevelDB's status message in as bytes; show it as text."""
    if exc.args and isinstance(exc.args[0], bytes):
        return exc.args[0].decode("utf-8", "replace")
    return str(exc)


def _iter_ledger_entries(iterator: Any, limit: int | None) -> Iterator[tuple[bytes, bytes]]:
    """Yield (ledger key, value) pairs, at most ``limit``; always close the LevelDB iterator."""
    try:
        count = 0
        while limit is None or count < limit:
            entry = _call(lambda: next(iterator, None), "iterating state")
            if entry is None:
                return
            key, value = entry
            yield keys.ledger_key_of(key), value
            count += 1
    finally:
        with contextlib.suppress(RuntimeError):  # already closed along with its database
            iterator.close()
