"""The mempool journal on a real file: what it gives back after a restart or a crash, that
``sync`` really reaches the disk before it returns, and that compaction keeps the pending txs.

The end-to-end promise (a node killed -9 right after acknowledging a tx still commits it) is
``tests/integration/test_faults.py::test_txs_acknowledged_by_a_validator_survive_its_kill_9``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consensus.crypto import sha256
from node import mempool_journal
from node.mempool_journal import MempoolJournal, decode_records, encode_record

ROOT = Path(__file__).resolve().parents[2]


def _tx(i: int, size: int = 40) -> bytes:
    return (f"tx-{i}-".encode() * size)[:size]


def _opened(path: Path) -> MempoolJournal:
    journal = MempoolJournal(path)
    journal.open(())
    return journal


def test_appended_then_synced_txs_come_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    journal = _opened(path)
    txs = [_tx(i) for i in range(5)]
    for raw in txs:
        journal.append(sha256(raw), raw)
    asyncio.run(journal.sync())
    journal.close()
    assert MempoolJournal(path).load() == txs


def test_open_keeps_exactly_the_pending_txs(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    journal = _opened(path)
    for i in range(4):
        journal.append(sha256(_tx(i)), _tx(i))
    journal.close()
    reopened = MempoolJournal(path)
    survivors = [raw for raw in reopened.load() if raw != _tx(1)]
    reopened.open((sha256(raw), raw) for raw in survivors)
    reopened.close()
    assert MempoolJournal(path).load() == [_tx(0), _tx(2), _tx(3)]


def test_a_torn_last_record_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    data = encode_record(_tx(0)) + encode_record(_tx(1))
    for cut in range(len(encode_record(_tx(0))), len(data)):
        assert decode_records(data[:cut]) == ([_tx(0)], None), cut


def test_damage_before_the_end_stops_reading_and_is_reported(tmp_path: Path) -> None:
    first, second = encode_record(_tx(0)), bytearray(encode_record(_tx(1)))
    second[-1] ^= 0xFF
    records, damage = decode_records(first + bytes(second) + encode_record(_tx(2)))
    assert records == [_tx(0)]
    assert damage is not None and "checksum" in damage
    records, damage = decode_records(first + b"\xff\xff\xff\xff\x00\x00\x00\x00")
    assert records == [_tx(0)] and damage is not None and "claims" in damage


def test_one_sync_covers_every_tx_appended_before_it(tmp_path: Path) -> None:
    journal = _opened(tmp_path / "journal.log")

    async def acknowledge_many() -> None:
        for i in range(50):
            journal.append(sha256(_tx(i)), _tx(i))
        await asyncio.gather(*(journal.sync() for _ in range(50)))

    asyncio.run(acknowledge_many())
    assert journal.is_synced
    assert journal.syncs == 1
    asyncio.run(journal.sync())  # nothing new: no disk work
    assert journal.syncs == 1


def test_sync_returns_only_after_fdatasync_of_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.log"
    journal = _opened(path)
    synced: list[str] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        real(fd)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    journal.append(sha256(_tx(0)), _tx(0))
    assert not journal.is_synced
    asyncio.run(journal.sync())
    assert synced == [str(path)]
    assert journal.is_synced


def test_compaction_rewrites_only_the_pending_txs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mempool_journal, "COMPACT_MIN_BYTES", 1000)
    path = tmp_path / "journal.log"
    journal = _opened(path)
    txs = [_tx(i, 100) for i in range(20)]
    for raw in txs:
        journal.append(sha256(raw), raw)
    pending = {sha256(txs[3]), sha256(txs[17])}
    assert journal.compact_if_grown(pending.__contains__)
    assert path.stat().st_size == 2 * len(encode_record(txs[3]))
    journal.append(sha256(_tx(99)), _tx(99))  # appends go on in the new file
    journal.close()
    assert MempoolJournal(path).load() == [txs[3], txs[17], _tx(99)]


def test_no_compaction_while_most_txs_are_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mempool_journal, "COMPACT_MIN_BYTES", 1000)
    journal = _opened(tmp_path / "journal.log")
    txs = [_tx(i, 100) for i in range(20)]
    for raw in txs:
        journal.append(sha256(raw), raw)
    assert not journal.compact_if_grown(lambda tx_hash: tx_hash != sha256(txs[0]))
    assert not journal.compact_if_grown(lambda tx_hash: True)


CHILD = """
import asyncio, os, sys
from pathlib import Path
from consensus.crypto import sha256
from node.mempool_journal import MempoolJournal
journal = MempoolJournal(Path(sys.argv[1]))
journal.open(())
raw = b"acknowledged"
journal.append(sha256(raw), raw)
asyncio.run(journal.sync())
print("acknowledged", flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_process_killed_right_after_sync_keeps_the_tx(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True
    )
    assert child.returncode == -9 and child.stdout == "acknowledged\n", child.stderr
    assert MempoolJournal(path).load() == [b"acknowledged"]
