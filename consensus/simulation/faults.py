"""What goes wrong in a run, drawn up front from the seed: the fault plan and Byzantine roles.

A run has a *safety phase* (hostile network, partitions, crashes, Byzantine validators; only
safety is checked) and then a *liveness phase*: partitions heal, links become reliable, crashed
honest nodes restart, and the honest core (> 2/3 of the power) must commit new heights within a
bound. Byzantine validators keep misbehaving in both phases.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from consensus.simulation.network import LinkConditions, NodeId, Partition
from consensus.simulation.prng import Prng


class Behaviour(enum.Enum):
    """What a validator's node does. Everything but HONEST counts as Byzantine power. Besides
    what its node does, every Byzantine key but a SILENT one also signs for the run's lock-split
    adversary, if one was drawn (:mod:`.adversary`)."""

    HONEST = "honest"
    SILENT = "silent"
    """Never sends anything (a crashed or censoring validator)."""
    EQUIVOCATING_PROPOSER = "equivocating-proposer"
    """Sends different signed proposals for the same (height, round) to different peers; the
    second one sometimes drops the proof-of-lock round (an amnesia attack on locked replicas)."""
    DOUBLE_VOTER = "double-voter"
    """Signs a conflicting second vote for every vote and splits them among peers."""
    TWINS = "twins"
    """Two honest-looking replicas run with the same key (Diem Twins)."""
    REPLAYER = "replayer"
    """Votes honestly but also re-sends stale messages (from anyone) it recorded earlier."""
    INVALID_SIGNATURES = "invalid-signatures"
    """Sends messages with corrupted signatures and garbage bytes besides its honest traffic."""
    ROUND_RUSHER = "round-rusher"
    """Besides its honest votes, signs votes for rounds ahead to drag others into round skips."""


BYZANTINE_BEHAVIOURS: tuple[Behaviour, ...] = tuple(
    b for b in Behaviour if b is not Behaviour.HONEST
)


class FaultKind(enum.Enum):
    PARTITION = "partition"
    HEAL = "heal"
    CONDITIONS = "conditions"
    CRASH = "crash"
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class Fault:
    at_ms: int
    """Sim time since start at which the fault takes effect."""
    kind: FaultKind
    partition: Partition | None = None
    conditions: LinkConditions | None = None
    node: NodeId | None = None
    crash_after_actions: int = 0
    """CRASH only: how many actions of the node's *next* handled event still run before the crash
    (0 = crash between events). Models dying between persisting and sending."""


@dataclass(frozen=True, slots=True)
class FaultPlan:
    initial_conditions: LinkConditions
    faults: tuple[Fault, ...]
    safety_phase_ms: int
    """When the safety phase ends: everything heals and the liveness clock starts."""
    liveness_conditions: LinkConditions


def draw_fault_plan(
    prng: Prng,
    nodes: Sequence[NodeId],
    crashable: Sequence[NodeId],
    safety_phase_ms: int,
    crashes: bool = True,
) -> FaultPlan:
    """A random schedule of partitions, heals, condition changes and crash/restarts."""
    faults: list[Fault] = []
    for _ in range(prng.between(0, 3)):
        faults.extend(_draw_partition(prng, nodes, safety_phase_ms))
    for _ in range(prng.between(0, 3)):
        faults.append(
            Fault(
                prng.below(safety_phase_ms),
                FaultKind.CONDITIONS,
                conditions=LinkConditions.draw(prng),
            )
        )
    if crashes and crashable:
        for _ in range(prng.between(0, 2)):
            faults.extend(_draw_crash(prng, crashable, safety_phase_ms))
    faults.sort(key=lambda fault: fault.at_ms)  # stable: equal times keep their drawn order
    return FaultPlan(
        initial_conditions=LinkConditions.draw(prng),
        faults=tuple(faults),
        safety_phase_ms=safety_phase_ms,
        liveness_conditions=LinkConditions.reliable(
            delay_min_ms=prng.between(1, 5), delay_max_ms=prng.between(10, 100)
        ),
    )


def _draw_partition(prng: Prng, nodes: Sequence[NodeId], phase_ms: int) -> list[Fault]:
    start_ms = prng.below(phase_ms)
    heal_ms = min(phase_ms, start_ms + prng.between(100, max(101, phase_ms // 2)))
    return [
        Fault(start_ms, FaultKind.PARTITION, partition=Partition.draw(prng, nodes)),
        Fault(heal_ms, FaultKind.HEAL),
    ]


def _draw_crash(prng: Prng, crashable: Sequence[NodeId], phase_ms: int) -> list[Fault]:
    node = prng.choice(crashable)
    start_ms = prng.below(phase_ms)
    restart_ms = min(phase_ms, start_ms + prng.between(10, max(11, phase_ms // 3)))
    return [
        Fault(start_ms, FaultKind.CRASH, node=node, crash_after_actions=prng.between(0, 3)),
        Fault(restart_ms, FaultKind.RESTART, node=node),
    ]


def draw_behaviours(
    prng: Prng, validator_count: int, byzantine_count: int, allowed: Sequence[Behaviour]
) -> list[Behaviour]:
    """Pick which validators are Byzantine and how; the rest are HONEST."""
    if not 0 <= byzantine_count <= validator_count:
        raise ValueError("byzantine count out of range")
    behaviours = [Behaviour.HONEST] * validator_count
    for index in prng.sample(range(validator_count), byzantine_count):
        behaviours[index] = prng.choice(allowed)
    return behaviours
