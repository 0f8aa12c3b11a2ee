"""``depochain bench cluster``: committed throughput and latency of a real local cluster.

Starts a fresh N-validator localnet in a temporary folder (separate node processes), runs the
load generator (``node.bench.load``) as another process at maximum rate or at a given rate,
then stops the nodes. Just before and just after, it measures the machine's ceiling for the
same workload (``node.bench.ceiling``); the committed tx/s is reported only as a fraction of
it. With ``--profile`` node 0 runs under cProfile (``node.bench.stages``). It checks
conservation of money on every node's store: for each
instrument, Σ balances equals its recorded supply; and the nodes agree: at the height all of them
reached, and a few below it, every node holds the same block hash and the same app hash.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import base64
import http.client
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
from node.bench import ceiling, loop_report, report, stages
from node.bench.load import RpcConnection, build_transfers, read_payers
from node.home import GENESIS_FILE, load_key
from node.localnet import LocalnetInfo, prepare_localnet
from node.localnet.run import Cluster, NodeCommand, default_node_command
from node.storage import LevelDBStore

AGREEMENT_DEPTH = 5
"""Heights below the common one at which the nodes' blocks and app hashes are compared too."""
TX_COUNT_MAX = 400_000
PLANNED_RATE_MAX = 6_000
"""Transfers signed in advance per second of the run when no rate is given..."""
CEILING_HEADROOM = 2.0
"""... or this many times the same-run ceiling if that is fewer."""


@dataclass(frozen=True, slots=True)
class BenchArgs:
    validators: int
    duration_s: float
    rate: float | None
    json_output: bool
    base_port: int
    profile: bool = False
    profile_out: Path | None = None
    """Where to keep node 0's cProfile stats (with ``profile``; default: discarded)."""
    ceiling_txs: int = ceiling.CEILING_TXS
    """Transactions each ceiling worker processes (each time)."""
    attacker_same_priority: bool = False
    """``--attack``: leave the attacker at the nodes' CPU priority (default: niced)."""


PROFILE_ENV = "DEPOCHAIN_PROFILE"
CATCH_UP_WAIT_S = 120.0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def write_plan(
    info: LocalnetInfo, args: BenchArgs, path: Path, ceiling_tx_per_s: float | None = None
) -> dict[str, Any]:
    """The load generator's plan: payers with their keys, and how many transfers to sign: for
    the duration at the given rate or, at max rate, at a few times the ceiling (no cluster
    commits faster than the ceiling; signing many more would only cost time)."""
    document = info.document
    accounts = _load_accounts(info.home)
    payers = []
    by_bank: dict[str, list[str]] = {}
    for account_id, _, _ in accounts:
        by_bank.setdefault(account_id.split("/")[0], []).append(account_id)
    for account_id, instrument, seed in accounts:
        bank = account_id.split("/")[0]
        same_bank = [a for a in by_bank[bank] if a != account_id]
        if not same_bank:
            continue  # alone at its bank (one validator: the CB's one settlement account)
        payers.append(
            {"account": account_id, "instrument": instrument, "seed": seed, "payees": same_bank}
        )
    per_second = args.rate if args.rate is not None else PLANNED_RATE_MAX
    if args.rate is None and ceiling_tx_per_s is not None:
        per_second = min(per_second, CEILING_HEADROOM * ceiling_tx_per_s)
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
    return plan


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
        try:  # streamed from the store: the state is never all in memory
            state = State((), base=store.state_snapshot())
            totals = get_balance_totals(state)
            supplies = {iid: get_instrument(state, iid) for iid in totals}
        finally:
            store.close()
        for instrument_id, total in totals.items():
            instrument = supplies[instrument_id]
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


def _node_command(profile_path: Path | None, profiled_home: Path) -> NodeCommand:
    """The usual node command; with ``profile_path``, the node in ``profiled_home`` runs under
    cProfile (node.app's DEPOCHAIN_PROFILE) and the others as usual."""

    def command(home: Path) -> list[str]:
        argv = default_node_command(home)
        if profile_path is None or home != profiled_home:
            return argv
        return ["env", f"{PROFILE_ENV}={profile_path}", f"{PROFILE_ENV}_TIMER=cpu", *argv]

    return command


def run_bench(args: BenchArgs) -> dict[str, Any]:
    """Ceiling first (the machine as it is now), then the cluster under load, then checks."""
    with tempfile.TemporaryDirectory(prefix="depochain-bench-") as folder:
        home = Path(folder) / "localnet"
        base = find_base_port(args.validators, args.base_port)
        info, _ = prepare_localnet(home, validators=args.validators, base_port=base)
        plan_path = Path(folder) / "plan.json"
        first_plan = write_plan(info, args, plan_path)
        before = measure_ceiling(info, first_plan, args.validators, args.ceiling_txs)
        plan = write_plan(info, args, plan_path, before["tx_per_s"])
        profile_path = args.profile_out or Path(folder) / "node0.prof" if args.profile else None
        result = _run_cluster(info, plan_path, profile_path)
        after = measure_ceiling(info, plan, args.validators, args.ceiling_txs)
        result["conservation"] = check_conservation(info)
        result["validators"] = args.validators
        result["rate_target"] = args.rate
        result["planned_txs"] = plan["tx_count"]
        result["submission_mode"] = (
            "JSON-RPC batch arrays of broadcast_tx_async, 200 txs per POST, one sender per node"
        )
        if profile_path is not None:
            result["profile"] = _read_profile(profile_path, info, result)
        result["ceiling"] = combine_ceilings(before, after)
        result["ceiling_fraction"] = result["committed_tx_per_s"] / result["ceiling"]["tx_per_s"]
        result["cpu_us_per_committed_tx"] = report.compute_cpu_per_tx(result)
        return result


def combine_ceilings(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """One ceiling from the runs just before and just after the cluster's: the machine is
    shared, so the mean of the two is the fairer bound for what happened between them."""
    return {
        **before,
        "tx_per_s": (before["tx_per_s"] + after["tx_per_s"]) / 2,
        "before_tx_per_s": before["tx_per_s"],
        "after_tx_per_s": after["tx_per_s"],
        "wall_s": before["wall_s"] + after["wall_s"],
        "rejected": before["rejected"] + after["rejected"],
        "cpu_us_per_tx": before["cpu_us_per_tx"] + after["cpu_us_per_tx"],
    }


def _run_cluster(info: LocalnetInfo, plan_path: Path, profile_path: Path | None) -> dict[str, Any]:
    """Start the nodes, run the load generator on ``plan_path``, stop the nodes; the load
    generator's result with each node's CPU (cores) over the load and the nodes' exit codes."""
    cluster = Cluster(info, _node_command(profile_path, info.nodes[0].home))
    out_path = plan_path.with_name("load.json")
    try:
        cluster.start()
        cluster.wait_healthy(60.0, threading.Event())
        time.sleep(1.0)  # let the nodes connect and commit a first block
        pids = [node.process.pid for node in cluster.nodes]
        cpu_before = [_cpu_seconds(pid) for pid in pids]
        wall_before = time.monotonic()
        loop_before = _scrape_loop(info.nodes[-1].rpc_url)
        run_load(plan_path, out_path)
        wall = time.monotonic() - wall_before
        loop_after = _scrape_loop(info.nodes[-1].rpc_url)
        cpu = [
            (_cpu_seconds(pid) - before) / wall
            for pid, before in zip(pids, cpu_before, strict=True)
        ]
        if profile_path is not None:
            _wait_caught_up(info)
    finally:
        codes = cluster.stop()
    result: dict[str, Any] = json.loads(out_path.read_text())
    monikers = [n.endpoint.moniker for n in cluster.nodes]
    result["node_cpu_cores"] = {m: round(c, 3) for m, c in zip(monikers, cpu, strict=True)}
    result["load_wall_s"] = wall
    result["node_exit_codes"] = codes
    if loop_before and loop_after:  # the last node: node 0 may run under the profiler
        result["event_loop"] = loop_report.compare(loop_before, loop_after)
    return result


def _scrape_loop(rpc_url: str) -> dict[str, Any]:
    try:
        return loop_report.scrape(rpc_url)
    except (OSError, ValueError):
        return {}


def _wait_caught_up(info: LocalnetInfo, deadline_s: float = CATCH_UP_WAIT_S) -> None:
    """Until node 0 (slowed by the profiler, so the others may have gone on without it) has
    every block the others have: its profile then covers every committed transaction."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        heights = [_rpc_height(node.rpc_url) for node in info.nodes]
        if heights[0] >= max(heights):
            return
        time.sleep(0.5)


def _rpc_height(url: str) -> int:
    try:
        status = RpcConnection(url).call("status", {})
        return int(status["sync_info"]["latest_block_height"])
    except (OSError, RuntimeError, ValueError, KeyError, http.client.HTTPException):
        return -1


def measure_ceiling(
    info: LocalnetInfo, plan: dict[str, Any], processes: int, count: int = ceiling.CEILING_TXS
) -> dict[str, Any]:
    """The same-run ceiling (see node.bench.ceiling) on ``count`` transfers built as the load
    generator builds them, from the same payers to the same payees."""
    transfers = build_transfers(plan["chain_id"], read_payers(plan), min(count, plan["tx_count"]))
    raws = [base64.b64decode(tx) for _, tx in transfers]
    return ceiling.run_ceiling(info.nodes[0].home / GENESIS_FILE, raws, processes)


def _read_profile(path: Path, info: LocalnetInfo, result: dict[str, Any]) -> dict[str, Any]:
    """Per-stage CPU of the profiled node per tx it committed (see node.bench.stages)."""
    store = LevelDBStore(_store_path(info.nodes[0].home), create=False)
    try:
        committed = stages.count_committed_txs(store)
    finally:
        store.close()
    peers = [
        cores * result["load_wall_s"] * 1e6 / max(1, committed)
        for moniker, cores in result["node_cpu_cores"].items()
        if moniker != info.nodes[0].moniker
    ]
    return stages.summarize_profile(path, committed, peers)


def main(args: BenchArgs) -> int:
    result = run_bench(args)
    if args.json_output:
        print(json.dumps(result, indent=2))
    else:
        report.print_report(result)
    return 0 if result["conservation"]["ok"] else 1
