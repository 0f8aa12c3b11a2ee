"""The consensus write-ahead log: every consensus input is appended here before it is handled.

After a crash the node replays the records of the height it was working on and resumes in the
same round, so it never forgets a vote it sent or a proposal it saw.

On disk: a folder of segment files ``wal-<seq>.log``; each holds records
``[u32 length][u32 crc32][payload]`` (big-endian). ``payload`` is one kind byte and a body: DATA
(the caller's opaque bytes) or an END-OF-HEIGHT marker (u64 height). The CRC covers the length
field and the payload, so a damaged length is caught too.

``mark_height(h)`` (called once height ``h`` is committed) starts a new segment whose first record
is the marker and deletes all but the previous segment: the log holds the current height and the
one before, never more. ``replay()`` yields the records written after the last marker.

Writes and fsyncs go through :mod:`node.durable`; a new segment's name is made durable with a
fsync of the folder, and a failure of that fsync is raised (see there why).

What it must never do: silently skip a damaged record in the middle of the log (that would
replay a different history), or refuse to start because the very last record is torn (a crash
in the middle of an append is normal; that record was never acted on).
"""

from __future__ import annotations

import enum
import fcntl
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from consensus.types import Height
from node import durable
from node.errors import NodeError
from node.failpoints import Failpoint, Failpoints

_HEADER = struct.Struct(">II")
_HEIGHT = struct.Struct(">Q")
HEADER_BYTES = _HEADER.size
RECORD_BYTES_MAX = 64 * 1024 * 1024
"""Default bound on one record's payload; a larger length field means damage, not data."""
SEGMENT_PREFIX = "wal-"
SEGMENT_SUFFIX = ".log"


class WalError(NodeError):
    """The WAL cannot be used as asked (closed, record too large, height not increasing...)."""


class WalCorruptError(WalError):
    """A record before the end of the log is damaged; the node must not start on guesses."""


class RecordKind(enum.IntEnum):
    DATA = 1
    END_HEIGHT = 2


@dataclass(frozen=True, slots=True)
class Record:
    kind: RecordKind
    body: bytes


@dataclass(frozen=True, slots=True)
class _Scan:
    """What reading one segment found: its good records, where they end, and a bad tail."""

    records: list[Record]
    good_end: int
    """Offset just past the last intact record."""
    size: int
    """The segment's size on disk; ``good_end < size`` means a torn or damaged last record."""


def encode_record(kind: RecordKind, body: bytes) -> bytes:
    payload = bytes([kind]) + body
    length = len(payload)
    crc = zlib.crc32(payload, zlib.crc32(length.to_bytes(4, "big")))
    return _HEADER.pack(length, crc) + payload


def scan_segment(data: bytes, name: str, record_bytes_max: int = RECORD_BYTES_MAX) -> _Scan:
    """Parse a segment's bytes. A bad record that reaches the end of the data is reported as a
    torn tail (``good_end < size``); a bad record with intact-looking data after it raises."""
    records: list[Record] = []
    pos = 0
    while pos < len(data):
        record, end = _parse_at(data, pos, record_bytes_max)
        if record is None:
            if not _is_tail(data, pos, end):
                raise WalCorruptError(
                    f"WAL segment {name}: damaged record at offset {pos} with "
                    f"{len(data) - pos} bytes after it; refusing to replay past it"
                )
            break
        records.append(record)
        pos = end
    return _Scan(records=records, good_end=pos, size=len(data))


def _parse_at(data: bytes, pos: int, record_bytes_max: int) -> tuple[Record | None, int]:
    """The record at ``pos`` and its end, or (None, claimed end) when it is not intact."""
    if len(data) - pos < HEADER_BYTES:
        return None, len(data)
    length, crc = _HEADER.unpack_from(data, pos)
    end = pos + HEADER_BYTES + length
    if length == 0 or length > record_bytes_max + 1 or end > len(data):
        return None, end
    payload = data[pos + HEADER_BYTES : end]
    if zlib.crc32(payload, zlib.crc32(length.to_bytes(4, "big"))) != crc:
        return None, end
    try:
        kind = RecordKind(payload[0])
    except ValueError:
        raise WalCorruptError(f"unknown WAL record kind {payload[0]} at offset {pos}") from None
    if kind is RecordKind.END_HEIGHT and len(payload) != 1 + _HEIGHT.size:
        raise WalCorruptError(f"malformed END_HEIGHT record at offset {pos}")
    return Record(kind, payload[1:]), end


def _is_tail(data: bytes, pos: int, claimed_end: int) -> bool:
    # A crash mid-append leaves a short record at the end, or zeros where the file system had
    # extended the file but not yet written the data. Anything else is damage in the middle.
    return claimed_end >= len(data) or not any(data[pos:])


class WriteAheadLog:
    """An append-only, CRC-checked, self-trimming log in ``directory`` (one writer at a time)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        record_bytes_max: int = RECORD_BYTES_MAX,
        keep_segments: int = 2,
        failpoints: Failpoints = Failpoints.NONE,
    ) -> None:
        if keep_segments < 1:
            raise ValueError("keep_segments must be at least 1")
        self._dir = Path(directory)
        self._record_bytes_max = record_bytes_max
        self._keep_segments = keep_segments
        self._failpoints = failpoints
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_directory(self._dir)
        self._fd = -1
        self._dirty = False
        try:
            self.repaired_bytes, self.last_height = self._recover()
        except BaseException:
            os.close(self._lock_fd)
            raise

    # -- opening --------------------------------------------------------------------------

    def _recover(self) -> tuple[int, Height | None]:
        """Check every segment, repair a torn tail of the newest, open it for appending."""
        seqs = self._list_segments()
        if not seqs:
            os.close(self._create_segment(0, b""))
            seqs = [0]
        last_height: Height | None = None
        repaired = 0
        for seq in seqs:
            path = self._segment_path(seq)
            scan = scan_segment(path.read_bytes(), path.name, self._record_bytes_max)
            if scan.good_end < scan.size:
                if seq != seqs[-1]:
                    raise WalCorruptError(f"WAL segment {path.name} is damaged at {scan.good_end}")
                repaired = scan.size - scan.good_end
                durable.truncate_synced(path, scan.good_end)
            last_height = _last_marker(scan.records, last_height)
        self._seq = seqs[-1]
        self._fd = os.open(self._segment_path(self._seq), os.O_WRONLY | os.O_APPEND)
        self._trim()
        return repaired, last_height

    def _list_segments(self) -> list[int]:
        seqs = []
        for path in self._dir.iterdir():
            name = path.name
            if name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX):
                digits = name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)]
                if digits.isdigit():
                    seqs.append(int(digits))
        return sorted(seqs)

    def _segment_path(self, seq: int) -> Path:
        return self._dir / f"{SEGMENT_PREFIX}{seq:016d}{SEGMENT_SUFFIX}"

    def _create_segment(self, seq: int, first_record: bytes) -> int:
        fd = os.open(
            self._segment_path(seq), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600
        )
        try:
            durable.write_all(fd, first_record)
            durable.sync_file(fd)
            durable.fsync_directory(self._dir)  # the new segment's name, with its records
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _trim(self) -> None:
        """Delete segments older than the newest ``keep_segments``; they can never be replayed.
        No fsync: a deletion lost in a crash is simply done again at the next open."""
        for seq in self._list_segments()[: -self._keep_segments]:
            self._segment_path(seq).unlink()

    # -- writing --------------------------------------------------------------------------

    def append(self, payload: bytes, sync: bool) -> None:
        """Append one record. With ``sync`` it is on disk when this returns; otherwise it is
        in the OS (it survives a process crash) and reaches the disk at the next sync."""
        self._check_open()
        if len(payload) > self._record_bytes_max:
            raise WalError(f"WAL record of {len(payload)} bytes exceeds {self._record_bytes_max}")
        record = encode_record(RecordKind.DATA, payload)
        if self._failpoints.is_active(Failpoint.WAL_MID_APPEND):  # crash tests: a torn tail
            durable.write_all(self._fd, record[: max(1, len(record) // 2)])
            self._failpoints.crash_if_active(Failpoint.WAL_MID_APPEND)
        durable.write_all(self._fd, record)
        self._dirty = True
        if sync:
            self.flush_sync()

    def flush_sync(self) -> None:
        """fsync everything appended so far (one fsync for a group of unsynced appends)."""
        self._check_open()
        if self._dirty:
            durable.sync_file(self._fd)
            self._dirty = False

    def mark_height(self, height: int) -> None:
        """Record that ``height`` is committed: replay will start after this point. Starts a
        new segment with the marker and deletes the segments before the previous one."""
        self._check_open()
        if self.last_height is not None and height <= self.last_height:
            raise WalError(f"height marker {height} is not above the last one {self.last_height}")
        self.flush_sync()  # older segments must be complete before the new one exists
        marker = encode_record(RecordKind.END_HEIGHT, _HEIGHT.pack(height))
        fd = self._create_segment(self._seq + 1, marker)
        os.close(self._fd)
        self._fd, self._seq = fd, self._seq + 1
        self.last_height = Height(height)
        self._trim()

    # -- reading --------------------------------------------------------------------------

    def replay(self) -> Iterator[bytes]:
        """The DATA payloads appended after the last height marker, oldest first."""
        self._check_open()
        pending: list[bytes] = []
        for seq in self._list_segments():
            path = self._segment_path(seq)
            scan = scan_segment(path.read_bytes(), path.name, self._record_bytes_max)
            if scan.good_end < scan.size:
                raise WalCorruptError(f"WAL segment {path.name} is damaged at {scan.good_end}")
            for record in scan.records:
                if record.kind is RecordKind.END_HEIGHT:
                    pending.clear()
                else:
                    pending.append(record.body)
        return iter(pending)

    def size_bytes(self) -> int:
        """Bytes on disk across all segments (for metrics and the trimming test)."""
        return sum(self._segment_path(seq).stat().st_size for seq in self._list_segments())

    def segment_count(self) -> int:
        return len(self._list_segments())

    # -- closing --------------------------------------------------------------------------

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.flush_sync()
        finally:
            os.close(self._fd)
            os.close(self._lock_fd)
            self._fd = -1

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._fd < 0:
            raise WalError("the WAL is closed")


def _last_marker(records: list[Record], previous: Height | None) -> Height | None:
    height = previous
    for record in records:
        if record.kind is RecordKind.END_HEIGHT:
            height = Height(_HEIGHT.unpack(record.body)[0])
    return height


def _lock_directory(directory: Path) -> int:
    fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WalError(f"WAL {directory} is in use by another process") from None
    return fd
