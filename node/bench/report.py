"""The printed report of ``depochain bench`` (cluster): throughput only beside its ceiling.

The committed tx/s of a shared machine says little alone (the same command gave 2,177 and
3,314 tx/s on different days); beside the ceiling measured in the same run
(:mod:`node.bench.ceiling`) it says how much of what the machine allows the cluster reaches.
So the figure is printed only with that ceiling and the fraction.
"""

from __future__ import annotations

from typing import Any

from node.bench import loop_report, stages


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def print_report(result: dict[str, Any]) -> None:
    latency = result["latency_s"]
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
    for line in format_throughput(result):
        print(line)
    print(
        f"latency submit->commit (accepted txs)  p50 {_ms(latency['p50'])}  "
        f"p95 {_ms(latency['p95'])}  p99 {_ms(latency['p99'])}"
    )
    print(f"blocks/s            {result['blocks_per_s']:.2f}")
    print(f"txs per block       {result['txs_per_block']:.0f}")
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in result["node_cpu_cores"].items())
    print(f"CPU per node (cores) {cpu}")
    for line in format_cpu_per_tx(result):
        print(line)
    print(f"load generator CPU  {result['load_cpu_cores']:.2f} cores (process CPU time / wall)")
    conservation = result["conservation"]
    verdict = "OK" if conservation["ok"] else "VIOLATED"
    print(
        f"conservation        {verdict}: sum of balances = supply for "
        f"{len(conservation['instruments'])} instruments; nodes agree: "
        f"{conservation['nodes_agree']}"
    )
    if "event_loop" in result:
        print(
            "\n".join(loop_report.format_phase("the load", result["event_loop"], "the last node"))
        )
    if "profile" in result:
        print("(with --profile, node 0 runs under cProfile: the throughput above is lower)")
        for line in stages.format_profile(result["profile"]):
            print(line)


def format_throughput(result: dict[str, Any]) -> list[str]:
    """Committed tx/s with its same-run ceiling and the fraction; nothing without a ceiling."""
    measured = result.get("ceiling")
    if not measured:
        return ["committed tx/s      (withheld: no ceiling was measured in this run)"]
    return [
        f"committed tx/s      {result['committed_tx_per_s']:.0f}",
        f"ceiling tx/s        {measured['tx_per_s']:.0f} ({measured['processes']} processes x "
        f"{measured['txs_per_process']} txs: {measured['work']}; no networking)",
        f"                    mean of {measured.get('before_tx_per_s', 0):.0f} just before and "
        f"{measured.get('after_tx_per_s', 0):.0f} just after the cluster's run",
        f"of the ceiling      {100 * result['ceiling_fraction']:.1f} %",
    ]


def compute_cpu_per_tx(result: dict[str, Any]) -> dict[str, float] | None:
    """A node's CPU per committed tx (mean of the nodes, over the load) beside a ceiling
    worker's: the ratio says how much a node spends beyond the unavoidable work, and unlike
    tx/s it barely moves when the shared machine's speed does."""
    measured, committed = result.get("ceiling"), result["committed"]
    cores = list(result["node_cpu_cores"].values())
    if not measured or committed <= 0 or not cores:
        return None
    node_us = 1e6 * sum(cores) / len(cores) * result["load_wall_s"] / committed
    ceiling_us = sum(measured["cpu_us_per_tx"]) / len(measured["cpu_us_per_tx"])
    return {"node_us": node_us, "ceiling_worker_us": ceiling_us, "ratio": node_us / ceiling_us}


def format_cpu_per_tx(result: dict[str, Any]) -> list[str]:
    figures = result.get("cpu_us_per_committed_tx")
    if not figures:
        return []
    return [
        f"CPU per committed tx  a node {figures['node_us']:.0f} µs (mean of nodes, over the "
        f"load), a ceiling worker {figures['ceiling_worker_us']:.0f} µs: "
        f"x{figures['ratio']:.2f}"
    ]
