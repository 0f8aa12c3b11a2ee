"""The snapshot folder and the writer that fills it.

Each snapshot is a folder ``<data>/snapshots/<height>`` holding ``manifest`` and one file per
chunk. A snapshot is written in a ``.tmp`` folder and renamed when complete, so a listed
snapshot is always whole; leftovers of an interrupted write are removed at start. Only the
newest ``[statesync].snapshots_kept`` stay.

The writer runs after a commit at a multiple of ``snapshot_interval``: on the committing thread
it only opens a LevelDB iterator over the state column (a consistent view of the state after
that block, whatever commits follow) and reads the app hash; a background thread then cuts the
chunks and writes them. One snapshot is written at a time; a snapshot due while one is being
written is skipped (logged), so the work stays bounded however slow the disk is.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from consensus.crypto import sha256
from node.logs import fields
from node.statesync.snapshot import FORMAT, Manifest, SnapshotError, cut_chunks
from node.storage import Store

log = logging.getLogger("depochain.statesync")

SNAPSHOTS_DIR = "snapshots"
MANIFEST_FILE = "manifest"
VALIDATORS_FILE = "validators"
"""The encoded validator set of ``height + 1`` (what the anchor's header must name)."""
TMP_SUFFIX = ".tmp"


def _chunk_name(index: int) -> str:
    return f"chunk-{index:06d}"


class SnapshotFolder:
    """Complete snapshots on disk, newest ``kept`` of them."""

    def __init__(self, path: Path, kept: int) -> None:
        self.path = path
        self.kept = kept
        path.mkdir(parents=True, exist_ok=True)
        for leftover in path.glob(f"*{TMP_SUFFIX}"):
            shutil.rmtree(leftover, ignore_errors=True)

    def list_heights(self) -> list[int]:
        """Heights of complete snapshots, newest first."""
        heights = [
            int(entry.name)
            for entry in self.path.iterdir()
            if entry.name.isdigit() and (entry / MANIFEST_FILE).is_file()
        ]
        return sorted(heights, reverse=True)

    def read_manifest(self, height: int) -> Manifest | None:
        try:
            return Manifest.decode((self._dir(height) / MANIFEST_FILE).read_bytes())
        except (OSError, SnapshotError):
            return None

    def read_chunk(self, height: int, index: int) -> bytes | None:
        if index < 0:
            return None
        try:
            return (self._dir(height) / _chunk_name(index)).read_bytes()
        except OSError:
            return None

    def read_validators(self, height: int) -> bytes | None:
        try:
            return (self._dir(height) / VALIDATORS_FILE).read_bytes()
        except OSError:
            return None

    def write(
        self, height: int, app_hash: bytes, validators: bytes, chunks: Iterator[bytes]
    ) -> Manifest:
        """Write a snapshot of ``chunks`` (then prune); complete or absent, never half."""
        tmp = self.path / f"{height}{TMP_SUFFIX}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        hashes: list[bytes] = []
        try:
            (tmp / VALIDATORS_FILE).write_bytes(validators)
            for index, chunk in enumerate(chunks):
                (tmp / _chunk_name(index)).write_bytes(chunk)
                hashes.append(sha256(chunk))
            manifest = Manifest(height, FORMAT, app_hash, tuple(hashes))
            (tmp / MANIFEST_FILE).write_bytes(manifest.encode())
            final = self._dir(height)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.prune()
        return manifest

    def prune(self) -> None:
        for height in self.list_heights()[self.kept :]:
            shutil.rmtree(self._dir(height), ignore_errors=True)

    def _dir(self, height: int) -> Path:
        return self.path / str(height)


class SnapshotWriter:
    """Takes a snapshot after every ``interval``-th height, in a background thread."""

    def __init__(
        self,
        store: Store,
        folder: SnapshotFolder,
        interval: int,
        chunk_bytes: int,
        get_validators: Callable[[int], bytes],
    ) -> None:
        self._store = store
        self._get_validators = get_validators
        """The encoded validator set of a height (the chain's; the next one is known)."""
        self.folder = folder
        self.interval = interval
        self.chunk_bytes = chunk_bytes
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.written = 0
        self.skipped = 0

    def on_commit(self, height: int) -> None:
        """Called after ``height`` is committed; starts a snapshot when one is due."""
        if self.interval <= 0 or height % self.interval != 0 or self._stopping.is_set():
            return
        if self._thread is not None and self._thread.is_alive():
            self.skipped += 1
            log.warning("snapshot of height %d skipped: the previous one is still being written",
                        height)  # fmt: skip
            return
        if self._store.latest_height() != height:
            self.skipped += 1  # the chain moved on before we looked: the view is not height's
            return
        app_hash = self._store.get_app_hash(height)
        validators = self._get_validators(height + 1)
        items = self._store.iter_state()  # opens a consistent view of the state now
        if app_hash is None:
            return
        thread = threading.Thread(
            target=self._write,
            args=(height, app_hash, validators, items),
            name="snapshot",
            daemon=True,
        )
        self._thread = thread
        thread.start()

    def _write(
        self,
        height: int,
        app_hash: bytes,
        validators: bytes,
        items: Iterator[tuple[bytes, bytes]],
    ) -> None:
        def chunks() -> Iterator[bytes]:
            for chunk in cut_chunks(items, self.chunk_bytes):
                if self._stopping.is_set():
                    raise InterruptedError("node stopping")
                yield chunk

        try:
            manifest = self.folder.write(height, app_hash, validators, chunks())
        except InterruptedError:
            return
        except Exception as exc:  # a snapshot is a service to peers: log it, never stop the node
            log.error("snapshot of height %d failed: %s", height, exc)
            return
        self.written += 1
        log.info(
            "snapshot of height %d written: %d chunks",
            height,
            manifest.chunk_count,
            extra=fields("snapshot_written", height=height),
        )

    def close(self) -> None:
        """Stop a snapshot in progress (it is discarded) and wait for the thread."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join()
