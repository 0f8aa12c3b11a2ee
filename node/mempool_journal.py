"""The mempool journal: transactions this node acknowledged to a client, kept on disk.

The mempool lives in memory. Without this file a ``kill -9`` (or a power cut) right after the
node answered "accepted" (code 0, HTTP 202) and before its gossip reached a peer loses the
transaction, and with it every later nonce of that sender. So the RPC answers only after
:meth:`MempoolJournal.sync` returns: the transaction is fdatasync'ed in this append-only file.
On restart the node reads the file back and admits each transaction again (the ledger's nonce
rule drops those already committed), then gossips them.

One fdatasync serves every transaction appended before it started (group commit), and it runs in
a worker thread so the event loop is never blocked on the disk. After blocks the file is rewritten
with only the still-pending transactions once it has grown well past them.

On disk: records ``[u32 length][u32 crc32][raw tx]`` (big-endian; the CRC covers the length and
the bytes). A torn last record (a crash mid-append) is dropped; reading stops at the first damaged
record and says so in the log, keeping every record before it.

What it must never do: answer before the fdatasync covering the transaction returned, or write
transactions that arrived by gossip (their origin node keeps them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from consensus.types import Hash32
from node import durable
from node.disk_space import StorageUnavailable

log = logging.getLogger("depochain.mempool")

_HEADER = struct.Struct(">II")
RECORD_BYTES_MAX = 1024 * 1024
"""A length field above this is damage, not a transaction (the mempool refuses larger ones)."""
COMPACT_MIN_BYTES = 1024 * 1024
"""The file is rewritten only once it is at least this big and at least twice the pending txs."""


class JournalWriteError(StorageUnavailable):
    """The journal could not take a transaction (a full disk): it is not acknowledged."""


def encode_record(raw: bytes) -> bytes:
    length = len(raw).to_bytes(4, "big")
    return _HEADER.pack(len(raw), zlib.crc32(raw, zlib.crc32(length))) + raw


def decode_records(data: bytes) -> tuple[list[bytes], str | None]:
    """The intact records from the start of ``data``, and why reading stopped early (None
    when the data ended cleanly or with a torn last record)."""
    records: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if length > RECORD_BYTES_MAX:
            return records, f"record at byte {offset} claims {length} bytes"
        if end > len(data):
            return records, None  # torn by a crash mid-append
        raw = data[offset + _HEADER.size : end]
        if zlib.crc32(raw, zlib.crc32(length.to_bytes(4, "big"))) != crc:
            torn = end == len(data)
            return records, None if torn else f"record at byte {offset} fails its checksum"
        records.append(raw)
        offset = end
    return records, None


class MempoolJournal:
    """The journal file at ``path``; one writer (the node's event loop)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[Hash32, bytes] = {}
        self._fd = -1
        self._file_bytes = 0
        self._appended = 0
        self._synced = 0
        self._lock = asyncio.Lock()
        self.syncs = 0

    def load(self) -> list[bytes]:
        """The journaled transactions, oldest first (call once, before :meth:`open`)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records, damage = decode_records(data)
        if damage is not None:
            log.error("mempool journal %s: %s; kept the %d records before it",
                      self.path, damage, len(records))  # fmt: skip
        return records

    def open(self, pending: Iterable[tuple[Hash32, bytes]]) -> None:
        """Start a fresh file holding exactly ``pending`` (durably), then append to it."""
        self._entries = dict(pending)
        self._rewrite()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def append(self, tx_hash: Hash32, raw: bytes) -> None:
        """Write an acknowledged transaction (durable only after :meth:`sync`). On a failed
        write (a full disk) the file is cut back to its last whole record, so a later append
        never follows a torn one, and :class:`JournalWriteError` says "not acknowledged"."""
        record = encode_record(raw)
        try:
            durable.write_all(self._fd, record)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._file_bytes)
            raise JournalWriteError(f"cannot write the mempool journal: {exc}") from exc
        self._entries[tx_hash] = raw
        self._file_bytes += len(record)
        self._appended += 1

    @property
    def is_synced(self) -> bool:
        return self._synced >= self._appended

    async def sync(self) -> None:
        """Return once every transaction appended before this call is on disk."""
        target = self._appended
        async with self._lock:
            if self._synced >= target:
                return  # a sync that started after our append covered it
            covered = self._appended
            try:
                await asyncio.to_thread(durable.sync_file_data, self._fd)
            except OSError as exc:
                raise JournalWriteError(f"cannot sync the mempool journal: {exc}") from exc
            self.syncs += 1
            self._synced = max(self._synced, covered)

    def compact_if_grown(self, is_pending: Callable[[Hash32], bool]) -> bool:
        """After a block: forget committed or dropped txs and, once the file is mostly
        dead records, rewrite it with the pending ones. True if it was rewritten."""
        if self._file_bytes < COMPACT_MIN_BYTES or self._lock.locked():
            return False  # small, or an fdatasync in flight on the current file
        self._entries = {h: raw for h, raw in self._entries.items() if is_pending(h)}
        live = sum(len(raw) + _HEADER.size for raw in self._entries.values())
        if live * 2 > self._file_bytes:
            return False
        self._rewrite()
        return True

    def _rewrite(self) -> None:
        """Temp file with the pending txs, fsync, rename over the journal, fsync the folder."""
        data = b"".join(encode_record(raw) for raw in self._entries.values())
        durable.write_atomically(self.path, data)
        self.close()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._file_bytes = len(data)
        self._synced = self._appended
