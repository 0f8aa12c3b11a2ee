"""The machine's ceiling for the cluster bench's workload, measured in the same run.

What no node can avoid for a transaction it commits: decode it, verify its signatures (the
ledger's own ``verify_tx_signatures``), apply it (the ledger's ``execute_block``, 1,000-tx
blocks) and write the block (one synced LevelDB batch with its tx hashes, receipts and state
changes). ``run_ceiling`` starts one worker process per validator, each doing exactly that for
every transaction of the workload on its own store, with no networking, consensus, RPC or
mempool. The workers load their inputs first and start together on a signal; the ceiling is the
number of transactions over the wall time until the last worker is done: the most N nodes on
this machine could commit if everything else were free. The cluster's committed tx/s is only
meaningful as a fraction of this figure taken in the same run (the machine is shared and its
speed drifts between runs).

Worker: ``python -m node.bench.ceiling --genesis FILE --txs FILE --store DIR``; it prints
``ready``, waits for a line on stdin, works, then prints one JSON line of its figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack

from consensus.crypto import sha256
from consensus.ledger import (
    State,
    build_genesis_state,
    decode_tx,
    encode_receipts,
    execute_block,
    verify_tx_signatures,
)
from consensus.types import Hash32
from node.home import load_genesis
from node.storage import BlockWrite, LevelDBStore

BLOCK_TXS = 1_000
CEILING_TXS = 6_000
"""Transactions each worker processes, before and again after the cluster's run: a few seconds
of work each time on a 2-core machine."""
WORKER_TIMEOUT_S = 600.0
_CERTIFICATE_PLACEHOLDER = b"\x90"  # no consensus here: an empty msgpack list stands in


def process_block(
    state: State, raws: Sequence[bytes], time_ms: int
) -> tuple[State, BlockWrite, int]:
    """Decode, verify, apply one block of ``raws``; return (new state, its write, rejected)."""
    verdicts: dict[Hash32, bool] = {}
    hashes = []
    for raw in raws:
        tx_hash = sha256(raw)
        hashes.append(tx_hash)
        verdicts[tx_hash] = verify_tx_signatures(decode_tx(raw))
    height = state.height + 1
    result = execute_block(state, raws, height, time_ms, verdicts)
    write = BlockWrite(
        height=height,
        block=b"".join(raws),
        certificate=_CERTIFICATE_PLACEHOLDER,
        results=encode_receipts(result.receipts),
        tx_hashes=hashes,
        state_changes=result.state_changes,
        app_hash=result.app_hash,
    )
    rejected = sum(1 for receipt in result.receipts if not receipt.is_ok)
    return result.state, write, rejected


def run_worker(genesis_path: Path, txs_path: Path, store_path: Path) -> dict[str, Any]:
    """One ceiling worker: loads, reports ready, waits for the start line, works."""
    genesis = load_genesis(genesis_path)
    state = build_genesis_state(genesis.ledger)
    raws: list[bytes] = msgpack.unpackb(txs_path.read_bytes())
    store = LevelDBStore(store_path)
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        rejected = 0
        for start in range(0, len(raws), BLOCK_TXS):
            time_ms = genesis.ledger.genesis_time_ms + 1_000 * (state.height + 1)
            state, write, block_rejected = process_block(
                state, raws[start : start + BLOCK_TXS], time_ms
            )
            store.commit_block(write)
            rejected += block_rejected
        wall = time.perf_counter() - wall_start
        cpu = time.process_time() - cpu_start
    finally:
        store.close()
    return {"txs": len(raws), "rejected": rejected, "cpu_s": cpu, "wall_s": wall}


def run_ceiling(genesis_path: Path, raws: Sequence[bytes], processes: int) -> dict[str, Any]:
    """Start ``processes`` workers on ``raws`` together; the ceiling in tx/s and their figures."""
    with tempfile.TemporaryDirectory(prefix="depochain-ceiling-") as folder:
        txs_path = Path(folder) / "txs.msgpack"
        txs_path.write_bytes(msgpack.packb(list(raws), use_bin_type=True))
        workers = [
            _start_worker(genesis_path, txs_path, Path(folder) / f"store-{i}")
            for i in range(processes)
        ]
        try:
            for worker in workers:
                _expect_line(worker, "ready")
            started = time.perf_counter()
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            reports = [_read_report(worker) for worker in workers]
            wall = time.perf_counter() - started
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                worker.wait()
    return {
        "processes": processes,
        "txs_per_process": len(raws),
        "block_txs": BLOCK_TXS,
        "wall_s": wall,
        "tx_per_s": len(raws) / wall,
        "rejected": sum(r["rejected"] for r in reports),
        "cpu_us_per_tx": [1e6 * r["cpu_s"] / max(1, r["txs"]) for r in reports],
        "work": "decode + Ed25519 verify + execute + one synced LevelDB batch per block",
    }


def _start_worker(genesis: Path, txs: Path, store: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "node.bench.ceiling", "--genesis", str(genesis),
               "--txs", str(txs), "--store", str(store)]  # fmt: skip
    # Its own session, as each node has (node.localnet.run): with the kernel's autogroup
    # scheduling, processes of one session share one slice of a busy machine, so workers left
    # in the bench's session would get a fraction of what the nodes get.
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,
    )


def _expect_line(worker: subprocess.Popen[str], wanted: str) -> None:
    assert worker.stdout is not None
    line = worker.stdout.readline().strip()
    if line != wanted:
        raise RuntimeError(f"ceiling worker said {line!r}, expected {wanted!r}")


def _read_report(worker: subprocess.Popen[str]) -> dict[str, Any]:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if worker.wait(timeout=WORKER_TIMEOUT_S) != 0 or not line:
        raise RuntimeError(f"ceiling worker failed with exit code {worker.returncode}")
    report: dict[str, Any] = json.loads(line)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node.bench.ceiling")
    parser.add_argument("--genesis", required=True, type=Path)
    parser.add_argument("--txs", required=True, type=Path, help="msgpack list of raw txs")
    parser.add_argument("--store", required=True, type=Path, help="a fresh LevelDB folder")
    args = parser.parse_args(argv)
    print(json.dumps(run_worker(args.genesis, args.txs, args.store)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
