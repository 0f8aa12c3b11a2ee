"""Leader skipping in the simulator (issue 13): on reliable links, one silent validator costs no
round after the first heights (its round-0 turns go to others), every node names the same
round-0 proposer (no height needs a second round), and two broken rules are caught here: no
skipping at all, and skips read from a node's OWN certificate of the last block (which differs
between nodes) instead of the one the committed block carries."""

from __future__ import annotations

import dataclasses

import pytest

import consensus.replica.core as replica_core
import consensus.replica.state as replica_state
from consensus.replica import ChainState
from consensus.replica.state import HeightState
from consensus.simulation.faults import Behaviour, FaultPlan
from consensus.simulation.network import LinkConditions
from consensus.simulation.runner import SimConfig, Simulation

B = Behaviour
SEEDS = range(3)
FIRST_SKIPPING_HEIGHT = 3
"""Block 2 is the first to carry a certificate (block 1's): height 3 is the first that skips."""
CALM = FaultPlan(
    initial_conditions=LinkConditions.reliable(),
    faults=(),
    safety_phase_ms=6_000,
    liveness_conditions=LinkConditions.reliable(),
)
ONE_SILENT = (B.HONEST, B.HONEST, B.HONEST, B.SILENT)
ALL_HONEST = (B.HONEST,) * 4


def _later_round_heights(seed: int, behaviours: tuple[Behaviour, ...]) -> list[int]:
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
            if height >= FIRST_SKIPPING_HEIGHT and certificate.round > 0
        }
    )


@pytest.mark.simulation
@pytest.mark.parametrize("seed", SEEDS)
def test_a_silent_validator_costs_no_round(seed: int) -> None:
    assert _later_round_heights(seed, ONE_SILENT) == []


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
    assert all(_later_round_heights(seed, ONE_SILENT) for seed in SEEDS)


@pytest.mark.simulation
def test_skips_from_a_nodes_own_certificate_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skips read from the certificate each node built itself (local data): nodes disagree on
    round 0's proposer, and heights need a second round."""
    real = replica_state.new_height_state

    def from_own_certificate(chain: ChainState) -> HeightState:
        return real(dataclasses.replace(chain, last_block_last_commit=chain.last_commit))

    monkeypatch.setattr(replica_core, "new_height_state", from_own_certificate)
    assert all(_later_round_heights(seed, ALL_HONEST) for seed in SEEDS)
