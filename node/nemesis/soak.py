"""``depochain nemesis --soak SECONDS``: the cluster under half the load for a long while, no
faults; what each node uses at the start and at the end (resident memory, open files, WAL and
LevelDB size on disk), then the same checks as after a fault."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from node.nemesis.cluster import NemesisCluster
from node.nemesis.run import Nemesis, Options, PhaseResult, describe_setup

WARM_UP_S = 5.0
TIMELINE_EVERY_S = 300.0
"""How often the resources are sampled between the start and the end (the growth's shape)."""


def folder_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sample_node(cluster: NemesisCluster, index: int) -> dict[str, Any]:
    process = cluster.nodes[index].process
    sample: dict[str, Any] = {"rss_mib": None, "open_files": None}
    if process is not None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
            rss_kib = next(int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:"))  # fmt: skip
            sample["rss_mib"] = round(rss_kib / 1024, 1)
            sample["open_files"] = len(os.listdir(f"/proc/{process.pid}/fd"))
        except (OSError, StopIteration, ValueError):
            pass
    data = cluster.data_path(index)
    sample["wal_mib"] = round(folder_bytes(data / "wal") / 2**20, 2)
    sample["leveldb_mib"] = round(folder_bytes(data / "chain.db") / 2**20, 2)
    return sample


def sample_all(nemesis: Nemesis) -> list[dict[str, Any]]:
    return [sample_node(nemesis.cluster, i) for i in range(len(nemesis.cluster.nodes))]


def hold_sampling(nemesis: Nemesis, seconds: float, timeline: list[dict[str, Any]]) -> None:
    """Hold the load for ``seconds``; every TIMELINE_EVERY_S append a sample of every node (with
    the minute and the txs acknowledged so far) and print a progress line."""
    began = time.monotonic()
    while (left := seconds - (time.monotonic() - began)) > 0:
        nemesis.hold(min(TIMELINE_EVERY_S, left))
        nemesis.scan.scan()  # keep the chain read as it grows: the final check reads the rest
        if time.monotonic() - began >= seconds:
            return
        nodes = sample_all(nemesis)
        minute = round((time.monotonic() - began) / 60, 1)
        timeline.append({"minute": minute, "acked": len(nemesis.load.snapshot()), "nodes": nodes})
        rss = ", ".join(str(n["rss_mib"]) for n in nodes)
        print(f"soak: minute {minute}: RSS MiB {rss}", file=sys.stderr, flush=True)


def run_soak(options: Options, seconds: float) -> dict[str, Any]:
    nemesis = Nemesis(options)
    print(describe_setup(nemesis) + f"; soak of {seconds:g} s", file=sys.stderr, flush=True)
    result = PhaseResult("soak")
    timeline: list[dict[str, Any]] = []
    try:
        nemesis.start()
        nemesis.hold(WARM_UP_S)
        started, height_start = sample_all(nemesis), nemesis.scan.txs_read_to
        began = time.monotonic()
        hold_sampling(nemesis, seconds, timeline)
        ended = sample_all(nemesis)
        elapsed = time.monotonic() - began
        result.recovery_s = 0.0  # no fault: nothing to recover from
        nemesis.check(result)
        result.unclean_exits = len(nemesis.cluster.reap_unexpected()) + len(
            nemesis.cluster.unclean_log_lines()
        )
    finally:
        nemesis.close()
    return {
        "seconds": round(elapsed, 1),
        "rate": options.rate,
        "acked": result.acked,
        "blocks_from": height_start,
        "blocks_to": nemesis.scan.txs_read_to,
        "lost": result.lost,
        "duplicated": result.duplicated,
        "forks": result.forks,
        "conservation_ok": result.conservation_ok,
        "unclean_exits": result.unclean_exits,
        "problems": result.problems,
        "nodes": [
            {"node": i, "start": s, "end": e}
            for i, (s, e) in enumerate(zip(started, ended, strict=True))
        ],
        "timeline": timeline,
        "ok": result.ok,
    }


def format_soak(report: dict[str, Any]) -> str:
    lines = [
        f"soak: {report['seconds']} s at {report['rate']:g} tx/s; {report['acked']} txs "
        f"acknowledged; lost {report['lost']}, duplicated {report['duplicated']}, forks "
        f"{report['forks']}, conservation {'OK' if report['conservation_ok'] else 'VIOLATED'}, "
        f"unclean exits {report['unclean_exits']}",
        "node  RSS MiB (start -> end)  open files  WAL MiB  LevelDB MiB",
    ]
    for entry in report["nodes"]:
        s, e = entry["start"], entry["end"]
        lines.append(
            f"{entry['node']:<4}  {s['rss_mib']} -> {e['rss_mib']:<14}  "
            f"{s['open_files']} -> {e['open_files']:<4}  {s['wal_mib']} -> {e['wal_mib']}  "
            f"{s['leveldb_mib']} -> {e['leveldb_mib']}"
        )
    for sample in report.get("timeline", []):
        rss = ", ".join(str(n["rss_mib"]) for n in sample["nodes"])
        lines.append(f"  minute {sample['minute']}: {sample['acked']} acked; RSS MiB {rss}")
    lines += [f"  problem: {p}" for p in report["problems"]]
    return "\n".join(lines)
