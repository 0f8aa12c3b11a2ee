"""Leader skipping in the simulator (issue 13): on reliable links, one silent validator costs a
round only at probe heights once the window is full (its other round-0 turns go to others),
every node names the same round-0 proposer (no height needs a second round), and a rule without
skipping is caught here. (A rule reading a node's OWN certificates instead of the carried ones
is no longer caught on calm links: over a window of 8 blocks every live validator is in some
node's certificate, so nodes rarely disagree; the unit tests pin the committed-data input.)"""

from __future__ import annotations

import dataclasses

import pytest

import consensus.leader as leader
import consensus.replica.state as replica_state
from consensus.leader import is_probe_height
from consensus.simulation.checkers import check_proposer_fairness
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


def _calm_config(
    behaviours: tuple[Behaviour, ...], fault_plan: FaultPlan, sender_lag_ms: tuple[int, ...] = ()
) -> SimConfig:
    """Equal powers, no crashes, skews or lock-split attacks: only the proposer rule at work."""
    return SimConfig(
        behaviours=behaviours,
        fault_plan=fault_plan,
        crashes=False,
        weighted_powers=False,
        lock_split_attacks=False,
        clock_skews=False,
        sender_lag_ms=sender_lag_ms,
    )


def _later_round_heights(
    seed: int, behaviours: tuple[Behaviour, ...], *, probes: bool = True
) -> list[int]:
    """Heights from the first skipping one that some honest node decided after round 0."""
    sim = Simulation(seed, _calm_config(behaviours, CALM))
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


LAGGING = 2
"""The node whose every message takes LAG_MS longer: its precommits always arrive last."""
LAG_MS = 150
CALM_LONG = dataclasses.replace(CALM, safety_phase_ms=20_000)
MAX_GAP = 3 * 4
"""Fairness bound: a proposal in every 12 heights (its plain turns come every 4)."""


def _proposer_gaps(seed: int) -> list[str]:
    lags = tuple(LAG_MS if i == LAGGING else 0 for i in range(4))
    sim = Simulation(seed, _calm_config(ALL_HONEST, CALM_LONG, sender_lag_ms=lags))
    result = sim.run()
    assert result.is_ok, result.violations
    blocks = sim.nodes[0].blocks
    assert len(blocks) >= 40
    proposers = [blocks[h][0].header.proposer for h in range(1, len(blocks) + 1)]
    return check_proposer_fairness(proposers, [n.key.public_key for n in sim.nodes], MAX_GAP)


@pytest.mark.simulation
@pytest.mark.parametrize("seed", SEEDS)
def test_a_validator_whose_precommits_arrive_last_keeps_proposing(seed: int) -> None:
    """CI's strace-slowed bank in the simulator: every node, the lagging one included, proposes
    a committed block at least once every 12 heights."""
    assert _proposer_gaps(seed) == []


@pytest.mark.simulation
def test_a_window_of_one_block_is_caught_starving_the_lagging_validator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With W = 1 the lagging validator is shown absent right after its own block and proposes
    again only at probe heights (every 16)."""
    monkeypatch.setattr(leader, "compute_window_size", lambda _vset: 1)
    assert all(_proposer_gaps(seed) for seed in SEEDS)
