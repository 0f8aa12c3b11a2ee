"""Run configuration and results of the simulator (kept apart from the event loop)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.params import ConsensusParams
from consensus.replica import Replica
from consensus.simulation.checkers import Violation
from consensus.simulation.faults import BYZANTINE_BEHAVIOURS, Behaviour, FaultPlan
from consensus.types import ChainId

CHAIN_ID = ChainId("depochain-sim")
EVENTS_MAX = 3_000_000
"""A run that needs more events than this is itself a failure (runaway loop), never a hang."""


BYZANTINE_SKEW_MS = 60_000
"""A Byzantine node's clock may be a minute off either way."""


def default_params() -> ConsensusParams:
    """Short timeouts: sim time is free, but events are not."""
    return ConsensusParams(
        timeout_propose_ms=400,
        timeout_prevote_ms=200,
        timeout_precommit_ms=200,
        timeout_delta_ms=100,
        timeout_max_ms=3_000,
        timeout_commit_ms=50,
        block_txs_max=20,
        block_bytes_max=64 * 1024,
    )


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything a run depends on besides its seed; defaults are what the CLI uses."""

    validators: int = 4
    byzantine: int = 1
    behaviours: tuple[Behaviour, ...] | None = None
    """Explicit role per validator (overrides ``byzantine`` and the draw)."""
    allowed_behaviours: tuple[Behaviour, ...] = BYZANTINE_BEHAVIOURS
    safety_phase_ms: int | None = None
    """None: drawn from the seed (2-8 s of sim time)."""
    fault_plan: FaultPlan | None = None
    """Explicit faults (for directed scenarios); None draws them from the seed."""
    crashes: bool = True
    liveness_heights: int = 2
    """New heights every honest node must commit after the heal."""
    liveness_bound_ms: int = 60_000
    params: ConsensusParams | None = None
    weighted_powers: bool | None = None
    """Unequal voting powers (1..10); None: drawn per seed (half the runs)."""
    lock_split_attacks: bool = True
    """Let the seed plan a lock split (:mod:`.adversary`); False replays schedules drawn before
    that adversary existed (the PRNG streams are then exactly as they were)."""
    clock_skews: bool = True
    """Give every node's clock a skew: honest ones within half the timestamp precision (they
    run NTP), Byzantine ones drawn from 0 and +-:data:`BYZANTINE_SKEW_MS` (proposer-based
    time must keep block time within bounds all the same)."""
    byzantine_clock_skew_ms: int | None = None
    """Explicit skew of every Byzantine node's clock (None: drawn per node)."""
    replica_class: type[Replica] = Replica
    """Honest nodes' replica class (tests inject a mutated one to see the checkers fire)."""
    stop_on_violation: bool = True
    sender_lag_ms: tuple[int, ...] = ()
    """Extra delay of every payload node ``i`` sends (empty: none): its votes arrive last."""


@dataclass(frozen=True, slots=True)
class RunResult:
    seed: int
    config: SimConfig
    behaviours: tuple[Behaviour, ...]
    violations: tuple[Violation, ...]
    heights: int
    """Highest height committed by an honest node."""
    sim_time_ms: int
    events: int
    messages: int
    lock_split: bool = False
    """Whether the lock-split adversary split a round in this run."""

    @property
    def safety_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.kind.is_safety)

    @property
    def liveness_failures(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if not v.kind.is_safety)

    @property
    def is_ok(self) -> bool:
        return not self.violations

    def reproduce_command(self) -> str:
        """The command that replays this run (CLI configs) or the call that does (others)."""
        config = self.config
        cli = SimConfig(
            validators=config.validators,
            byzantine=config.byzantine,
            lock_split_attacks=config.lock_split_attacks,
        )
        if config != cli:
            return f"Simulation({self.seed}, <the test's SimConfig>).run()"
        no_split = "" if config.lock_split_attacks else " --no-lock-split"
        return (
            f"depochain simulate --seeds 1 --seed {self.seed} "
            f"--validators {config.validators} --byzantine {config.byzantine}{no_split}"
        )


@dataclass(frozen=True, slots=True)
class Summary:
    runs: int
    safety_violations: int
    liveness_failures: int
    heights: int
    sim_time_ms: int
    events: int
    failures: tuple[RunResult, ...]
    lock_splits: int = 0
    """Runs in which the lock-split adversary split a round."""

    def format_line(self, wall_s: float | None = None) -> str:
        line = (
            f"runs={self.runs} safety_violations={self.safety_violations} "
            f"liveness_failures={self.liveness_failures} heights={self.heights} "
            f"sim_time={self.sim_time_ms / 1000:.1f}s events={self.events} "
            f"lock_splits={self.lock_splits}"
        )
        return line if wall_s is None else f"{line} wall={wall_s:.1f}s"


def summarize(results: Sequence[RunResult]) -> Summary:
    return Summary(
        runs=len(results),
        safety_violations=sum(1 for r in results if r.safety_violations),
        liveness_failures=sum(1 for r in results if r.liveness_failures),
        heights=sum(r.heights for r in results),
        sim_time_ms=sum(r.sim_time_ms for r in results),
        events=sum(r.events for r in results),
        failures=tuple(r for r in results if not r.is_ok),
        lock_splits=sum(1 for r in results if r.lock_split),
    )
