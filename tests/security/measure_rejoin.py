"""Measure how long a node cut off from its peers takes to rejoin once the link heals.

A manual measurement, not a test (it needs root, nft and setpriv): a 4-node localnet where
node 3 runs with group id 4242 (user id kept), and an nft table refuses (TCP reset) every packet
to or from node 3's P2P port and every packet node 3's own sockets send to the other nodes' P2P
ports, for ISOLATE_S seconds; then the table is deleted (the heal) and the script polls node 3
until it has all 3 peers again and until its height reaches node 0's. One JSON line per round.

    .venv/bin/python -m tests.security.measure_rejoin 45 3

Set PG_DIR to keep the cluster folder (and the nodes' logs) afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.integration import node_process
from tests.integration.harness import Cluster
from tests.integration.node_process import rpc_call

GID = 4242
TABLE = "depochain_measure_rejoin"


def nft(script: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=script.encode(), check=True)


def isolate(p3: int, others: list[int]) -> None:
    ports = ", ".join(str(p) for p in others)
    nft(f"""table inet {TABLE} {{
  chain out {{
    type filter hook output priority 0; policy accept;
    tcp dport {p3} reject with tcp reset
    tcp sport {p3} reject with tcp reset
    meta skgid {GID} tcp dport {{ {ports} }} reject with tcp reset
  }}
}}""")


def heal() -> None:
    subprocess.run(
        ["nft", "delete", "table", "inet", TABLE], check=False, stderr=subprocess.DEVNULL
    )


def n_peers(cluster: Cluster, i: int) -> int:
    return int(rpc_call(cluster.url(i), "net_info")["n_peers"])


def start_isolable(cluster: Cluster, index: int) -> None:
    """Start node ``index`` with group id ``GID``, which the nft rules match."""
    home = cluster.node(index).home
    prefix = ["setpriv", f"--regid={GID}", "--clear-groups", "--"]
    cluster.processes[index] = node_process.start_node(home, home / "node.log", prefix=prefix)


def measure_heal(cluster: Cluster) -> tuple[float | None, float | None]:
    """Heal, then seconds until node 3 has all its peers, and until it is at node 0's height."""
    heal()
    t0 = time.monotonic()
    t_peers = t_tip = None
    while time.monotonic() - t0 < 60 and (t_peers is None or t_tip is None):
        with contextlib.suppress(Exception):
            if t_peers is None and n_peers(cluster, 3) >= 3:
                t_peers = time.monotonic() - t0
            if t_tip is None and cluster.height(3) >= cluster.height(0):
                t_tip = time.monotonic() - t0
        time.sleep(0.05)
    return t_peers, t_tip


def main() -> None:
    isolate_s, rounds = float(sys.argv[1]), int(sys.argv[2])
    cluster = Cluster(Path(os.environ.get("PG_DIR") or tempfile.mkdtemp()) / "localnet")
    for i in range(3):
        cluster.start(i)
    start_isolable(cluster, 3)
    try:
        for i in range(4):
            cluster.wait_healthy(i)
        cluster.wait_height(3, 3)
        others = [cluster.node(i).p2p_port for i in range(3)]
        for round_ in range(rounds):
            isolate(cluster.node(3).p2p_port, others)
            time.sleep(isolate_s)
            peers_at_heal = n_peers(cluster, 3)
            t_peers, t_tip = measure_heal(cluster)
            result: dict[str, float | None] = {"round": round_, "isolated_s": isolate_s}
            result["peers_at_heal"] = peers_at_heal
            result |= {"all_peers_after_s": t_peers, "at_tip_after_s": t_tip}
            print(json.dumps(result), flush=True)
            time.sleep(3)
    finally:
        heal()
        cluster.stop_all()


if __name__ == "__main__":
    main()
