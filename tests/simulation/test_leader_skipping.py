"""Leader skipping in the simulator (issue 13): on reliable links, one silent validator costs a
round only at probe heights once the window is full (its other round-0 turns go to others),
every node names the same round-0 proposer (no height needs a second round), and a rule without
skipping is caught here. (A rule reading a node's OWN certificates instead of the carried ones
is no longer caught on calm links: over a window of 8 blocks every live validator is in some
node's certificate, so nodes rarely disagree; the unit tests pin the committed-data input.)"""

from __future__ import annotations

import pytest

import consensus.replica.state as replica_state
from consensus.leader import is_probe_height
from consensus.simulation.faults import Behaviour, FaultPlan
from consensus.simulation.network import LinkConditions
from consensus.simulation.runner import SimConfig, Simulation

B = Behaviour
SEEDS = range(3)
FIRST_SKIPPING_HEIGHT = 9
"""The window of four equal validators is W = 8 blocks: height 9 is the first that skips."""
CALM = FaultPlan(
    initial_conditions=LinkConditions.reliable(),
    faults=(),
    safety_phase_ms=6_000,
    liveness_conditions=LinkConditions.reliable(),
)
ONE_SILENT = (B.HONEST, B.HONEST, B.HONEST, B.SILENT)
ALL_HONEST = (B.HONEST,) * 4


def _later_round_heights(
    seed: int, behaviours: tuple[Behaviour, ...], *, probes: bool = True
) -> list[int]:
    """Heights from the first skipping one that some honest node decided after round 0."""
    config = SimConfig(
        behaviours=behaviours,
        fault_plan=CALM,
        crashes=False,
        weighted_powers=False,
        lock_split_attacks=False,
        clock_skews=False,
    )
    sim = Simulation(seed, config)
    result = sim.run()
    assert result.is_ok, result.violations
    assert result.heights >= 20
    honest = [n for n, b in zip(sim.nodes, behaviours, strict=True) if b is B.HONEST]
    return sorted(
        {
            height
            for node in honest
            for height, (_, certificate) in node.blocks.items()
            if height >= FIRST_SKIPPING_HEIGHT
            and certificate.round > 0
            and (probes or not is_probe_height(sim.validator_set, height))
        }
    )


@pytest.mark.simulation
@pytest.mark.parametrize("seed", SEEDS)
def test_a_silent_validator_costs_a_round_at_probe_heights_only(seed: int) -> None:
    assert _later_round_heights(seed, ONE_SILENT, probes=False) == []


@pytest.mark.simulation
@pytest.mark.parametrize("seed", SEEDS)
def test_all_nodes_name_the_same_round_0_proposer(seed: int) -> None:
    """Every node's certificate of the last block holds a different three of the four
    precommits; the proposer depends on none of them, so round 0 never fails."""
    assert _later_round_heights(seed, ALL_HONEST) == []


@pytest.mark.simulation
def test_no_skipping_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain rotation gives the silent validator every fourth height's round 0."""
    monkeypatch.setattr(replica_state, "compute_proposer_skips", lambda *_: frozenset())
    assert all(_later_round_heights(seed, ONE_SILENT, probes=False) for seed in SEEDS)
