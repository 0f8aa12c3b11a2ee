"""Storage micro-benchmark: how many blocks (and txs) per second ``commit_block`` persists.

Synthetic blocks with realistic sizes: ~250-byte txs, ~3 ledger writes of ~60 bytes per tx over
a pool of accounts (so balances are overwritten, as in a real ledger), ~30-byte receipts per tx,
a 4-validator certificate. Only ``commit_block`` is timed; building the blocks is not.

Run: ``python -m node.bench.storage --blocks 100 --txs 1000`` (prints JSON).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from consensus import codec
from node.storage.base import BlockWrite
from node.storage.leveldb import LevelDBStore

TX_BYTES = 250
STATE_CHANGES_PER_TX = 3
STATE_VALUE_BYTES = 60
ACCOUNTS = 20_000
RECEIPT_BYTES = 30
VALIDATORS = 4


def measure_block_commits(path: str | Path, blocks: int, txs_per_block: int) -> dict[str, Any]:
    """Commit ``blocks`` synthetic blocks of ``txs_per_block`` txs to a LevelDB store at ``path``.

    Returns counts, total commit seconds, ``blocks_per_s``, ``txs_per_s``, p50/p99 commit
    latency in ms, average bytes written per block and the database size on disk.
    """
    rng = random.Random(1)
    commit_seconds: list[float] = []
    bytes_per_block: list[int] = []
    with LevelDBStore(path) as store:
        first_height = store.latest_height() + 1
        for height in range(first_height, first_height + blocks):
            write = make_synthetic_block(rng, height, txs_per_block)
            bytes_per_block.append(_count_bytes(write))
            started = time.perf_counter()
            store.commit_block(write)
            commit_seconds.append(time.perf_counter() - started)
    total_s = sum(commit_seconds)
    return {
        "blocks": blocks,
        "txs_per_block": txs_per_block,
        "txs": blocks * txs_per_block,
        "commit_seconds": round(total_s, 4),
        "blocks_per_s": round(blocks / total_s, 2) if total_s else None,
        "txs_per_s": round(blocks * txs_per_block / total_s, 1) if total_s else None,
        "commit_ms_p50": _percentile_ms(commit_seconds, 50),
        "commit_ms_p99": _percentile_ms(commit_seconds, 99),
        "bytes_per_block": int(statistics.fmean(bytes_per_block)) if bytes_per_block else 0,
        "disk_bytes": _disk_bytes(Path(path)),
    }


def make_synthetic_block(rng: random.Random, height: int, txs_per_block: int) -> BlockWrite:
    """A block whose parts have the sizes a busy deposit-token network would produce."""
    txs = [
        height.to_bytes(8, "big") + i.to_bytes(4, "big") + rng.randbytes(TX_BYTES - 12)
        for i in range(txs_per_block)
    ]
    state_changes: dict[bytes, bytes | None] = {}
    for _ in range(txs_per_block * STATE_CHANGES_PER_TX):
        account = rng.randrange(ACCOUNTS)
        key = b"bal/" + f"BANK{account % 8}:USD/acct-{account:08d}".encode()
        state_changes[key] = rng.randbytes(STATE_VALUE_BYTES)
    header = [height, rng.randbytes(32), rng.randbytes(32), 1_700_000_000_000 + height]
    certificate = [[v, rng.randbytes(64), 1_700_000_000_000 + height] for v in range(VALIDATORS)]
    receipts = [[0, rng.randbytes(RECEIPT_BYTES - 2)] for _ in range(txs_per_block)]
    return BlockWrite(
        height=height,
        block=codec.encode([header, txs]),
        certificate=codec.encode([height, 0, rng.randbytes(32), certificate]),
        results=codec.encode(receipts),
        tx_hashes=[hashlib.sha256(tx).digest() for tx in txs],
        state_changes=state_changes,
        app_hash=rng.randbytes(32),
    )


def _count_bytes(write: BlockWrite) -> int:
    state = sum(len(k) + len(v or b"") for k, v in write.state_changes.items())
    index = len(write.tx_hashes) * (33 + 12)
    return len(write.block) + len(write.certificate) + len(write.results) + state + index


def _percentile_ms(samples: list[float], percent: int) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    rank = min(len(ordered) - 1, (len(ordered) * percent) // 100)
    return round(ordered[rank] * 1000, 3)


def _disk_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--txs", type=int, default=1000, help="txs per block")
    parser.add_argument("--path", help="LevelDB directory (default: a fresh temp dir)")
    args = parser.parse_args(argv)
    if args.path:
        result = measure_block_commits(args.path, args.blocks, args.txs)
    else:
        with tempfile.TemporaryDirectory(prefix="depochain-bench-") as tmp:
            result = measure_block_commits(os.path.join(tmp, "db"), args.blocks, args.txs)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
