"""``depochain bench admission``: one real node's admission rate, RPC -> verified mempool.

A 4-validator localnet is generated, but only its first node is started: alone it cannot
commit, so everything it does with the load is admission (HTTP, JSON-RPC, decode, Ed25519,
the ledger checks, the mempool, the journal's group sync). Its mempool is opened wide for the
run (no backlog gate, room for every tx, a nonce window wider than the load) so that nothing
is refused. Client threads send pre-signed transfers as JSON-RPC batch arrays of
``broadcast_tx_async`` over keep-alive connections; the figure is admitted txs per second of
wall time, from the first POST to the last answer, and the node's mempool must hold them all.

Each run starts the node from a fresh copy of its home with ``[mempool].verify_threads`` set
as asked; the thread counts alternate run by run in the same sitting (``1,2,1,2``...), so a
busy machine weighs on all of them alike. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from node.bench.cluster import BenchArgs, find_base_port, write_plan
from node.bench.load import BATCH_TXS, RpcConnection, build_transfers, encode_batch, read_payers
from node.config import load_config
from node.config.loader import write_config
from node.home import CONFIG_FILE
from node.localnet import LocalnetInfo, prepare_localnet
from node.localnet.run import Cluster

CLIENTS = 4
"""Client connections sending batches at once (each waits for its answer before the next)."""
TXS_DEFAULT = 12_000
HEALTH_WAIT_S = 60.0
POOL_TXS_MAX = 1_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class AdmissionRun:
    threads: int
    accepted: int
    refused: int
    wall_s: float
    pooled: int
    """Transactions the node's mempool reported holding after the run."""
    cpu_s: float
    """The node process's CPU seconds over the run (all its threads)."""

    @property
    def tx_per_s(self) -> float:
        return self.accepted / self.wall_s if self.wall_s else 0.0


def run_admission_bench(
    threads: Sequence[int], rounds: int, txs: int, base_port: int
) -> list[AdmissionRun]:
    """``rounds`` runs of each thread count, alternating, on fresh copies of one node home."""
    with tempfile.TemporaryDirectory(prefix="depochain-bench-admission-") as folder:
        home = Path(folder) / "localnet"
        info, _ = prepare_localnet(home, validators=4, base_port=find_base_port(4, base_port))
        args = BenchArgs(4, duration_s=1.0, rate=None, json_output=False, base_port=base_port)
        plan = write_plan(info, args, Path(folder) / "plan.json")
        signed = build_transfers(plan["chain_id"], read_payers(plan), txs)
        window = txs // max(1, len(plan["payers"])) + 2
        bodies = [encode_batch(signed[i : i + BATCH_TXS]) for i in range(0, txs, BATCH_TXS)]
        pristine = info.nodes[0].home
        runs = []
        for index in range(rounds * len(threads)):
            count = threads[index % len(threads)]
            run_folder = Path(folder) / f"run-{index}"
            run_home = run_folder / pristine.name
            shutil.copytree(pristine, run_home)
            _open_mempool(run_home, count, window)
            runs.append(_run_once(info, run_home, count, bodies))
            shutil.rmtree(run_folder, ignore_errors=True)
        return runs


def _open_mempool(home: Path, threads: int, window: int) -> None:
    config = load_config(home / CONFIG_FILE)
    mempool = dataclasses.replace(
        config.mempool,
        verify_threads=threads,
        txs_max=POOL_TXS_MAX,
        submitter_txs_max=POOL_TXS_MAX,
        nonce_window=max(window, config.mempool.nonce_window),
        backlog_ms=0,
    )
    write_config(dataclasses.replace(config, mempool=mempool), home / CONFIG_FILE)


def _run_once(info: LocalnetInfo, home: Path, threads: int, bodies: list[bytes]) -> AdmissionRun:
    endpoint = dataclasses.replace(info.nodes[0], home=home)
    document = dict(info.document, nodes=info.document["nodes"][:1])
    alone = dataclasses.replace(info, home=home.parent, nodes=(endpoint,), document=document)
    cluster = Cluster(alone)
    try:
        cluster.start()
        cluster.wait_healthy(HEALTH_WAIT_S, threading.Event())
        pid = cluster.nodes[0].process.pid
        cpu_before = _cpu_seconds(pid)
        started = time.monotonic()
        accepted, refused = _send_all(endpoint.rpc_url, bodies)
        wall = time.monotonic() - started
        cpu = _cpu_seconds(pid) - cpu_before
        status = RpcConnection(endpoint.rpc_url).call("num_unconfirmed_txs", {})
    finally:
        cluster.stop()
    return AdmissionRun(threads, accepted, refused, wall, int(status["n_txs"]), cpu)


def _send_all(url: str, bodies: list[bytes]) -> tuple[int, int]:
    """Send every batch over ``CLIENTS`` connections; (txs accepted, txs refused)."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    counts = [0, 0]

    def client() -> None:
        connection = RpcConnection(url)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            answers = connection.post(body)
            ok = sum(1 for a in answers if a.get("result", {}).get("code") == 0)
            with lock:
                counts[0] += ok
                counts[1] += len(answers) - ok

    workers = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counts[0], counts[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(runs: Sequence[AdmissionRun]) -> dict[str, Any]:
    by_threads: dict[int, list[AdmissionRun]] = {}
    for run in runs:
        by_threads.setdefault(run.threads, []).append(run)
    return {
        "runs": [dataclasses.asdict(run) | {"tx_per_s": round(run.tx_per_s)} for run in runs],
        "median_tx_per_s": {
            threads: round(statistics.median(r.tx_per_s for r in group))
            for threads, group in by_threads.items()
        },
        "load_average": os.getloadavg(),
        "cpu_count": os.cpu_count(),
    }


def print_report(summary: dict[str, Any]) -> None:
    print("single node admission (RPC -> verified mempool): JSON-RPC batch arrays of "
          f"{BATCH_TXS} broadcast_tx_async, {CLIENTS} client connections")  # fmt: skip
    print(f"{'threads':>8} {'accepted':>9} {'refused':>8} {'pooled':>8} {'wall s':>7} "
          f"{'tx/s':>7} {'node CPU s':>10}")  # fmt: skip
    for run in summary["runs"]:
        print(f"{run['threads']:>8} {run['accepted']:>9} {run['refused']:>8} {run['pooled']:>8} "
              f"{run['wall_s']:>7.2f} {run['tx_per_s']:>7} {run['cpu_s']:>10.2f}")  # fmt: skip
    medians = ", ".join(f"{t} thread(s) {v} tx/s" for t, v in summary["median_tx_per_s"].items())
    print(f"median: {medians}")
    load = ", ".join(f"{x:.2f}" for x in summary["load_average"])
    print(f"load average {load} on {summary['cpu_count']} cores")


def main(threads: Sequence[int], rounds: int, txs: int, base_port: int, json_output: bool) -> int:
    summary = summarize(run_admission_bench(threads, rounds, txs, base_port))
    if json_output:
        print(json.dumps(summary, indent=2))
    else:
        print_report(summary)
    return 0
