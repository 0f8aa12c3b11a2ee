"""The event loop of one node during a bench phase, read from its ``/metrics`` before and after.

``node.loop_watch`` keeps, in the node, a histogram of how late a 50 ms ticker wakes (the
event-loop lag) and the count, total and longest duration of the node's heavy steps by stage.
A bench scrapes them at the start and end of a phase; the difference is the phase's own lag
distribution (p50/p99 as histogram bucket bounds) and its steps' mean durations. The longest
step is the longest since the node started (a maximum cannot be differenced).
"""

from __future__ import annotations

import re
import urllib.request
from typing import Any

LAG = "depochain_event_loop_lag_seconds"
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
STAGES_SHOWN = 8


def scrape(rpc_url: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The loop figures of the node at ``rpc_url`` now (empty if it serves none)."""
    with urllib.request.urlopen(rpc_url.rstrip("/") + "/metrics", timeout=timeout_s) as answer:
        return parse(answer.read().decode())


def parse(text: str) -> dict[str, Any]:
    buckets: dict[float, float] = {}
    stages: dict[str, dict[str, float]] = {}
    lag_max = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name, value = match["name"], float(match["value"])
        labels = {k: _unescape(v) for k, v in _LABEL.findall(match["labels"] or "")}
        if name == LAG + "_bucket":
            buckets[float(labels["le"].replace("+Inf", "inf"))] = value
        elif name == "depochain_event_loop_lag_max_seconds":
            lag_max = value
        elif "stage" in labels and name.startswith("depochain_loop_stretch"):
            field = {
                "depochain_loop_stretches_total": "count",
                "depochain_loop_stretch_seconds_total": "total_s",
                "depochain_loop_stretch_max_seconds": "max_s",
            }.get(name)
            if field is not None:
                stages.setdefault(labels["stage"], {})[field] = value
    return {"lag_buckets": buckets, "lag_max_s": lag_max, "stages": stages}


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value)


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The phase between two scrapes: lag percentiles and each stage's mean and longest."""
    counts = {
        bound: after["lag_buckets"][bound] - before["lag_buckets"].get(bound, 0.0)
        for bound in after.get("lag_buckets", {})
    }
    stages = {}
    for stage, now in after.get("stages", {}).items():
        then = before.get("stages", {}).get(stage, {})
        count = now.get("count", 0.0) - then.get("count", 0.0)
        total = now.get("total_s", 0.0) - then.get("total_s", 0.0)
        if count > 0:
            stages[stage] = {"count": count, "mean_s": total / count, "max_s": now.get("max_s")}
    return {
        "lag_p50_s": _bucket_quantile(counts, 0.50),
        "lag_p99_s": _bucket_quantile(counts, 0.99),
        "lag_max_s": after.get("lag_max_s"),
        "stages": stages,
    }


def _bucket_quantile(cumulative: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` (None without observations)."""
    if not cumulative:
        return None
    total = max(cumulative.values())
    if total <= 0:
        return None
    for bound in sorted(cumulative):
        if cumulative[bound] >= q * total:
            return bound
    return None


def format_phase(name: str, phase: dict[str, Any], node: str = "node 0") -> list[str]:
    """Lines for one phase: the lag, then the stages with the longest mean step."""

    def ms(value: float | None) -> str:
        if value is None:
            return "-"
        return "> 5 s" if value == float("inf") else f"{value * 1000:.1f} ms"

    lines = [
        f"event loop of {node}, {name}: lag p50 <= {ms(phase['lag_p50_s'])}, "
        f"p99 <= {ms(phase['lag_p99_s'])}, longest stall so far {ms(phase['lag_max_s'])}"
    ]
    ranked = sorted(phase["stages"].items(), key=lambda item: -item[1]["mean_s"])
    for stage, figures in ranked[:STAGES_SHOWN]:
        lines.append(
            f"  {stage:42} {figures['count']:>7.0f} x, mean {ms(figures['mean_s']):>9}, "
            f"longest {ms(figures['max_s']):>9}"
        )
    return lines
