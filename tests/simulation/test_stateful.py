"""Hypothesis drives the cluster step by step: which held message is delivered, dropped or
duplicated, when time passes, partitions, heals, crashes and restarts. After every step the
safety checkers (agreement, validity, no honest double-sign) must be silent; at the end the
network heals and the honest nodes must commit new heights (liveness)."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consensus.simulation.faults import Behaviour, Fault, FaultKind, FaultPlan
from consensus.simulation.network import LinkConditions, Partition
from consensus.simulation.runner import SimConfig, Simulation
from tests.profiles import share_of_max_examples

NEVER_MS = 10**9
"""The machine decides when the safety phase ends (teardown), not the clock."""


def _config(byzantine: Behaviour) -> SimConfig:
    return SimConfig(
        behaviours=(Behaviour.HONEST, Behaviour.HONEST, Behaviour.HONEST, byzantine),
        fault_plan=FaultPlan(
            initial_conditions=LinkConditions.reliable(),
            faults=(),
            safety_phase_ms=NEVER_MS,
            liveness_conditions=LinkConditions.reliable(),
        ),
        liveness_heights=1,
        liveness_bound_ms=60_000,
        stop_on_violation=False,
    )


class ClusterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim: Simulation | None = None
        self.elapsed_ms = 0

    @rule(
        seed=st.integers(0, 2**32),
        byzantine=st.sampled_from([b for b in Behaviour if b is not Behaviour.TWINS]),
    )
    @precondition(lambda self: self.sim is None)
    def boot(self, seed: int, byzantine: Behaviour) -> None:
        self.sim = Simulation(seed, _config(byzantine))
        self.sim.held = []
        self.sim.start()

    @rule(index=st.integers(0, 10_000))
    @precondition(lambda self: self.sim is not None and bool(self.sim.held))
    def deliver(self, index: int) -> None:
        assert self.sim is not None and self.sim.held is not None
        self.sim.deliver_held(index % len(self.sim.held))

    @rule(index=st.integers(0, 10_000))
    @precondition(lambda self: self.sim is not None and bool(self.sim.held))
    def drop(self, index: int) -> None:
        assert self.sim is not None and self.sim.held is not None
        del self.sim.held[index % len(self.sim.held)]

    @rule(index=st.integers(0, 10_000))
    @precondition(lambda self: self.sim is not None and bool(self.sim.held))
    def duplicate(self, index: int) -> None:
        assert self.sim is not None and self.sim.held is not None
        self.sim.held.append(self.sim.held[index % len(self.sim.held)])

    @rule(count=st.integers(1, 40))
    @precondition(lambda self: self.sim is not None and bool(self.sim.held))
    def deliver_oldest(self, count: int) -> None:
        """Flush a batch in order, so runs make progress as well as get mangled."""
        assert self.sim is not None and self.sim.held is not None
        for _ in range(min(count, len(self.sim.held))):
            before = len(self.sim.held)
            self.sim.deliver_held(0)
            if len(self.sim.held) == before:  # partitioned: keep it, move on
                self.sim.held.append(self.sim.held.pop(0))

    @rule(ms=st.integers(1, 1_500))
    @precondition(lambda self: self.sim is not None)
    def tick(self, ms: int) -> None:
        assert self.sim is not None
        self.elapsed_ms += ms
        self.sim.advance_to(self.elapsed_ms)

    @rule(ms=st.integers(50, 1_500))
    @precondition(lambda self: self.sim is not None)
    def run_network(self, ms: int) -> None:
        """Let the simulated links (delays, gossip) carry traffic for a while."""
        assert self.sim is not None
        self.sim.release_held()
        self.elapsed_ms += ms
        self.sim.advance_to(self.elapsed_ms)
        self.sim.held = []

    @rule(groups=st.lists(st.integers(0, 2), min_size=4, max_size=4))
    @precondition(lambda self: self.sim is not None)
    def partition(self, groups: list[int]) -> None:
        assert self.sim is not None
        split = tuple(
            frozenset(node for node, group in enumerate(groups) if group == g) for g in range(3)
        )
        self.sim.apply_fault(Fault(0, FaultKind.PARTITION, partition=Partition(split)))

    @rule()
    @precondition(lambda self: self.sim is not None)
    def heal(self) -> None:
        assert self.sim is not None
        self.sim.apply_fault(Fault(0, FaultKind.HEAL))

    @rule(node=st.integers(0, 2), after_actions=st.integers(0, 3))
    @precondition(lambda self: self.sim is not None)
    def crash(self, node: int, after_actions: int) -> None:
        assert self.sim is not None
        self.sim.apply_fault(
            Fault(0, FaultKind.CRASH, node=node, crash_after_actions=after_actions)
        )

    @rule(node=st.integers(0, 2))
    @precondition(lambda self: self.sim is not None)
    def restart(self, node: int) -> None:
        assert self.sim is not None
        self.sim.apply_fault(Fault(0, FaultKind.RESTART, node=node))

    @invariant()
    def safety_holds(self) -> None:
        if self.sim is not None:
            assert [str(v) for v in self.sim.violations] == []

    def teardown(self) -> None:
        sim = self.sim
        if sim is None:
            return
        sim.release_held()
        sim.heal_now()
        result = sim.run()
        assert [str(v) for v in result.violations] == []


TestCluster = pytest.mark.simulation(ClusterMachine.TestCase)
# Each example runs a whole cluster: a third of the profile's examples (dev 20, ci 66).
TestCluster.settings = settings(
    max_examples=share_of_max_examples(3), stateful_step_count=60, deadline=None, database=None
)
