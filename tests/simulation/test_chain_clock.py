"""Proposer-based time in the simulator: every node's clock is skewed (honest ones within half
the precision, Byzantine ones by a minute), and no committed block is stamped further ahead of
true time than the honest skew plus the precision. A replica that takes any proposer's time is
caught by that check on the same seeds the real replica passes."""

from __future__ import annotations

import dataclasses

import pytest

from consensus.replica import Replica
from consensus.simulation.checkers import ViolationKind
from consensus.simulation.faults import Behaviour
from consensus.simulation.runner import SimConfig, run_simulation
from tests.simulation.mutants import UntimelyAcceptingReplica

B = Behaviour
MINUTE_MS = 60_000
SEEDS = range(20)


@pytest.mark.simulation
@pytest.mark.parametrize("skew_ms", [MINUTE_MS, -MINUTE_MS], ids=["ahead", "behind"])
def test_a_byzantine_clock_a_minute_off_moves_nothing(skew_ms: int) -> None:
    config = SimConfig(byzantine_clock_skew_ms=skew_ms)
    failed = [r for r in (run_simulation(s, config=config) for s in SEEDS) if not r.is_ok]
    assert not failed, [(r.seed, r.violations) for r in failed]


@pytest.mark.simulation
def test_a_replica_that_takes_any_proposer_time_is_caught() -> None:
    """A Byzantine proposer a minute ahead (it proposes from its replica, besides replaying
    stale messages): honest replicas that do not check timestamps commit its blocks."""
    config = SimConfig(
        behaviours=(B.HONEST, B.HONEST, B.HONEST, B.REPLAYER),
        byzantine_clock_skew_ms=MINUTE_MS,
        weighted_powers=False,
        replica_class=UntimelyAcceptingReplica,
    )
    caught = [r for r in (run_simulation(s, config=config) for s in range(3)) if r.violations]
    assert len(caught) == 3
    for result in caught:
        (first, *_) = result.violations
        assert first.kind is ViolationKind.VALIDITY
        assert "ahead of true time" in first.detail
        real = dataclasses.replace(config, replica_class=Replica)
        assert run_simulation(result.seed, config=real).is_ok, result.seed
