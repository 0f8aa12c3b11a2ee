"""Deterministic Byzantine cluster simulator (TigerBeetle VOPR / Diem Twins style).

Real :class:`consensus.replica.Replica` objects run on a simulated clock and network; one integer
seed decides everything. Entry points: :func:`run_simulation`, :class:`Simulation` (step-by-step
driving for property tests), :func:`summarize`. Like all of ``consensus/`` this package is pure:
no clock, no randomness but its own seeded PRNG, no I/O.
"""

from consensus.simulation.results import RunResult, SimConfig, Summary, summarize
from consensus.simulation.runner import Simulation, run_many, run_simulation

__all__ = [
    "RunResult",
    "SimConfig",
    "Simulation",
    "Summary",
    "run_many",
    "run_simulation",
    "summarize",
]
