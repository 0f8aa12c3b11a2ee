"""node.wal: round trip, height markers, torn-tail repair, crash children, corruption, trimming."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.failpoints import FAILPOINT_ENV, Failpoint
from node.wal import HEADER_BYTES, WalCorruptError, WalError, WriteAheadLog

REPO = pathlib.Path(__file__).resolve().parents[2]
CHILD = pathlib.Path(__file__).with_name("wal_crash_child.py")


def segment_files(directory: pathlib.Path) -> list[pathlib.Path]:
    return sorted(directory.glob("wal-*.log"))


def write(directory: pathlib.Path, payloads: list[bytes]) -> None:
    with WriteAheadLog(directory) as wal:
        for payload in payloads:
            wal.append(payload, sync=False)
        wal.flush_sync()


def replayed(directory: pathlib.Path) -> list[bytes]:
    with WriteAheadLog(directory) as wal:
        return list(wal.replay())


def test_round_trip(tmp_path: pathlib.Path) -> None:
    payloads = [b"", b"a", bytes(range(256)) * 40, b"\x00" * 9]
    with WriteAheadLog(tmp_path) as wal:
        for payload in payloads:
            wal.append(payload, sync=True)
        assert list(wal.replay()) == payloads
    assert replayed(tmp_path) == payloads


def test_replay_starts_after_the_last_height_marker(tmp_path: pathlib.Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        assert wal.last_height is None
        wal.append(b"h1-a", sync=False)
        wal.mark_height(1)
        wal.append(b"h2-a", sync=False)
        wal.mark_height(2)
        wal.append(b"h3-a", sync=False)
        wal.append(b"h3-b", sync=True)
        assert list(wal.replay()) == [b"h3-a", b"h3-b"]
    with WriteAheadLog(tmp_path) as wal:
        assert wal.last_height == 2
        assert list(wal.replay()) == [b"h3-a", b"h3-b"]
        wal.mark_height(3)
        assert list(wal.replay()) == []


def test_height_marker_must_increase(tmp_path: pathlib.Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        wal.mark_height(5)
        with pytest.raises(WalError, match="not above"):
            wal.mark_height(5)
        with pytest.raises(WalError, match="not above"):
            wal.mark_height(4)


def test_misuse_is_refused(tmp_path: pathlib.Path) -> None:
    wal = WriteAheadLog(tmp_path, record_bytes_max=100)
    with pytest.raises(WalError, match="exceeds"):
        wal.append(b"x" * 101, sync=False)
    with pytest.raises(WalError, match="in use"):
        WriteAheadLog(tmp_path)
    wal.close()
    with pytest.raises(WalError, match="closed"):
        wal.append(b"x", sync=False)
    WriteAheadLog(tmp_path).close()  # the lock is released on close


def test_torn_last_record_at_every_offset_is_dropped_and_repaired(
    tmp_path: pathlib.Path,
) -> None:
    good = [b"first", b"second" * 3]
    last = b"the-last-record-" * 4
    source = tmp_path / "source"
    write(source, good)
    (segment,) = segment_files(source)
    start = segment.stat().st_size
    write(source, [last])
    end = segment.stat().st_size
    assert end == start + HEADER_BYTES + 1 + len(last)
    for cut in range(start, end):
        case = tmp_path / f"cut{cut}"
        shutil.copytree(source, case)
        os.truncate(segment_files(case)[0], cut)
        with WriteAheadLog(case) as wal:
            assert wal.repaired_bytes == cut - start
            assert list(wal.replay()) == good
            assert segment_files(case)[0].stat().st_size == start
            wal.append(b"after", sync=True)  # the log continues where the good part ends
        assert replayed(case) == [*good, b"after"]


@pytest.mark.parametrize("damage", ["flip_payload", "flip_crc", "zero_tail", "huge_length"])
def test_damaged_last_record_is_dropped(tmp_path: pathlib.Path, damage: str) -> None:
    write(tmp_path, [b"one", b"two"])
    (segment,) = segment_files(tmp_path)
    start = segment.stat().st_size
    write(tmp_path, [b"three-three"])
    data = bytearray(segment.read_bytes())
    if damage == "flip_payload":
        data[-1] ^= 0x01
    elif damage == "flip_crc":
        data[start + 5] ^= 0x80
    elif damage == "zero_tail":
        data[start:] = bytes(len(data) - start) + bytes(4096)
    else:
        data[start : start + 4] = (2**31).to_bytes(4, "big")
    segment.write_bytes(bytes(data))
    assert replayed(tmp_path) == [b"one", b"two"]
    assert segment.stat().st_size == start


def test_corruption_in_the_middle_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    write(tmp_path, [b"one", b"two", b"three"])
    (segment,) = segment_files(tmp_path)
    data = bytearray(segment.read_bytes())
    data[HEADER_BYTES + 2] ^= 0x40  # inside the payload of the first record
    segment.write_bytes(bytes(data))
    with pytest.raises(WalCorruptError, match=r"damaged record at offset 0"):
        WriteAheadLog(tmp_path)
    assert segment.read_bytes() == bytes(data)  # nothing was "repaired" away


def test_damage_in_an_older_segment_is_an_error(tmp_path: pathlib.Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        wal.append(b"height-1", sync=False)
        wal.mark_height(1)
        wal.append(b"height-2", sync=True)
    older = segment_files(tmp_path)[0]
    os.truncate(older, older.stat().st_size - 1)
    with pytest.raises(WalCorruptError, match=older.name):
        WriteAheadLog(tmp_path)


def test_trimming_bounds_the_size(tmp_path: pathlib.Path) -> None:
    record = b"v" * 1000
    per_height = 10 * (HEADER_BYTES + 1 + len(record)) + HEADER_BYTES + 9
    with WriteAheadLog(tmp_path) as wal:
        for height in range(1, 60):
            for _ in range(10):
                wal.append(record, sync=False)
            wal.mark_height(height)
            assert wal.segment_count() <= 2
            assert wal.size_bytes() <= 2 * per_height
        assert wal.size_bytes() > 0
    assert len(segment_files(tmp_path)) == 2
    assert replayed(tmp_path) == []


def test_stale_segments_left_by_a_crash_are_trimmed_on_open(tmp_path: pathlib.Path) -> None:
    with WriteAheadLog(tmp_path, keep_segments=5) as wal:
        for height in range(1, 6):
            wal.mark_height(height)
    assert len(segment_files(tmp_path)) == 5
    with WriteAheadLog(tmp_path) as wal:
        assert wal.segment_count() == 2
        assert wal.last_height == 5


def run_child(directory: pathlib.Path, mode: str, failpoint: str = "") -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop(FAILPOINT_ENV, None)
    if failpoint:
        env[FAILPOINT_ENV] = failpoint
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(directory), mode],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_child_crashing_mid_append_leaves_a_log_that_continues(tmp_path: pathlib.Path) -> None:
    write(tmp_path, [b"before-1", b"before-2"])
    size_before = segment_files(tmp_path)[0].stat().st_size
    child = run_child(tmp_path, "once", Failpoint.WAL_MID_APPEND.env_name)
    assert child.wait(timeout=60) == 98
    assert segment_files(tmp_path)[0].stat().st_size > size_before  # half a record was written
    with WriteAheadLog(tmp_path) as wal:
        assert wal.repaired_bytes > 0
        assert list(wal.replay()) == [b"before-1", b"before-2"]
        wal.append(b"after", sync=True)
    assert replayed(tmp_path) == [b"before-1", b"before-2", b"after"]


def test_child_killed_while_appending_leaves_a_consistent_prefix(tmp_path: pathlib.Path) -> None:
    child = run_child(tmp_path, "loop")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)  # never leave a looping child behind
        child.wait(timeout=60)
    with WriteAheadLog(tmp_path) as wal:
        height = wal.last_height
        assert height is not None and height >= 1
        records = list(wal.replay())
    assert len(records) < 20
    assert records == [f"{height + 1}:{i}".encode() for i in range(len(records))]


operations = st.lists(
    st.one_of(st.binary(max_size=64), st.just(None)),  # None = mark the next height
    max_size=40,
)


@given(operations)
def test_reopen_replays_exactly_what_the_model_expects(ops: list[bytes | None]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        expected: list[bytes] = []
        height = 0
        with WriteAheadLog(directory) as wal:
            for op in ops:
                if op is None:
                    height += 1
                    wal.mark_height(height)
                    expected.clear()
                else:
                    wal.append(op, sync=False)
                    expected.append(op)
        with WriteAheadLog(directory) as wal:
            assert list(wal.replay()) == expected
            assert wal.last_height == (height or None)
            assert wal.segment_count() <= 2
