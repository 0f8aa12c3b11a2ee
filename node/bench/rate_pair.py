"""``depochain bench --then-rate-fraction F``: the max-rate run, then a run at F times the
committed tx/s it reached, in one command and one sitting.

The latency promise of #12 is stated at a fraction of the maximum rate of the same sitting
("p99 <= 1 s at 80 % of max"); run by hand that takes two commands and a number copied between
them, on a machine whose speed drifts in between. Each run has its own same-run ceiling and
fresh localnet; both are printed (or returned in one JSON object).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from node.bench import report
from node.bench.cluster import BenchArgs, run_bench


def check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError("--then-rate-fraction takes a fraction between 0 and 1, e.g. 0.8")


def second_rate(first: dict[str, Any], fraction: float) -> float:
    """The offered rate of the second run: ``fraction`` of what the first one committed."""
    check_fraction(fraction)
    committed = float(first["committed_tx_per_s"])
    if committed <= 0:
        raise RuntimeError("the max-rate run committed nothing: no rate to take a fraction of")
    return fraction * committed


def run_pair(args: BenchArgs, fraction: float) -> dict[str, Any]:
    """The max-rate run (``args.rate`` is ignored), then the run at ``fraction`` of it."""
    check_fraction(fraction)
    first = run_bench(dataclasses.replace(args, rate=None))
    rate = second_rate(first, fraction)
    second = run_bench(dataclasses.replace(args, rate=rate))
    return {"fraction": fraction, "max_rate": first, "at_fraction": second}


def main(args: BenchArgs, fraction: float) -> int:
    pair = run_pair(args, fraction)
    if args.json_output:
        print(json.dumps(pair, indent=2))
    else:
        print("== max rate")
        report.print_report(pair["max_rate"])
        committed = pair["max_rate"]["committed_tx_per_s"]
        print(f"\n== {fraction:.0%} of the max rate's {committed:.0f} committed tx/s")
        report.print_report(pair["at_fraction"])
    ok = pair["max_rate"]["conservation"]["ok"] and pair["at_fraction"]["conservation"]["ok"]
    return 0 if ok else 1
