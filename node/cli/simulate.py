"""``depochain simulate``: many seeded consensus simulations, one summary line.

The simulations themselves are pure (``consensus.simulation``); this module only picks seeds,
measures wall time and prints. Every failing run is printed with the exact command that
reproduces it, and the exit status is non-zero if any run failed.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from consensus.simulation.runner import RunResult, SimConfig, Simulation, summarize

SEEDS_MAX = 1_000_000


def run_simulate(
    seeds: int,
    validators: int,
    byzantine: int,
    first_seed: int | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    lock_split_attacks: bool = True,
) -> int:
    """Run ``seeds`` runs from ``first_seed`` (default 0); returns the process exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if not 1 <= seeds <= SEEDS_MAX:
        print(f"--seeds must be in 1..{SEEDS_MAX}", file=err)
        return 2
    if not 1 <= validators <= 64 or not 0 <= byzantine <= validators:
        print("need 1..64 validators and 0..validators Byzantine ones", file=err)
        return 2
    if 3 * byzantine >= validators:
        print(
            f"note: {byzantine} Byzantine of {validators} is not < 1/3: violations are expected",
            file=err,
        )
    config = SimConfig(
        validators=validators, byzantine=byzantine, lock_split_attacks=lock_split_attacks
    )
    start = 0 if first_seed is None else first_seed
    started = time.perf_counter()
    results: list[RunResult] = []
    for seed in range(start, start + seeds):
        result = Simulation(seed, config).run()
        results.append(result)
        if not result.is_ok:
            _print_failure(result, err)
    summary = summarize(results)
    print(summary.format_line(time.perf_counter() - started), file=out)
    return 0 if not summary.failures else 1


def _print_failure(result: RunResult, err: TextIO) -> None:
    roles = ",".join(b.value for b in result.behaviours)
    print(f"FAILED seed={result.seed} roles={roles}", file=err)
    for violation in result.violations[:5]:
        print(f"  {violation}", file=err)
    print(f"  reproduce: {result.reproduce_command()}", file=err)
