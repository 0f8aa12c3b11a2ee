"""Seeded cluster simulations of real replicas: zero violations over many seeds (every fault kind,
the lock-split adversary), Twins beyond f caught forking, and the command line. Broken replicas
caught by each checker: ``test_checkers_fire.py``."""

from __future__ import annotations

import collections
import io
from collections.abc import Iterable

import pytest

from consensus.simulation.checkers import ViolationKind
from consensus.simulation.faults import (
    BYZANTINE_BEHAVIOURS,
    Behaviour,
    Fault,
    FaultKind,
    FaultPlan,
)
from consensus.simulation.network import LinkConditions, Partition
from consensus.simulation.prng import Prng
from consensus.simulation.runner import RunResult, SimConfig, Simulation, run_simulation
from node.cli import main, simulate

B = Behaviour


def _run_all(seeds: Iterable[int], config: SimConfig) -> list[tuple[Simulation, RunResult]]:
    runs = []
    for seed in seeds:
        sim = Simulation(seed, config)
        runs.append((sim, sim.run()))
    return runs


def _assert_clean(runs: list[tuple[Simulation, RunResult]]) -> None:
    failures = [
        f"{r.reproduce_command()}: {[str(v) for v in r.violations]}" for _, r in runs if not r.is_ok
    ]
    assert failures == []


def _assert_splits(runs: list[tuple[Simulation, RunResult]], share: float) -> None:
    """The lock-split adversary really split a round in (at least) this share of the runs."""
    splits = sum(1 for _, result in runs if result.lock_split)
    assert splits >= share * len(runs), f"{splits} of {len(runs)} runs split a round"


def _assert_every_fault_kind(runs: list[tuple[Simulation, RunResult]]) -> None:
    roles = collections.Counter(b for _, r in runs for b in r.behaviours if b is not B.HONEST)
    assert set(roles) == set(BYZANTINE_BEHAVIOURS)
    faults = collections.Counter(f.kind for sim, _ in runs for f in sim.plan.faults)
    assert set(faults) == set(FaultKind)
    assert any(f.crash_after_actions for sim, _ in runs for f in sim.plan.faults)
    assert any(n.restarts for sim, _ in runs for n in sim.nodes)
    assert sum(r.heights for _, r in runs) > 3 * len(runs)


# ---------------------------------------------------------------------------------------------
# building blocks


def test_prng_is_deterministic_and_covers_its_range() -> None:
    a, b = Prng(7), Prng(7)
    assert [a.next_u64() for _ in range(5)] == [b.next_u64() for _ in range(5)]
    assert Prng(8).next_u64() != Prng(7).next_u64()
    counts = collections.Counter(Prng(1).below(4) for _ in range(1))
    prng = Prng(1)
    counts = collections.Counter(prng.below(4) for _ in range(4000))
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 800
    assert sorted(prng.shuffled(range(10))) == list(range(10))
    assert not prng.chance_ppm(0) and prng.chance_ppm(1_000_000)


def test_a_seed_reproduces_its_run_exactly() -> None:
    first = run_simulation(12345, 4, 1)
    second = run_simulation(12345, 4, 1)
    assert (first.heights, first.events, first.messages, first.sim_time_ms) == (
        second.heights,
        second.events,
        second.messages,
        second.sim_time_ms,
    )
    assert first.is_ok and first.heights >= 2


def test_partitioned_link_delivers_nothing() -> None:
    sim = Simulation(1, SimConfig())
    sim.network.partition = Partition((frozenset({0, 1}), frozenset({2, 3})))
    assert sim.network.compute_delays_ms(0, 2) == []
    assert sim.network.compute_delays_ms(0, 0) == [0]


# ---------------------------------------------------------------------------------------------
# many seeds, every fault kind, zero violations


@pytest.mark.simulation
def test_200_seeds_one_byzantine_of_four() -> None:
    runs = _run_all(range(200), SimConfig(validators=4, byzantine=1))
    _assert_clean(runs)
    _assert_every_fault_kind(runs)
    _assert_splits(runs, 0.4)  # measured: 92 of 200
    assert {len(set(sim.powers)) > 1 for sim, _ in runs} == {True, False}  # weighted and equal


@pytest.mark.simulation
def test_50_seeds_two_byzantine_of_seven() -> None:
    runs = _run_all(range(1000, 1050), SimConfig(validators=7, byzantine=2))
    _assert_clean(runs)
    _assert_splits(runs, 0.4)  # measured: 26 of 50
    assert sum(r.heights for _, r in runs) > 3 * len(runs)


@pytest.mark.simulation
@pytest.mark.parametrize("behaviour", BYZANTINE_BEHAVIOURS, ids=lambda b: b.value)
def test_each_behaviour_alone(behaviour: Behaviour) -> None:
    config = SimConfig(behaviours=(B.HONEST, B.HONEST, B.HONEST, behaviour))
    _assert_clean(_run_all(range(500, 510), config))


# ---------------------------------------------------------------------------------------------
# the checkers can fail


def _first_safety_violation(seeds: Iterable[int], config: SimConfig) -> RunResult | None:
    for seed in seeds:
        result = run_simulation(seed, config=config)
        if result.safety_violations:
            return result
    return None


def _split_twins_plan(split_ms: int) -> FaultPlan:
    """Nodes: 0 = A, 1/2 = twins of B, 3/4 = twins of C, 5 = D (honest A and D)."""
    split = Partition((frozenset({0, 1, 3}), frozenset({2, 4, 5})))
    return FaultPlan(
        initial_conditions=LinkConditions.reliable(),
        faults=(Fault(0, FaultKind.PARTITION, partition=split), Fault(split_ms, FaultKind.HEAL)),
        safety_phase_ms=split_ms + 1_000,
        liveness_conditions=LinkConditions.reliable(),
    )


@pytest.mark.simulation
def test_twins_beyond_f_are_caught_forking() -> None:
    """Two of four validators run twice (Byzantine power 2 > f = 1): each half of the split has
    a quorum, so honest A and D commit different blocks and agreement fails."""
    config = SimConfig(
        behaviours=(B.HONEST, B.TWINS, B.TWINS, B.HONEST),
        fault_plan=_split_twins_plan(3_000),
        crashes=False,
        weighted_powers=False,
    )
    found = _first_safety_violation(range(20), config)
    assert found is not None
    assert found.safety_violations[0].kind is ViolationKind.AGREEMENT


# ---------------------------------------------------------------------------------------------
# the command line


def test_cli_prints_one_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["simulate", "--seeds", "3", "--validators", "4", "--byzantine", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 0
    assert len(out) == 1 and out[0].startswith("runs=3 safety_violations=0 liveness_failures=0")
    assert "lock_splits=" in out[0] and "wall=" in out[0]


def test_cli_reports_failures_with_the_command_that_reproduces_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twins = SimConfig(
        behaviours=(B.HONEST, B.TWINS, B.TWINS, B.HONEST),
        fault_plan=_split_twins_plan(3_000),
        crashes=False,
        weighted_powers=False,
        clock_skews=False,  # a twin a minute off would not get its fork proposed in time
    )
    monkeypatch.setattr(simulate, "SimConfig", lambda **_: twins)
    out, err = io.StringIO(), io.StringIO()
    status = simulate.run_simulate(5, 4, 2, first_seed=0, out=out, err=err)
    assert status == 1
    assert "safety_violations=0" not in out.getvalue()
    assert "reproduce: Simulation(" in err.getvalue()  # a custom config: not a CLI command


def test_a_cli_run_names_the_cli_command_that_reproduces_it() -> None:
    result = run_simulation(3, 4, 1)
    assert result.reproduce_command() == (
        "depochain simulate --seeds 1 --seed 3 --validators 4 --byzantine 1"
    )


def test_a_run_without_the_lock_split_adversary_names_its_flag_and_replays_through_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = SimConfig(validators=4, byzantine=1, lock_split_attacks=False)
    result = Simulation(3, config).run()
    command = result.reproduce_command()
    assert command == (
        "depochain simulate --seeds 1 --seed 3 --validators 4 --byzantine 1 --no-lock-split"
    )
    assert main(command.split()[1:]) == 0  # the CLI replays the run it names
    replayed = capsys.readouterr().out
    assert f"heights={result.heights} " in replayed and f"events={result.events} " in replayed


def test_cli_rejects_nonsense_arguments() -> None:
    err = io.StringIO()
    assert simulate.run_simulate(0, 4, 1, err=err) == 2
    assert simulate.run_simulate(5, 4, 9, err=err) == 2


@pytest.mark.slow
@pytest.mark.simulation
def test_more_seeds_and_a_bigger_cluster() -> None:
    _assert_clean(_run_all(range(10_000, 10_150), SimConfig(validators=4, byzantine=1)))
    _assert_clean(_run_all(range(20_000, 20_020), SimConfig(validators=10, byzantine=3)))
