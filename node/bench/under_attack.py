"""``depochain bench --attack``: the cluster bench twice on one cluster, the second time with an
attacker running beside the load (``node.bench.attack``), and the two side by side.

Both runs offer the same load; the figures that matter are what the attack costs the legitimate
users: committed tx/s, submit-to-commit latency, the gap between blocks (header times) and how
long ``/health`` takes on the attacked node. Targets (reported, not asserted): under attack at
least 80 % of the unattacked throughput, block interval p99 at most twice the unattacked one,
``/health`` p99 at most 100 ms. Commits are timed on the last node (the attacker's reads go to
node 0), ``/health`` on node 0.

Everything runs on this machine, attacker included. In a deployment the attacker runs on other
hosts, so its own CPU is not the nodes'; here it is, and only in the second phase. By default
the attacker therefore runs at a lower CPU priority (``node.bench.client_priority``, nice
:data:`CLIENT_NICE` in a session group of its own): a saturated machine serves the nodes first.
What the nodes spend on its requests is still the nodes' and still counts, and the report says
how hard it pushed while the load was measured. The load generator and the ``/health`` probe
are the measuring instruments and keep their priority (niced, the load generator's commit
watcher and the probe it starts were starved: commits seen seconds late, probes missing).
With ``--attacker-same-priority`` the attacker competes with the nodes as an equal, so part of
any loss is then its own CPU.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from node.bench import cluster as bench
from node.bench import loop_report
from node.bench.attack import ATTACK_KINDS
from node.bench.client_priority import CLIENT_NICE
from node.bench.load import RpcConnection
from node.localnet import LocalnetInfo, prepare_localnet
from node.localnet.run import Cluster

MEMPOOL_DRAIN_S = 60.0
ATTACKER_READY_S = 180.0
THROUGHPUT_RATIO_MIN = 0.8
BLOCK_INTERVAL_RATIO_MAX = 2.0
HEALTH_P99_MAX_S = 0.1


def attacker_nice(args: bench.BenchArgs) -> int | None:
    """The attacker's nice value (None: left at the priority it starts with)."""
    return None if args.attacker_same_priority else CLIENT_NICE


def _rpc(info: LocalnetInfo, index: int = 0) -> RpcConnection:
    return RpcConnection(info.nodes[index].rpc_url)


def _get_height(info: LocalnetInfo) -> int:
    return int(_rpc(info).call("status", {})["sync_info"]["latest_block_height"])


def _get_last_nonces(info: LocalnetInfo, plan: dict[str, Any]) -> dict[str, int]:
    rpc, nonces = _rpc(info), {}
    for payer in plan["payers"]:
        answer = rpc.call("abci_query", {"path": f"/nonce/{payer['account']}"})
        nonces[payer["account"]] = json.loads(base64.b64decode(answer["response"]["value"]))[
            "nonce"
        ]
    return nonces


def _wait_mempools_empty(info: LocalnetInfo) -> None:
    """The next run's nonces follow the committed ones: nothing of this run may be pending."""
    deadline = time.monotonic() + MEMPOOL_DRAIN_S
    while time.monotonic() < deadline:
        sizes = [
            int(_rpc(info, i).call("num_unconfirmed_txs", {})["n_txs"])
            for i in range(len(info.nodes))
        ]
        if not any(sizes):
            return
        time.sleep(0.5)


def _run_phase(
    info: LocalnetInfo, args: bench.BenchArgs, folder: Path, name: str, probe_pid: int
) -> dict[str, Any]:
    plan_path, out_path = folder / f"plan-{name}.json", folder / f"load-{name}.json"
    bench.write_plan(info, args, plan_path)
    plan = json.loads(plan_path.read_text())
    plan["start_height"] = _get_height(info)
    plan["last_nonces"] = _get_last_nonces(info, plan)
    # Commits are timed on the last node, which the attacker's reads leave alone, so a slow RPC
    # on node 0 is not mistaken for slow consensus; /health is timed on node 0, the target.
    plan["watch_url"], plan["probe_url"] = info.nodes[-1].rpc_url, info.nodes[0].rpc_url
    plan["probe_pid"] = probe_pid  # the probe also reads node 0's wait for a CPU
    plan_path.write_text(json.dumps(plan))
    loop_before = _scrape_loop(info)
    bench.run_load(plan_path, out_path)
    result: dict[str, Any] = json.loads(out_path.read_text())
    loop_after = _scrape_loop(info)
    if loop_before and loop_after:
        result["event_loop"] = loop_report.compare(loop_before, loop_after)
    return result


def _scrape_loop(info: LocalnetInfo) -> dict[str, Any]:
    """Node 0's event-loop figures now (empty from a node that serves none, or on error)."""
    try:
        return loop_report.scrape(info.nodes[0].rpc_url)
    except (OSError, ValueError):
        return {}


def _run_attacked_phase(
    info: LocalnetInfo, args: bench.BenchArgs, folder: Path, kinds: frozenset[str], pid: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    plan_path = folder / "plan-attacker.json"
    plan = {
        "chain_id": info.document["chain_id"],
        "urls": [n.rpc_url for n in info.nodes],
        "kinds": sorted(kinds),
        "nice": attacker_nice(args),
    }
    plan_path.write_text(json.dumps(plan))
    ready, stop, out = folder / "attacker.ready", folder / "attacker.stop", folder / "attack.json"
    command = [sys.executable, "-m", "node.bench.attack", "--plan", str(plan_path),
               "--ready", str(ready), "--stop", str(stop), "--out", str(out)]  # fmt: skip
    attacker = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + ATTACKER_READY_S
        while not ready.exists():
            if attacker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the attacker did not start")
            time.sleep(0.2)
        load = _run_phase(info, args, folder, "attacked", pid)
    finally:
        stop.touch()
        attacker.wait(timeout=120)
    return load, json.loads(out.read_text())


def run_attack_bench(args: bench.BenchArgs, kinds: frozenset[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="depochain-bench-attack-") as name:
        folder = Path(name)
        base = bench.find_base_port(args.validators, args.base_port)
        info, _ = prepare_localnet(folder / "localnet", validators=args.validators, base_port=base)
        cluster = Cluster(info)
        try:
            cluster.start()
            cluster.wait_healthy(60.0, threading.Event())
            time.sleep(1.0)
            pid = cluster.nodes[0].process.pid
            calm = _run_phase(info, args, folder, "unattacked", pid)
            _wait_mempools_empty(info)
            attacked, attacker = _run_attacked_phase(info, args, folder, kinds, pid)
        finally:
            codes = cluster.stop()
        return {
            "validators": args.validators,
            "duration_s": args.duration_s,
            "rate_target": args.rate,
            "unattacked": calm,
            "attacked": attacked,
            "attacker": attacker,
            "attack_kinds": sorted(kinds),
            "attacker_nice": attacker_nice(args),
            "node_exit_codes": codes,
            "conservation": bench.check_conservation(info),
        }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


_ROWS = (
    ("latency p50", "latency_s", "p50"),
    ("latency p99", "latency_s", "p99"),
    ("block interval p50", "block_interval_s", "p50"),
    ("block interval p99", "block_interval_s", "p99"),
    ("/health p50 (node 0)", "health_latency_s", "p50"),
    ("/health p99 (node 0)", "health_latency_s", "p99"),
    ("  probe's CPU wait p99", "health_probe_cpu_wait_s", "p99"),
)


def print_attack_report(result: dict[str, Any]) -> None:
    calm, hit = result["unattacked"], result["attacked"]
    target = result["rate_target"]
    offered = "max rate" if target is None else f"{target:g} tx/s offered"
    print(
        f"validators {result['validators']}, {result['duration_s']:g} s of load per run, {offered}"
    )
    print(f"attack: {' + '.join(result['attack_kinds'])} (the attacker runs on this machine too)")
    print(_priority_line(result))
    print(f"{'':24}{'unattacked':>14}{'under attack':>14}")
    tx_rates = [f"{run['committed_tx_per_s']:.0f}" for run in (calm, hit)]
    print(f"{'committed tx/s':24}{tx_rates[0]:>14}{tx_rates[1]:>14}")
    for label, group, key in _ROWS:
        print(f"{label:24}{_ms(calm[group][key]):>14}{_ms(hit[group][key]):>14}")
    _print_targets(calm, hit)
    for name, run in (("unattacked", calm), ("under attack", hit)):
        print(_slow_health_line(name, run.get("health_slow", {})))
    for name, run in (("unattacked", calm), ("under attack", hit)):
        if "event_loop" in run:
            print("\n".join(loop_report.format_phase(name, run["event_loop"])))
    attacker = result["attacker"]
    skip = ("seconds", "error_samples", "priority", "timeline")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(attacker.items()) if k not in skip)
    print(f"attacker, whole run: {counts}")
    window = hit.get("window_monotonic_s")
    if window and attacker.get("timeline"):
        rates = rates_in_window(attacker["timeline"], window[0], window[1])
        shown = ", ".join(f"{k} {v:.0f}/s" for k, v in sorted(rates.items()))
        print(f"attacker while the load was measured: {shown}")
    for kind, sample in sorted(attacker.get("error_samples", {}).items()):
        print(f"  e.g. {kind}: {sample}")
    conservation = result["conservation"]
    verdict = "OK" if conservation["ok"] else "VIOLATED"
    print(f"conservation {verdict}; nodes agree: {conservation['nodes_agree']}")


def rates_in_window(
    timeline: list[tuple[float, dict[str, int]]], start: float, end: float
) -> dict[str, float]:
    """Per second, how much of each count the attacker added between ``start`` and ``end``
    (from its last snapshot at or before each; the attack's strength during the measured load,
    whatever it did before and after)."""

    def at(moment: float) -> dict[str, int]:
        seen: dict[str, int] = {}
        for stamp, counts in timeline:
            if stamp > moment:
                break
            seen = counts
        return seen

    first, last = at(start), at(end)
    seconds = max(end - start, 1e-9)
    return {key: (value - first.get(key, 0)) / seconds for key, value in last.items()}


def _priority_line(result: dict[str, Any]) -> str:
    """At which CPU priority the attacker ran: niced (the default) or as the nodes."""
    nice = result.get("attacker_nice")
    head = (
        "attacker at the nodes' priority (--attacker-same-priority)"
        if nice is None
        else f"attacker niced to {nice}, as if on another host (--attacker-same-priority to not)"
    )
    ran = result["attacker"].get("priority", "?")
    return f"{head}: it ran at {ran}; nodes, load generator and /health probe unchanged"


def _slow_health_line(name: str, slow: dict[str, Any]) -> str:
    """Where the time of the slow /health answers went: the node's loop or the probe waiting
    for a CPU (the machine's saturation) rather than running."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    return (
        f"/health answers > 100 ms, {name}: {slow.get('count', 0)} "
        f"({slow.get('seconds', 0.0):.2f} s); node 0's loop thread waiting for a CPU "
        f"{pct(slow.get('node_cpu_wait_share'))} of that time, the probe "
        f"{pct(slow.get('probe_cpu_wait_share'))}"
    )


def _print_targets(calm: dict[str, Any], hit: dict[str, Any]) -> None:
    ratio = hit["committed_tx_per_s"] / max(calm["committed_tx_per_s"], 1e-9)
    calm_gap, hit_gap = calm["block_interval_s"]["p99"], hit["block_interval_s"]["p99"]
    gap_ratio = None if not calm_gap or hit_gap is None else hit_gap / calm_gap
    health = hit["health_latency_s"]["p99"]
    ok = ratio >= THROUGHPUT_RATIO_MIN
    print(
        f"target: throughput >= {THROUGHPUT_RATIO_MIN:.0%} x unattacked: {ratio:.0%} {_verdict(ok)}"
    )
    ok = gap_ratio is not None and gap_ratio <= BLOCK_INTERVAL_RATIO_MAX
    gap_text = "-" if gap_ratio is None else f"{gap_ratio:.2f}x"
    print(f"target: block interval p99 <= {BLOCK_INTERVAL_RATIO_MAX:g}x: {gap_text} {_verdict(ok)}")
    ok = health is not None and health <= HEALTH_P99_MAX_S
    print(f"target: /health p99 <= {HEALTH_P99_MAX_S * 1000:.0f} ms: {_ms(health)} {_verdict(ok)}")


def main(args: bench.BenchArgs, kinds: frozenset[str] = frozenset(ATTACK_KINDS)) -> int:
    result = run_attack_bench(args, kinds)
    if args.json_output:
        print(json.dumps(result, indent=2))
    else:
        print_attack_report(result)
    return 0 if result["conservation"]["ok"] else 1
