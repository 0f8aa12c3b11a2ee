"""Records, in one ordered log, what the node does at its I/O boundary, so tests can assert order.

The real parts still do the work; the recorders only watch them pass:

- ``os`` as seen by :mod:`node.durable`, through which every synced write goes: write/fsync/
  replace, with each file descriptor mapped back to its path (a directory fsync shows as an
  fsync of the folder), filed under the area of the file: "sign" (the sign-state file and its
  temp file), "wal" (WAL segments) or "disk" (anything else, e.g. the mempool journal); a
  folder's fsync goes under the area of the last file written or renamed in it;
- ``plyvel.DB`` as :mod:`node.storage.leveldb` opens it: the ``sync`` flag of every write batch
  and plain put, the keys a batch carries, and the moment ``batch.write()`` runs;
- the replica: each event just before ``handle`` sees it;
- the network: each payload the driver broadcasts or sends, decoded.

This is the one place that knows where those calls live: if the durable writes move to another
module, only :func:`install` and :class:`RecordingOs` change (and until they do, the ordering
tests fail, not pass).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plyvel
import pytest

import node.durable
from consensus.crypto import SignPurpose, compute_sign_bytes, sha256
from consensus.events import Event
from consensus.messages import Vote, VoteType
from consensus.proposal import Proposal
from consensus.safety import SignState, SignStep
from consensus.types import ChainId, PublicKey
from node.config import SIGN_STATE_FILE
from node.durable import TEMP_SUFFIX
from node.gossip import ConsensusPayload, decode_gossip
from node.signer import decode_sign_state_file
from node.wal import HEADER_BYTES, SEGMENT_PREFIX, SEGMENT_SUFFIX, RecordKind

REAL_DB = plyvel.DB


@dataclass(frozen=True, slots=True)
class Op:
    """One observed boundary operation."""

    area: str
    """"sign" (sign-state file), "wal", "disk" (other synced files), "store", "net", "replica"
    or "ack"."""
    name: str
    path: str = ""
    data: Any = None


@dataclass
class BoundaryLog:
    ops: list[Op] = field(default_factory=list)

    def add(self, area: str, name: str, path: str = "", data: Any = None) -> None:
        self.ops.append(Op(area, name, path, data))

    def index_of(self, op: Op) -> int:
        return next(i for i, seen in enumerate(self.ops) if seen is op)

    def find(self, area: str, name: str | None = None) -> list[tuple[int, Op]]:
        return [
            (i, op)
            for i, op in enumerate(self.ops)
            if op.area == area and (name is None or op.name == name)
        ]

    def clear(self) -> None:
        self.ops.clear()


def area_of(path: str) -> str:
    """Which part of the node a synced file belongs to, by its name."""
    name = Path(path).name
    if name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX):
        return "wal"
    if name in (SIGN_STATE_FILE, SIGN_STATE_FILE + TEMP_SUFFIX):
        return "sign"
    return "disk"


class RecordingOs:
    """Stands in for the ``os`` module of :mod:`node.durable`; everything else passes through."""

    def __init__(self, log: BoundaryLog) -> None:
        self._log = log
        self._paths: dict[int, str] = {}
        self._folder_areas: dict[str, str] = {}
        """Real path of a folder -> area of the last file written or renamed in it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        fd = os.open(path, flags, mode)
        self._paths[fd] = str(path)
        return fd

    def close(self, fd: int) -> None:
        self._paths.pop(fd, None)
        os.close(fd)

    def write(self, fd: int, data: Any) -> int:
        written = os.write(fd, data)
        path = self._path_of(fd)
        self._log.add(self._file_area(path), "write", path, bytes(data[:written]))
        return written

    def fsync(self, fd: int) -> None:
        os.fsync(fd)
        path = self._path_of(fd)
        if os.path.isdir(path):
            area = self._folder_areas.get(os.path.realpath(path), "disk")
        else:
            area = self._file_area(path)
        self._log.add(area, "fsync", path)

    def replace(self, src: Any, dst: Any) -> None:
        os.replace(src, dst)
        self._log.add(self._file_area(str(dst)), "replace", str(dst), str(src))

    def _path_of(self, fd: int) -> str:
        """The path the fd was opened with here, or (opened by the caller) what it points to."""
        return self._paths.get(fd) or os.readlink(f"/proc/self/fd/{fd}")

    def _file_area(self, path: str) -> str:
        area = area_of(path)
        self._folder_areas[os.path.realpath(os.path.dirname(path))] = area
        return area


class RecordingBatch:
    def __init__(self, batch: Any, sync: bool, log: BoundaryLog) -> None:
        self._batch = batch
        self._sync = sync
        self._log = log
        self._puts: dict[bytes, bytes | None] = {}

    def put(self, key: bytes, value: bytes) -> None:
        self._puts[key] = value
        self._batch.put(key, value)

    def delete(self, key: bytes) -> None:
        self._puts[key] = None
        self._batch.delete(key)

    def write(self) -> None:
        self._batch.write()
        self._log.add("store", "batch_write", "", (self._sync, dict(self._puts)))


class RecordingDb:
    def __init__(self, db: Any, log: BoundaryLog) -> None:
        self._db = db
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def write_batch(self, *, sync: bool = False, **kwargs: Any) -> RecordingBatch:
        return RecordingBatch(self._db.write_batch(sync=sync, **kwargs), sync, self._log)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self._db.put(key, value, sync=sync)
        self._log.add("store", "put", "", (sync, key))


class RecordingReplica:
    """The real replica; each event is logged just before it is handled."""

    def __init__(self, replica: Any, log: BoundaryLog) -> None:
        self._replica = replica
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._replica, name)

    def handle(self, event: Event) -> Any:
        self._log.add("replica", "handle", "", event)
        return self._replica.handle(event)

    def handle_strict(self, event: Event) -> Any:
        """What the driver calls (it counts the reasons of refused inputs)."""
        self._log.add("replica", "handle", "", event)
        return self._replica.handle_strict(event)


class SimulatedCrash(Exception):
    """Raised by the network recorder to stop the driver right before a send."""


class RecordingNetwork:
    """The network boundary: what the driver sends, decoded; nothing leaves the process.

    ``crash_before(payload)`` returning True makes that broadcast raise
    :class:`SimulatedCrash` instead (the process "died" between persisting and sending)."""

    def __init__(self, log: BoundaryLog) -> None:
        self._log = log
        self.crash_before: Callable[[object], bool] = lambda _payload: False

    def broadcast(self, payload: bytes) -> int:
        decoded = decode_gossip(payload)
        if self.crash_before(decoded):
            raise SimulatedCrash(f"crashed before sending {decoded}")
        self._log.add("net", "broadcast", "", decoded)
        return 0

    def send(self, public_key: bytes, payload: bytes) -> bool:
        self._log.add("net", "send", public_key.hex(), decode_gossip(payload))
        return True


def install(monkeypatch: pytest.MonkeyPatch, log: BoundaryLog) -> None:
    """Record the synced writes (sign-state file, WAL, ...) and LevelDB opened from now on."""
    monkeypatch.setattr(node.durable, "os", RecordingOs(log))
    monkeypatch.setattr(plyvel, "DB", lambda *a, **kw: RecordingDb(REAL_DB(*a, **kw), log))


# -- reading the log ---------------------------------------------------------------------------


def wal_data_records(op: Op) -> Iterator[bytes]:
    """The DATA payloads a recorded WAL write carries (a write holds whole records)."""
    data: bytes = op.data
    pos = 0
    while pos + HEADER_BYTES < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        payload = data[pos + HEADER_BYTES : pos + HEADER_BYTES + length]
        if payload[:1] == bytes([RecordKind.DATA]):
            yield payload[1:]
        pos += HEADER_BYTES + length


@dataclass(frozen=True, slots=True)
class DurablePersist:
    """A sign state that reached the disk through the whole protocol."""

    state: SignState
    first_op: int
    """Index of its first write to the temp file."""
    done_op: int
    """Index of the directory fsync that made the rename durable."""


def find_durable_persists(log: BoundaryLog, sign_path: Path) -> list[DurablePersist]:
    """Sign states written to the temp file, fsynced, renamed over the file and made durable
    by a fsync of the folder, in that order; anything short of that is not counted."""
    found: list[DurablePersist] = []
    temp = str(sign_path) + ".tmp"
    written, synced, renamed = b"", False, False
    first = -1
    for index, op in log.find("sign"):
        if op.name == "write" and op.path == temp:
            if not written or synced:
                written, synced, renamed, first = b"", False, False, index
            written += op.data
        elif op.name == "fsync" and op.path == temp:
            synced = bool(written)
        elif op.name == "replace" and op.path == str(sign_path):
            renamed = synced
        elif op.name == "fsync" and op.path == str(sign_path.parent) and renamed:
            found.append(DurablePersist(decode_sign_state_file(written, temp), first, index))
            written, synced, renamed = b"", False, False
    return found


def compute_sign_state(message: Proposal | Vote, chain_id: ChainId) -> SignState:
    """The sign state that covers ``message`` (what consensus.safety stores for it)."""
    if isinstance(message, Proposal):
        purpose, step = SignPurpose.PROPOSAL, SignStep.PROPOSAL
    else:
        purpose = SignPurpose.VOTE
        step = SignStep.PREVOTE if message.type == VoteType.PREVOTE else SignStep.PRECOMMIT
    digest = sha256(compute_sign_bytes(purpose, chain_id, message.sign_payload()))
    return SignState(message.height, message.round, step, digest)


def is_covered(state: SignState, by: SignState) -> bool:
    """True if having persisted ``by`` makes sending a message with ``state`` safe."""
    here = (state.height, state.round, int(state.step))
    there = (by.height, by.round, int(by.step))
    return here < there or (here == there and state.sign_bytes_hash == by.sign_bytes_hash)


def own_sent_messages(log: BoundaryLog, public_key: PublicKey) -> list[tuple[int, Proposal | Vote]]:
    """Our own proposals and votes the driver handed to the network, with their log index."""
    sent: list[tuple[int, Proposal | Vote]] = []
    for index, op in log.find("net"):
        payload = op.data
        if not isinstance(payload, ConsensusPayload):
            continue
        message = payload.message
        signer = message.proposer if isinstance(message, Proposal) else None
        signer = message.validator if isinstance(message, Vote) else signer
        if signer == public_key:
            sent.append((index, message))  # type: ignore[arg-type]
    return sent


def handled_events(log: BoundaryLog) -> list[tuple[int, Event]]:
    return [(index, op.data) for index, op in log.find("replica", "handle")]


def flatten(items: Iterable[Iterable[bytes]]) -> list[bytes]:
    return [item for group in items for item in group]
