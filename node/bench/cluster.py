"""``depochain bench cluster``: committed throughput and latency of a real local cluster.

Starts a fresh N-validator localnet in a temporary folder (separate node processes), runs the
load generator (``node.bench.load``) as another process at maximum rate or at a given rate,
then stops the nodes and checks conservation of money on every node's store: for each
instrument, Σ balances equals its recorded supply; and the nodes agree: at the height all of them
reached, and a few below it, every node holds the same block hash and the same app hash.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.blocks import Block
from consensus.ledger import State
from consensus.ledger.queries import get_balance_totals, get_instrument
from node.home import load_key
from node.localnet import LocalnetInfo, prepare_localnet
from node.localnet.run import Cluster
from node.storage import LevelDBStore

AGREEMENT_DEPTH = 5
"""Heights below the common one at which the nodes' blocks and app hashes are compared too."""
TX_COUNT_MAX = 400_000
PLANNED_RATE_MAX = 6_000
"""Transfers signed in advance per second of the run when no rate is given."""


@dataclass(frozen=True, slots=True)
class BenchArgs:
    validators: int
    duration_s: float
    rate: float | None
    json_output: bool
    base_port: int


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def write_plan(info: LocalnetInfo, args: BenchArgs, path: Path) -> None:
    document = info.document
    accounts = _load_accounts(info.home)
    payers = []
    by_bank: dict[str, list[str]] = {}
    for account_id, _, _ in accounts:
        by_bank.setdefault(account_id.split("/")[0], []).append(account_id)
    for account_id, instrument, seed in accounts:
        bank = account_id.split("/")[0]
        same_bank = [a for a in by_bank[bank] if a != account_id]
        payers.append(
            {"account": account_id, "instrument": instrument, "seed": seed, "payees": same_bank}
        )
    per_second = args.rate if args.rate is not None else PLANNED_RATE_MAX
    plan = {
        "chain_id": document["chain_id"],
        "urls": [node.rpc_url for node in info.nodes],
        "payers": payers,
        "tx_count": int(min(TX_COUNT_MAX, per_second * args.duration_s * 1.1 + 1000)),
        "duration_s": args.duration_s,
        "rate": args.rate,
        "start_height": 0,
    }
    path.write_text(json.dumps(plan))


def _load_accounts(home: Path) -> list[tuple[str, str, str]]:
    """(account id, instrument, key seed hex) of the localnet's funded demo accounts."""
    document = json.loads((home / "endpoints.json").read_text())
    out = []
    for entry in document.get("accounts", []):
        key = load_key(home / entry["key_file"])
        out.append((entry["id"], entry["instrument"], key.seed.hex()))
    return out


def check_conservation(info: LocalnetInfo) -> dict[str, Any]:
    """Open each (stopped) node's store: Σ balances per instrument = supply; and the nodes
    agree at the height all of them reached and below (see :func:`is_agreement`)."""
    report: dict[str, Any] = {"instruments": {}, "ok": True}
    for node in info.nodes:
        store = LevelDBStore(_store_path(node.home), create=False)
        try:
            state = State.from_kv(store.iter_state())
        finally:
            store.close()
        totals = get_balance_totals(state)
        for instrument_id, total in totals.items():
            instrument = get_instrument(state, instrument_id)
            supply = None if instrument is None else instrument.supply
            ok = supply == total
            report["instruments"][instrument_id] = {"balances": total, "supply": supply, "ok": ok}
            report["ok"] = report["ok"] and ok
    chains = _read_chains([_store_path(node.home) for node in info.nodes], AGREEMENT_DEPTH)
    common = min(chain.latest_height for chain in chains)
    report["common_height"] = common
    report["nodes_agree"] = is_agreement(chains, common, AGREEMENT_DEPTH)
    report["ok"] = report["ok"] and report["nodes_agree"]
    return report


@dataclass(frozen=True, slots=True)
class StoredChain:
    """One node's chain as its store holds it: height -> (block hash, app hash after it)."""

    latest_height: int
    hashes: Mapping[int, tuple[bytes, bytes]]


def is_agreement(chains: Sequence[StoredChain], common_height: int, depth: int) -> bool:
    """True when every chain holds the same block hash and app hash at ``common_height`` and
    the ``depth`` heights below it (a height a chain lacks counts as a difference). Heights
    above the common one cannot be compared: only some nodes have them."""
    for height in range(max(1, common_height - depth), common_height + 1):
        seen = {chain.hashes.get(height) for chain in chains}
        if len(seen) != 1 or None in seen:
            return False
    return True


def _store_path(home: Path) -> Path:
    return home / "data" / "chain.db"


def _read_chains(paths: Sequence[Path], depth: int) -> list[StoredChain]:
    """Each (stopped) node's hashes at the height all reached and ``depth`` heights below."""
    stores = []
    try:
        for path in paths:
            stores.append(LevelDBStore(path, create=False))
        latest = [store.latest_height() for store in stores]
        wanted = range(max(1, min(latest) - depth), min(latest) + 1)
        return [
            StoredChain(top, {h: hashes for h in wanted if (hashes := _read_hashes(store, h))})
            for store, top in zip(stores, latest, strict=True)
        ]
    finally:
        for store in stores:
            store.close()


def _read_hashes(store: LevelDBStore, height: int) -> tuple[bytes, bytes] | None:
    raw, app_hash = store.get_block(height), store.get_app_hash(height)
    if raw is None or app_hash is None:
        return None
    return Block.decode(raw).hash, app_hash


def find_base_port(validators: int, preferred: int) -> int:
    from node.localnet.run import is_port_free

    for base in range(preferred, 60000, 1000):
        ports = [base + 10 * i + offset for i in range(validators) for offset in (0, 1)]
        if all(is_port_free(port) for port in ports):
            return base
    raise RuntimeError("no free port range for the bench cluster")


def run_load(plan_path: Path, out_path: Path) -> None:
    command = [sys.executable, "-m", "node.bench.load", "--plan", str(plan_path), "--out",
               str(out_path)]  # fmt: skip
    subprocess.run(command, check=True)


def run_bench(args: BenchArgs) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="depochain-bench-") as folder:
        home = Path(folder) / "localnet"
        base = find_base_port(args.validators, args.base_port)
        info, _ = prepare_localnet(home, validators=args.validators, base_port=base)
        cluster = Cluster(info)
        try:
            cluster.start()
            cluster.wait_healthy(60.0, threading.Event())
            time.sleep(1.0)  # let the nodes connect and commit a first block
            plan_path, out_path = Path(folder) / "plan.json", Path(folder) / "load.json"
            write_plan(info, args, plan_path)
            pids = [node.process.pid for node in cluster.nodes]
            cpu_before = [_cpu_seconds(pid) for pid in pids]
            wall_before = time.monotonic()
            run_load(plan_path, out_path)
            wall = time.monotonic() - wall_before
            cpu = [
                (_cpu_seconds(pid) - before) / wall
                for pid, before in zip(pids, cpu_before, strict=True)
            ]
        finally:
            codes = cluster.stop()
        result: dict[str, Any] = json.loads(out_path.read_text())
        result["node_cpu_cores"] = {
            n.endpoint.moniker: round(c, 3) for n, c in zip(cluster.nodes, cpu, strict=True)
        }
        result["node_exit_codes"] = codes
        result["conservation"] = check_conservation(info)
        result["validators"] = args.validators
        result["rate_target"] = args.rate
        result["submission_mode"] = (
            "JSON-RPC batch arrays of broadcast_tx_async, 200 txs per POST, one sender per node"
        )
        return result


def print_report(result: dict[str, Any]) -> None:
    latency = result["latency_s"]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.0f} ms"

    target = result["rate_target"]
    print(f"validators          {result['validators']} (separate processes, 127.0.0.1)")
    print(
        f"load                {'max rate' if target is None else f'{target:g} tx/s target'}; "
        f"{result['submission_mode']}"
    )
    print(
        f"submitted           {result['submitted']} accepted in {result['submit_seconds']:.1f} s "
        f"({result['outcome']})"
    )
    print(f"committed           {result['committed']} of them")
    print(f"committed tx/s      {result['committed_tx_per_s']:.0f}")
    print(
        f"latency submit->commit  p50 {ms(latency['p50'])}  p95 {ms(latency['p95'])}  "
        f"p99 {ms(latency['p99'])}"
    )
    print(f"blocks/s            {result['blocks_per_s']:.2f}")
    print(f"txs per block       {result['txs_per_block']:.0f}")
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in result["node_cpu_cores"].items())
    print(f"CPU per node (cores) {cpu}")
    conservation = result["conservation"]
    verdict = "OK" if conservation["ok"] else "VIOLATED"
    print(
        f"conservation        {verdict}: sum of balances = supply for "
        f"{len(conservation['instruments'])} instruments; nodes agree: "
        f"{conservation['nodes_agree']}"
    )


def main(args: BenchArgs) -> int:
    result = run_bench(args)
    if args.json_output:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0 if result["conservation"]["ok"] else 1
