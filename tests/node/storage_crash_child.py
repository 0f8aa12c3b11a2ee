"""Child process for the storage crash tests: commit deterministic blocks until it dies.

    python tests/node/storage_crash_child.py PATH SEED MODE [ARG]

MODE ``run``: commit until the parent SIGKILLs it. ``timer``: a thread calls ``os._exit(3)``
after ARG milliseconds, wherever the main thread is. ``in-commit``: ``os._exit(3)`` from inside
``commit_block``, after ARG puts into the batch of the 5th block this run. The child resumes at
the store's latest height + 1 and prints each height once ``commit_block`` has returned, so the
parent knows what must have survived. Blocks are a pure function of (seed, height):
:func:`make_block` lets the parent rebuild exactly what should be on disk.

The ``chain*`` modes commit real ledger blocks (payments that move balances, from
tests/node/ledger_blocks.py) through ``node.chain.Chain`` up to height CHAIN_HEIGHT, and die at
the 3rd block of the run: ``chain-before-write`` just before ``batch.write()``,
``chain-after-write`` just after it returned (before ``commit_block`` does),
``chain-during-write`` from a thread ARG microseconds after ``batch.write()`` began (LevelDB
releases the GIL while it writes). ``chain`` alone commits to CHAIN_HEIGHT and exits 0.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from node.storage import BlockWrite, LevelDBStore

EXIT_CODE = 3
BLOCK_BYTES_CHOICES = (100, 3_000, 40_000, 150_000)
"""Some blocks span several 32 KiB LevelDB log blocks, so a batch is several log fragments."""
STATE_KEYS = 60
BLOCKS_PER_RUN_MAX = 20_000
"""A safety stop should the parent fail to kill us."""
CHAIN_HEIGHT = 6
CHAIN_DIE_AT = 3
"""The ``chain-*`` modes die while writing the 3rd block of the run."""


def make_block(seed: int, height: int) -> BlockWrite:
    """The block the child commits at ``height``: same inputs, same bytes."""
    rng = random.Random(f"{seed}/{height}")
    tag = height.to_bytes(8, "big")
    tx_count = rng.randrange(0, 40)
    state_changes: dict[bytes, bytes | None] = {}
    for _ in range(rng.randrange(0, 8)):
        key = b"k%03d" % rng.randrange(STATE_KEYS)
        deleted = rng.random() < 0.2
        state_changes[key] = None if deleted else tag + rng.randbytes(rng.randrange(60))
    return BlockWrite(
        height=height,
        block=tag + rng.randbytes(rng.choice(BLOCK_BYTES_CHOICES)),
        certificate=b"cert" + tag + rng.randbytes(100),
        results=b"res" + tag + rng.randbytes(10 * tx_count),
        tx_hashes=[_tx_hash(seed, height, i) for i in range(tx_count)],
        state_changes=state_changes,
        app_hash=hashlib.sha256(b"app/%d/%d" % (seed, height)).digest(),
    )


def _tx_hash(seed: int, height: int, index: int) -> bytes:
    return hashlib.sha256(b"tx/%d/%d/%d" % (seed, height, index)).digest()


def compute_expected_state(seed: int, latest: int) -> dict[bytes, bytes]:
    """The ledger KV map after blocks 1..latest."""
    state: dict[bytes, bytes] = {}
    for height in range(1, latest + 1):
        for key, value in make_block(seed, height).state_changes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
    return state


class _BatchThatDies:
    """Forwards puts to a real WriteBatch and exits the process after ``puts_left`` of them."""

    def __init__(self, batch: Any, puts_left: int) -> None:
        self._batch = batch
        self._puts_left = puts_left

    def put(self, key: bytes, value: bytes) -> None:
        self._count_down()
        self._batch.put(key, value)

    def delete(self, key: bytes) -> None:
        self._count_down()
        self._batch.delete(key)

    def _count_down(self) -> None:
        if self._puts_left == 0:
            os._exit(EXIT_CODE)
        self._puts_left -= 1

    def write(self) -> None:
        os._exit(EXIT_CODE)  # dying just before the batch reaches LevelDB


class _DbThatDies:
    """Wraps the plyvel DB so the ``die_at``-th batch of this run is cut short."""

    def __init__(self, db: Any, die_at: int, puts: int) -> None:
        self._db = db
        self._batches_left = die_at
        self._puts = puts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def write_batch(self, **kwargs: Any) -> Any:
        batch = self._db.write_batch(**kwargs)
        self._batches_left -= 1
        return _BatchThatDies(batch, self._puts) if self._batches_left == 0 else batch


class _BatchThatDiesAtWrite:
    """A real WriteBatch whose ``write()`` ends the process before, during or after it."""

    def __init__(self, batch: Any, when: str, delay_us: int) -> None:
        self._batch = batch
        self._when = when
        self._delay_us = delay_us

    def put(self, key: bytes, value: bytes) -> None:
        self._batch.put(key, value)

    def delete(self, key: bytes) -> None:
        self._batch.delete(key)

    def write(self) -> None:
        if self._when == "before-write":
            os._exit(EXIT_CODE)
        if self._when == "during-write":
            threading.Timer(self._delay_us / 1e6, os._exit, (EXIT_CODE,)).start()
        self._batch.write()
        if self._when == "during-write":
            threading.Event().wait()  # the timer ends the process; nothing more is written
        os._exit(EXIT_CODE)


class _DbThatDiesAtWrite:
    """Wraps the plyvel DB so the ``die_at``-th block batch of this run dies at its write."""

    def __init__(self, db: Any, die_at: int, when: str, delay_us: int) -> None:
        self._db = db
        self._batches_left = die_at
        self._when = when
        self._delay_us = delay_us

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def write_batch(self, **kwargs: Any) -> Any:
        batch = self._db.write_batch(**kwargs)
        self._batches_left -= 1
        if self._batches_left:
            return batch
        return _BatchThatDiesAtWrite(batch, self._when, self._delay_us)


def run_chain(path: str, seed: int, mode: str, arg: int) -> int:
    from node.chain import Chain
    from tests.node.ledger_blocks import build_blocks, make_genesis

    blocks = build_blocks(seed, CHAIN_HEIGHT)
    store = LevelDBStore(path)
    chain = Chain(make_genesis(), store)
    if mode != "chain":
        when = mode.removeprefix("chain-")
        store._db = _DbThatDiesAtWrite(store._db, CHAIN_DIE_AT, when, arg)
    for ledger_block in blocks[chain.height :]:
        chain.commit(ledger_block.block, ledger_block.certificate)
        sys.stdout.write(f"{ledger_block.block.height}\n")
        sys.stdout.flush()
    store.close()
    return 0


def main(argv: list[str]) -> int:
    path, seed, mode = argv[1], int(argv[2]), argv[3]
    arg = int(argv[4]) if len(argv) > 4 else 0
    if mode.startswith("chain"):
        return run_chain(path, seed, mode, arg)
    store = LevelDBStore(path)
    if mode == "timer":
        threading.Timer(arg / 1000, os._exit, (EXIT_CODE,)).start()
    elif mode == "in-commit":
        store._db = _DbThatDies(store._db, die_at=5, puts=arg)
    first = store.latest_height() + 1
    for height in range(first, first + BLOCKS_PER_RUN_MAX):
        store.commit_block(make_block(seed, height))
        sys.stdout.write(f"{height}\n")
        sys.stdout.flush()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
