"""The lock-split adversary: roles that can fork a lock-ignoring replica, a split that really
starts, and an adversary that respects the heal (nothing held back in the liveness phase)."""

from __future__ import annotations

import pytest

from consensus.simulation.adversary import SplitRole, Stage
from consensus.simulation.runner import SimConfig, Simulation


def _power(sim: Simulation, validator_indices: set[int]) -> int:
    return sum(sim.validator_set.validators[i].power for i in validator_indices)


def _indices(sim: Simulation, role: SplitRole) -> set[int]:
    assert sim.attack is not None
    roles = sim.attack.plan.roles
    found = set()
    for node in sim.nodes:
        if roles.get(node.node_id) is role:
            index = sim.validator_set.get_index(node.public_key)
            assert index is not None
            found.add(index)
    return found


@pytest.mark.parametrize(("validators", "byzantine"), [(4, 1), (7, 2), (10, 3)])
def test_roles_give_both_sides_of_the_split_a_quorum_with_the_coalition(
    validators: int, byzantine: int
) -> None:
    planned = 0
    for seed in range(60):
        sim = Simulation(seed, SimConfig(validators=validators, byzantine=byzantine))
        if sim.attack is None:
            continue
        planned += 1
        vset, coalition = sim.validator_set, set(sim.attack.plan.coalition)
        committers, lockers = _indices(sim, SplitRole.COMMITTER), _indices(sim, SplitRole.LOCKER)
        fresh = _indices(sim, SplitRole.FRESH)
        assert committers and lockers
        assert vset.is_quorum(_power(sim, committers | lockers | coalition))
        assert vset.is_quorum(_power(sim, lockers | fresh | coalition))
        assert not vset.is_quorum(_power(sim, lockers))
        honest = {i for i, b in enumerate(sim.behaviours) if b.value == "honest"}
        assert len(committers | lockers | fresh) == len(honest)
        assert not (coalition & (committers | lockers | fresh))
    assert planned >= 15


@pytest.mark.simulation
def test_the_split_starts_and_everything_held_is_released_at_the_heal() -> None:
    started = 0
    for seed in range(12):
        sim = Simulation(seed, SimConfig())
        attack = sim.attack
        if attack is None:
            continue
        sim.start()
        held_max = 0
        heal_ms = sim.plan.safety_phase_ms
        for elapsed_ms in range(0, heal_ms, 100):
            sim.advance_to(elapsed_ms)
            held_max = max(held_max, attack.held_count)
        sim.advance_to(heal_ms)
        assert attack.stage is Stage.DONE and attack.held_count == 0  # the liveness phase is fair
        if attack.target is not None:
            started += 1
            assert held_max > 0  # it did hold messages back while splitting
        assert sim.run().is_ok
    assert started >= 4
