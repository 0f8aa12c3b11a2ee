"""Crash a process while it commits blocks; the reopened store must hold whole blocks only.

Three ways to die: SIGKILL from the parent, ``os._exit`` from a timer thread wherever the writer
is, and ``os._exit`` from inside ``commit_block`` between two puts of a batch. Then LevelDB's
own failure mode: a log file cut at an arbitrary byte (a torn last write). After each, every
block up to the latest height must be byte-for-byte what was committed, nothing above it may
be visible, and every block ``commit_block`` had returned for must have survived.

The same again with real ledger blocks through ``node.chain.Chain``, dying just before, during
and just after the block batch's ``write()`` of a block whose payments move balances: the
reopened chain is at a whole block, and its state (balances, app hash) is that block's.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from consensus.ledger.queries import get_balance
from node.chain import Chain
from node.storage import LevelDBStore
from node.storage.check import find_inconsistencies
from tests.node.ledger_blocks import PAYERS, build_blocks, genesis_state, make_genesis
from tests.node.storage_crash_child import (
    CHAIN_DIE_AT,
    CHAIN_HEIGHT,
    EXIT_CODE,
    _tx_hash,
    compute_expected_state,
    make_block,
)

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("storage_crash_child.py")
CHILD_TIMEOUT_S = 60


def _start_child(path: Path, seed: int, mode: str, arg: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), str(seed), mode, str(arg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _reported_heights(lines: list[str]) -> int:
    """Highest height the child reported complete (a line cut by the crash is ignored)."""
    return max((int(line) for line in lines if line.endswith("\n") and line.strip()), default=0)


def _finish(child: subprocess.Popen[str], lines: list[str]) -> tuple[int, int]:
    """Wait for the child; return its exit code and the highest height it reported."""
    # Read through the file objects, not communicate(): readline() may already have buffered
    # lines that communicate() (which reads the raw descriptors) would never see.
    assert child.stdout is not None and child.stderr is not None
    out = child.stdout.read()
    err = child.stderr.read()
    child.wait(timeout=CHILD_TIMEOUT_S)
    lines.extend(out.splitlines(keepends=True))
    assert "Traceback" not in err, err
    return child.returncode, _reported_heights(lines)


def assert_store_matches(
    path: Path, seed: int, reported: int, latest_max: int | None = None
) -> int:
    """Reopen ``path`` and check it against the blocks the child generated; return latest.

    Durable: every block whose commit returned (``reported``) survived. Atomic: at most the
    one being written when the process died is there too (``latest_max``).
    """
    with LevelDBStore(path, create=False) as store:
        latest = store.latest_height()
        assert reported <= latest <= (reported + 1 if latest_max is None else latest_max)
        assert find_inconsistencies(store) == []
        for height in range(1, latest + 1):
            expected = make_block(seed, height)
            assert store.get_block(height) == expected.block
            assert store.get_certificate(height) == expected.certificate
            assert store.get_results(height) == expected.results
            assert store.get_app_hash(height) == expected.app_hash
            for index, tx_hash in enumerate(expected.tx_hashes):
                assert store.get_tx_location(tx_hash) == (height, index)
        above = make_block(seed, latest + 1)
        assert store.get_block(latest + 1) is None
        assert all(store.get_tx_location(h) is None for h in above.tx_hashes)
        assert store.get_tx_location(_tx_hash(seed, latest + 1, 0)) is None
        assert dict(store.iter_state()) == compute_expected_state(seed, latest)
    return latest


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_while_writing_leaves_whole_blocks(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "db"
    for _ in range(2):  # crash, check, resume on the same store, crash again
        child = _start_child(path, seed, "run")
        assert child.stdout is not None
        target = rng.randrange(1, 40)
        lines: list[str] = []
        while len(lines) < target:
            line = child.stdout.readline()
            assert line, f"child died early: {child.communicate()[1]}"
            lines.append(line)
        child.kill()
        returncode, reported = _finish(child, lines)
        assert returncode == -9
        assert assert_store_matches(path, seed, reported) >= target


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_os_exit_from_another_thread_leaves_whole_blocks(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "db"
    for _ in range(2):
        child = _start_child(path, seed, "timer", rng.randrange(20, 400))
        returncode, reported = _finish(child, [])
        assert returncode == EXIT_CODE
        assert_store_matches(path, seed, reported)


@pytest.mark.parametrize("puts", [0, 1, 3, 4, 6, 20])
def test_os_exit_inside_commit_block_writes_nothing_of_that_block(
    tmp_path: Path, puts: int
) -> None:
    path = tmp_path / "db"
    child = _start_child(path, 7, "in-commit", puts)
    returncode, reported = _finish(child, [])
    assert returncode == EXIT_CODE
    assert reported == 4  # died while building the 5th batch
    assert assert_store_matches(path, 7, reported) == 4


def _committed_store(path: Path, seed: int, blocks: int) -> None:
    with LevelDBStore(path) as store:
        for height in range(1, blocks + 1):
            store.commit_block(make_block(seed, height))


def test_torn_log_tail_drops_only_whole_blocks(tmp_path: Path) -> None:
    """Cut LevelDB's write-ahead log at random bytes, as a power cut mid-write would."""
    seed, blocks = 11, 30
    original = tmp_path / "original"
    _committed_store(original, seed, blocks)
    logs = sorted(original.glob("*.log"), key=lambda p: p.stat().st_size)
    log_size = logs[-1].stat().st_size
    assert log_size > 100_000  # the blocks are still in the log, not yet in a table
    rng = random.Random(seed)
    latests = set()
    for cut in [0, 7, log_size - 1, *(rng.randrange(log_size) for _ in range(12))]:
        copy = tmp_path / f"cut-{cut}"
        shutil.copytree(original, copy)
        with open(copy / logs[-1].name, "r+b") as log:
            log.truncate(cut)
        latests.add(assert_store_matches(copy, seed, reported=0, latest_max=blocks))
        if cut == log_size - 1:  # only the last batch is torn
            assert assert_store_matches(copy, seed, reported=blocks - 1) == blocks - 1
    assert len(latests) > 3  # the cuts really landed in different blocks


def test_resume_after_crash_and_commit_more(tmp_path: Path) -> None:
    path = tmp_path / "db"
    child = _start_child(path, 8, "in-commit", 2)
    _finish(child, [])
    with LevelDBStore(path) as store:
        assert store.latest_height() == 4
        for height in range(5, 9):
            store.commit_block(make_block(8, height))
    assert assert_store_matches(path, 8, reported=8) == 8


# -- real ledger blocks: the batch that dies carries balance changes ---------------------------


def assert_chain_matches(path: Path, seed: int, allowed: set[int]) -> int:
    """Reopen the store under a Chain (which checks the tip's app hash against the state it
    loads) and compare with the blocks the child built; return the latest height."""
    blocks = build_blocks(seed, CHAIN_HEIGHT)
    with LevelDBStore(path, create=False) as store:
        chain = Chain(make_genesis(), store)
        latest = chain.height
        assert latest in allowed
        assert find_inconsistencies(store) == []
        for ledger_block in blocks[:latest]:
            height = ledger_block.block.height
            assert store.get_block(height) == ledger_block.block.encode()
            assert store.get_certificate(height) == ledger_block.certificate.encode()
        expected = blocks[latest - 1].state if latest else genesis_state()
        assert chain.state.to_kv() == expected.to_kv()
        assert chain.state.app_hash == expected.app_hash
        for account in PAYERS:
            balance = get_balance(chain.state, account, "BANKA:USD")
            assert balance == get_balance(expected, account, "BANKA:USD")
        assert store.get_block(latest + 1) is None
    return latest


def _changes_balances(seed: int, height: int) -> bool:
    blocks = build_blocks(seed, CHAIN_HEIGHT)
    before, after = blocks[height - 2].state, blocks[height - 1].state
    return any(
        get_balance(before, a, "BANKA:USD") != get_balance(after, a, "BANKA:USD") for a in PAYERS
    )


@pytest.mark.parametrize(
    ("mode", "arg", "latest"),
    [
        ("chain-before-write", 0, {CHAIN_DIE_AT - 1}),
        ("chain-after-write", 0, {CHAIN_DIE_AT}),
        *(
            ("chain-during-write", delay_us, {CHAIN_DIE_AT - 1, CHAIN_DIE_AT})
            for delay_us in (0, 20, 40, 80, 400)
        ),
    ],
)
def test_crash_at_the_batch_write_of_a_block_that_moves_balances(
    tmp_path: Path, mode: str, arg: int, latest: set[int]
) -> None:
    seed, path = 21, tmp_path / "db"
    assert _changes_balances(seed, CHAIN_DIE_AT)  # the dying batch carries state changes
    child = _start_child(path, seed, mode, arg)
    returncode, reported = _finish(child, [])
    assert returncode == EXIT_CODE
    assert reported == CHAIN_DIE_AT - 1  # commit_block never returned for the dying block
    assert assert_chain_matches(path, seed, latest) in latest
    child = _start_child(path, seed, "chain")  # and the node carries on from there
    returncode, _ = _finish(child, [])
    assert returncode == 0
    assert assert_chain_matches(path, seed, {CHAIN_HEIGHT}) == CHAIN_HEIGHT


def test_torn_log_tail_of_ledger_blocks_leaves_a_whole_block_and_its_state(
    tmp_path: Path,
) -> None:
    """A power cut in the middle of a block's batch: LevelDB's log cut at random bytes."""
    seed = 22
    original = tmp_path / "original"
    child = _start_child(original, seed, "chain")
    assert _finish(child, [])[0] == 0
    [log] = sorted(original.glob("*.log"), key=lambda p: p.stat().st_size)[-1:]
    size = log.stat().st_size
    rng = random.Random(seed)
    latests = set()
    for cut in [size - 1, *(rng.randrange(size) for _ in range(10))]:
        copy = tmp_path / f"cut-{cut}"
        shutil.copytree(original, copy)
        with open(copy / log.name, "r+b") as handle:
            handle.truncate(cut)
        latests.add(assert_chain_matches(copy, seed, set(range(CHAIN_HEIGHT + 1))))
    assert len(latests) > 2  # the cuts landed in different blocks
