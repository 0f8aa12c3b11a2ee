"""The simulation's state: the items on the simulated clock's queue and the run's attributes.

:class:`SimulationState` declares the attributes the simulation's modules share (set by
``Simulation.__init__``) and the little bookkeeping all of them use: elapsed sim time,
recording a violation, noticing that the liveness target is reached.

Never: hold the run's behaviour (that is in :mod:`.host`, :mod:`.environment`, :mod:`.runner`).
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import events as ev
from consensus.params import ConsensusParams
from consensus.simulation.adversary import LockSplitAttack
from consensus.simulation.checkers import (
    AgreementChecker,
    DoubleSignChecker,
    Violation,
    ViolationKind,
)
from consensus.simulation.clock import SimClock
from consensus.simulation.faults import Behaviour, Fault, FaultPlan
from consensus.simulation.network import NodeId, SimNetwork
from consensus.simulation.nodes import SimNode
from consensus.simulation.prng import Prng
from consensus.simulation.results import SimConfig
from consensus.simulation.validity import ValidityChecker
from consensus.types import TimestampMs
from consensus.validators import ValidatorSet

# Items on the simulated clock's queue ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deliver:
    node: NodeId
    payload: bytes


@dataclass(frozen=True, slots=True)
class Callback:
    """An event for one incarnation of a node's replica (timer, BlockExecuted, start)."""

    node: NodeId
    incarnation: int
    event: ev.Event


@dataclass(frozen=True, slots=True)
class Sync:
    node: NodeId
    height: int
    source: NodeId


@dataclass(frozen=True, slots=True)
class Tick:
    kind: str
    """'gossip', 'txs', 'heal' (end of safety phase) or 'deadline'."""


@dataclass(frozen=True, slots=True)
class TxArrival:
    node: NodeId
    tx: bytes


QueueItem = Deliver | Callback | Sync | Tick | TxArrival | Fault


class SimulationState:
    """The attributes of a run (declared here, set by ``Simulation.__init__``)."""

    seed: int
    config: SimConfig
    prng: Prng
    params: ConsensusParams
    clock: SimClock[QueueItem]
    start_ms: TimestampMs
    behaviours: tuple[Behaviour, ...]
    powers: tuple[int, ...]
    validator_set: ValidatorSet
    nodes: list[SimNode]
    network: SimNetwork
    honest: list[SimNode]
    plan: FaultPlan
    gossip_interval_ms: int
    tx_interval_ms: int
    exec_delay_max_ms: int
    workload: Prng
    tx_count: int
    generated_txs: set[bytes]
    agreement: AgreementChecker
    double_sign: DoubleSignChecker
    validity: ValidityChecker
    violations: list[Violation]
    events: int
    messages: int
    liveness_target: int | None
    finished: bool
    started: bool
    block_time_bound_ms: int
    """How far ahead of true time a committed block may be stamped (proposer-based time)."""
    attack: LockSplitAttack | None
    """The run's lock-split adversary (routes messages while it splits), if one was drawn."""
    held: list[tuple[NodeId, NodeId, bytes]] | None
    """When a list, the network holds every payload here for an external driver to
    deliver, drop or duplicate (the hypothesis state machine); None: simulated links."""

    @property
    def elapsed_ms(self) -> int:
        return self.clock.now_ms - self.start_ms

    def _violate(self, kind: ViolationKind, detail: str) -> None:
        self.violations.append(Violation(kind, self.elapsed_ms, detail))

    def _check_liveness_done(self) -> None:
        target = self.liveness_target
        if target is not None and all(n.committed_height >= target for n in self.honest):
            self.finished = True
