"""State sync figures on a real localnet: time to join, block-sync catch-up rate, live rate.

``python -m tests.integration.statesync_bench --accounts 100000 --blocks 300`` builds a
4-validator localnet whose genesis holds ``--accounts`` extra accounts (each with a balance),
takes snapshots every ``--interval`` heights, runs it to ``--blocks`` (measuring the live
commit rate on the way), then starts an empty fifth node with state sync and prints: the time
from its start to the snapshot installed, to caught up, the blocks it block-synced after the
snapshot and at what rate, beside the live commit rate. Real processes, sockets and LevelDB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from node.config import NodeConfig
from node.home import GENESIS_FILE
from tests.integration.harness import Cluster
from tests.integration.statesync_joiner import Joiner


def enlarge_genesis(cluster: Cluster, accounts: int) -> None:
    """Add ``accounts`` accounts, each holding 1.00 BANKA:USD, to every copy of genesis."""
    path = cluster.home / GENESIS_FILE
    document = json.loads(path.read_text())
    ledger = document["ledger"]
    template = next(a for a in ledger["accounts"] if a["id"] == "BANKA/alice")
    for number in range(accounts):
        account_id = f"BANKA/u{number:07d}"
        ledger["accounts"].append({**template, "id": account_id})
        ledger["balances"].append({"account": account_id, "amount": 100, "instrument": "BANKA:USD"})
    raw = json.dumps(document, separators=(",", ":")).encode()  # genesis is capped at 16 MiB
    path.write_bytes(raw)
    for node in cluster.info.nodes:
        (node.home / GENESIS_FILE).write_bytes(raw)


def configure(interval: int, chunk_bytes: int) -> Callable[[NodeConfig], NodeConfig]:
    def change(config: NodeConfig) -> NodeConfig:
        statesync = dataclasses.replace(
            config.statesync, snapshot_interval=interval, chunk_bytes=chunk_bytes
        )
        consensus = dataclasses.replace(
            config.consensus, timeout_commit_ms=100, empty_block_interval_ms=0
        )
        return dataclasses.replace(config, statesync=statesync, consensus=consensus)

    return change


def wait_height(cluster: Cluster, height: int, timeout_s: float) -> float:
    cluster.wait_height(0, height, timeout_s=timeout_s)
    return time.monotonic()


def wait_rpc(joiner: Joiner) -> tuple[float, int]:
    """When the joiner's node (after its restore) first answers, and its height then."""
    while True:
        try:
            return time.monotonic(), joiner.height()
        except Exception:  # not up yet
            if joiner.process is not None and joiner.process.poll() is not None:
                raise RuntimeError(joiner.log_text()[-2000:]) from None
            time.sleep(0.2)


def wait_caught_up(joiner: Joiner, cluster: Cluster) -> tuple[float, int]:
    """When the joiner first reaches the cluster's height of that moment, and that height."""
    while True:
        ours, theirs = joiner.height(), cluster.height(0)
        if ours >= theirs:
            return time.monotonic(), ours
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", default="/tmp/statesync-bench")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=390)
    parser.add_argument("--interval", type=int, default=200)
    parser.add_argument("--chunk-bytes", type=int, default=1024 * 1024)
    args = parser.parse_args()
    home = Path(args.home)
    os.system(f"rm -rf {home}")
    cluster = Cluster(home / "localnet")
    joiner = Joiner.create(cluster, home / "joiner", discovery_time_s=3, restore_timeout_s=3600)
    built = time.monotonic()
    enlarge_genesis(cluster, args.accounts)
    cluster.edit_configs(configure(args.interval, args.chunk_bytes))
    cluster.add_peer(joiner.peer_address)
    figures: dict[str, float | int] = {"accounts": args.accounts}
    try:
        for index in range(4):
            cluster.start(index)
        for index in range(4):
            cluster.wait_healthy(index, timeout_s=600)
        cluster.wait_height(0, 2, timeout_s=600)
        figures["cluster_start_s"] = round(time.monotonic() - built, 1)
        first = time.monotonic()
        start_height = cluster.height(0)
        wait_height(cluster, args.blocks, 3600)
        live_s = time.monotonic() - first
        top = cluster.height(0)
        figures["live_blocks_per_s"] = round((top - start_height) / live_s, 2)
        figures["height_at_join"] = top
        joined_at = time.monotonic()
        joiner.start()
        rpc_at, rpc_height = wait_rpc(joiner)
        done_at, reached = wait_caught_up(joiner, cluster)
        figures["join_to_tip_s"] = round(done_at - joined_at, 1)
        report = re.search(r"installed the state of height (\d+) \((\d+) chunks\) in ([\d.]+) s",
                           joiner.log_text())  # fmt: skip
        assert report is not None, joiner.log_text()[-2000:]
        base, chunks, install_s = int(report[1]), int(report[2]), float(report[3])
        figures.update(snapshot_height=base, chunks=chunks, restore_s=install_s)
        figures["node_up_after_restore_s"] = round(rpc_at - joined_at - install_s, 1)
        figures["blocks_synced"] = reached - rpc_height
        rate = (reached - rpc_height) / max(done_at - rpc_at, 1e-3)
        figures["catch_up_blocks_per_s"] = round(rate, 2)
        figures["ratio_catch_up_to_live"] = round(rate / figures["live_blocks_per_s"], 2)
        ours = joiner.call("block", height=str(reached))["block"]["header"]["app_hash"]
        theirs = cluster.call(0, "block", height=str(reached))["block"]["header"]["app_hash"]
        figures["same_app_hash"] = int(ours == theirs)
    finally:
        joiner.stop()
        cluster.stop_all()
    figures["load_average_1m"] = round(os.getloadavg()[0], 1)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
