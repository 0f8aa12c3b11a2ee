"""``depochain bench state --accounts N``: the ledger with its state on disk, at N accounts
beside 1,000.

For each size it builds a store (``state_build``: real LevelDB in a temp dir), then starts a
fresh process that opens it the way a node does (``node.chain.Chain`` with the default
``[storage]`` bounds) and commits blocks of 1,000 signed transfers between random customers
(payer and payee drawn uniformly from all N, so reads hit disk as often as they would). That
process reports its RSS after opening the store and at the end (and its peak), and the commit
time per block (execute, tree update, one synced LevelDB batch; signature verdicts supplied as
the mempool does). Throughput is per CPU second of that process, wall time beside it (the
machine may be shared). A measuring tool: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from node.bench.state_build import (
    CHAIN_ID,
    accounts_of,
    bench_genesis,
    build_store,
    customer_id,
    next_block,
    pool_key,
)
from node.bench.world import BANKS
from node.chain import Chain
from node.state_store import StateLimits
from node.storage import LevelDBStore
from node.storage.options import LevelDBOptions

TXS_PER_BLOCK = 1_000
BLOCKS = 20
BASELINE_ACCOUNTS = 1_000


def read_mapped_tables() -> tuple[int, float]:
    """LevelDB table files mapped into this process now, and their resident MB."""
    resident: dict[str, int] = {}
    name = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):  # a mapping's header line
            name = fields[5] if len(fields) > 5 else ""
        elif fields and fields[0] == "Rss:" and name.endswith(".ldb"):
            resident[name] = resident.get(name, 0) + int(fields[1])
    return len(resident), round(sum(resident.values()) / 1024, 1)


def bounds_of(limits: StateLimits, options: LevelDBOptions) -> dict[str, int]:
    """The configured memory bounds a run used (the ``[storage]`` keys' defaults)."""
    return {
        "state_cache_bytes": limits.state_cache_bytes,
        "state_decoded_records": limits.state_decoded_records,
        "tree_cache_nodes": limits.tree_cache_nodes,
        "leveldb_max_open_files": options.max_open_files,
        "leveldb_max_file_bytes": options.max_file_bytes,
        "leveldb_mapped_bytes_max": options.mapped_bytes_max(),
        "leveldb_write_buffer_bytes": options.write_buffer_bytes,
        "leveldb_block_cache_bytes": options.block_cache_bytes,
    }


def read_rss_mb() -> dict[str, float]:
    """This process's resident set (Linux /proc), in MB: ``rss`` (now), ``peak``, and of the
    current one ``anon`` (heap) and ``file`` (file pages mapped, e.g. LevelDB's tables, which
    it reads through mmap: page cache the kernel may reclaim, yet counted in RSS)."""
    names = {"VmRSS": "rss", "VmHWM": "peak", "RssAnon": "anon", "RssFile": "file"}
    fields: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in names:
            fields[names[name]] = round(int(value.split()[0]) / 1024, 1)
    return fields


class Transfers:
    """Signed transfers between customers drawn uniformly from every account of a bank."""

    def __init__(self, accounts: int, seed: int) -> None:
        self.counts = {bank: accounts_of(bank, accounts) for bank in BANKS}
        self.rng = random.Random(seed)
        self.nonces: dict[str, int] = {}
        self.serial = 0

    def make(self, count: int) -> tuple[bytes, ...]:
        return tuple(self._one() for _ in range(count))

    def _one(self) -> bytes:
        bank = BANKS[self.serial % len(BANKS)]
        payer_index = self.rng.randrange(self.counts[bank])
        payee_index = (payer_index + 1 + self.rng.randrange(self.counts[bank] - 1)) % self.counts[
            bank
        ]
        payer = customer_id(bank, payer_index)
        nonce = self.nonces[payer] = self.nonces.get(payer, 0) + 1
        self.serial += 1
        unsigned = UnsignedTx(
            chain_id=CHAIN_ID,  # type: ignore[arg-type]
            submitter=payer,
            nonce=nonce,
            idempotency_key=f"b{self.serial}",
            valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**9),
            memo="",
            body=Transfer(customer_id(bank, payee_index), f"{bank}:USD", 1 + self.serial % 97),
        )
        return sign_tx(unsigned, [pool_key(payer_index)]).encode()


def run_node(path: Path, accounts: int, blocks: int) -> dict[str, Any]:
    """Open the store as a node does, commit ``blocks`` blocks of transfers, report."""
    start = time.perf_counter()
    limits, options = StateLimits(), LevelDBOptions()
    store = LevelDBStore(path, create=False, options=options)
    try:
        chain = Chain(bench_genesis(), store, limits=limits)
        open_s = time.perf_counter() - start
        rss_open = read_rss_mb()["rss"]
        transfers = Transfers(accounts, seed=accounts)
        cpu_s, wall_s, rejected = [], [], 0
        for _ in range(blocks):
            block, certificate = next_block(chain, transfers.make(TXS_PER_BLOCK))
            cpu, wall = time.process_time(), time.perf_counter()
            committed = chain.commit(block, certificate, lambda _tx_hash: True)
            cpu_s.append(time.process_time() - cpu)
            wall_s.append(time.perf_counter() - wall)
            rejected += sum(1 for receipt in committed.receipts if not receipt.is_ok)
        rss = read_rss_mb()
        tables, tables_mb = read_mapped_tables()
        txs = blocks * TXS_PER_BLOCK
        return {
            "bounds": bounds_of(limits, options),
            "held": {
                "tree_cache_nodes": len(chain.node_cache),
                "state_cache_bytes": chain.state_cache.size,
                "state_decoded_records": max(map(len, chain.state.memo.values()), default=0),
                "leveldb_mapped_tables": tables,
            },
            "rss_end_tables_mb": tables_mb,
            "accounts": accounts,
            "open_s": round(open_s, 2),
            "rss_open_mb": rss_open,
            "rss_end_mb": rss["rss"],
            "rss_end_anon_mb": rss["anon"],
            "rss_end_file_mb": rss["file"],
            "rss_peak_mb": rss["peak"],
            "blocks": blocks,
            "rejected": rejected,
            "commit_ms_median": round(1000 * statistics.median(wall_s), 1),
            "commit_cpu_ms_median": round(1000 * statistics.median(cpu_s), 1),
            "tx_per_s": round(txs / sum(cpu_s)),
            "tx_per_s_wall": round(txs / sum(wall_s)),
        }
    finally:
        store.close()


def measure(
    accounts: int, blocks: int, json_output: bool, workdir: Path | None = None
) -> dict[str, Any]:
    """Run a node process over a store of ``accounts``: built in a temp dir, or with
    ``workdir`` built there once and copied for each run (a run commits blocks into it)."""
    with tempfile.TemporaryDirectory(prefix="depochain-bench-state-") as tmp:
        path = Path(tmp) / "db"
        build_s = None
        if workdir is None:
            build_s = _build(path, accounts, json_output)
        else:
            kept = workdir / f"state-{accounts}"
            if not kept.exists():
                building = workdir / f"state-{accounts}.building"
                shutil.rmtree(building, ignore_errors=True)
                build_s = _build(building, accounts, json_output)
                building.rename(kept)
            _say(json_output, f"copying the state of {accounts:,} accounts from {kept}")
            shutil.copytree(kept, path)
        _say(json_output, f"committing {blocks} blocks of transfers at {accounts:,} accounts")
        command = [sys.executable, "-m", "node.bench.state", "--child", str(path)]
        command += ["--accounts", str(accounts), "--blocks", str(blocks)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result: dict[str, Any] = json.loads(output)
        result["build_s"] = "reused" if build_s is None else round(build_s, 1)
        result["store_mb"] = round(sum(f.stat().st_size for f in path.iterdir()) / 2**20)
        return result


def _build(path: Path, accounts: int, json_output: bool) -> float:
    _say(json_output, f"building a state of {accounts:,} accounts in LevelDB...")
    start = time.perf_counter()
    build_store(path, accounts, lambda text: _say(json_output, f"  {text}"))
    build_s = time.perf_counter() - start
    _say(json_output, f"  built in {build_s:.1f} s")
    return build_s


def run_state_bench(
    accounts: int, blocks: int, json_output: bool, workdir: Path | None = None
) -> int:
    small = measure(BASELINE_ACCOUNTS, blocks, json_output, workdir)
    large = measure(accounts, blocks, json_output, workdir)
    ratio = _ratio(large, small)
    report: dict[str, Any] = {"small": small, "large": large, "tx_per_s_ratio": ratio}
    if json_output:
        print(json.dumps(report, indent=2))
        return 0
    rows = [
        ("build (s)", "build_s"),
        ("store on disk (MB)", "store_mb"),
        ("open store (s)", "open_s"),
        ("RSS after open (MB)", "rss_open_mb"),
        ("RSS at end (MB)", "rss_end_mb"),
        ("  of which anonymous (heap) (MB)", "rss_end_anon_mb"),
        ("  of which mapped files (MB)", "rss_end_file_mb"),
        ("    of which LevelDB tables (MB)", "rss_end_tables_mb"),
        ("RSS peak (MB)", "rss_peak_mb"),
        ("commit / 1,000-tx block, median (ms)", "commit_ms_median"),
        ("  of which CPU (ms)", "commit_cpu_ms_median"),
        ("ledger tx/s (CPU time)", "tx_per_s"),
        ("ledger tx/s (wall)", "tx_per_s_wall"),
        ("rejected txs", "rejected"),
    ]
    print(f"{'':<38}{small['accounts']:>14,} accounts{large['accounts']:>14,} accounts")
    for label, name in rows:
        print(f"{label:<38}{_cell(small[name])}{_cell(large[name])}")
    print(f"tx/s with {accounts:,} accounts = {100 * ratio:.0f} % of 1,000")
    _print_bounds(large)
    return 0


def _print_bounds(large: dict[str, Any]) -> None:
    """The configured bounds, and what the run at the large size held of each."""
    print(f"memory bounds ([storage] defaults), and what the {large['accounts']:,} run held:")
    held = dict(large["held"])
    held["leveldb_max_open_files"] = held.pop("leveldb_mapped_tables")
    for name, bound in large["bounds"].items():
        line = f"  {name:<30}{bound:>14,}"
        if name in held:
            line += f"   held {held[name]:>12,}"
        print(line)


def _cell(value: Any) -> str:
    return f"{value:>23,}" if isinstance(value, int | float) else f"{value:>23}"


def _ratio(large: dict[str, Any], small: dict[str, Any]) -> float:
    return round(float(large["tx_per_s"]) / float(small["tx_per_s"]), 3)


def _say(json_output: bool, text: str) -> None:
    if not json_output:
        print(text, flush=True)


def _child_main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=Path, required=True)
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--blocks", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(run_node(args.child, args.accounts, args.blocks)))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
