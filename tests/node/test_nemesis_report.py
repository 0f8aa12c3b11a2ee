"""The nemesis's verdicts and table, without a cluster: a phase fails on any lost, duplicated
or forked tx, a broken conservation, a missing recovery or an unclean exit; a skipped fault is
shown with its reason and does not fail the run; ``--faults`` accepts ``all`` or known names."""

from __future__ import annotations

import argparse

import pytest

from node.cli.nemesis import FAULT_NAMES, parse_faults
from node.nemesis.faults import judge_failover
from node.nemesis.run import PhaseResult, format_table


def clean(fault: str = "kill") -> PhaseResult:
    return PhaseResult(fault, acked=10, conservation_ok=True, recovery_s=1.5)


@pytest.mark.parametrize(
    "change",
    [
        {"lost": 1},
        {"duplicated": 1},
        {"forks": 1},
        {"conservation_ok": False},
        {"recovery_s": None},
        {"unclean_exits": 1},
        {"problems": ["node 3 did not stop with 74"]},
    ],
)
def test_any_failed_check_fails_the_phase(change: dict[str, object]) -> None:
    assert clean().ok
    phase = clean()
    for name, value in change.items():
        setattr(phase, name, value)
    assert not phase.ok


def test_the_table_has_every_column_and_says_why_a_fault_was_skipped() -> None:
    skipped = PhaseResult("partition", skipped="network namespaces need root")
    assert skipped.ok
    table = format_table([clean(), skipped]).splitlines()
    assert table[0].split() == ["fault", "lost", "duplicated", "forks", "conservation",
                                "recovery", "s", "unclean", "exits"]  # fmt: skip
    assert table[1].split() == ["kill", "0", "0", "0", "OK", "1.5", "0"]
    assert "skipped: network namespaces need root" in table[2]


def test_faults_option() -> None:
    assert parse_faults("all") == list(FAULT_NAMES)
    assert parse_faults("kill,partition") == ["kill", "partition"]
    with pytest.raises(argparse.ArgumentTypeError):
        parse_faults("kill,meteor")


def test_failover_fails_when_one_validator_down_keeps_under_half_the_block_rate() -> None:
    note, failure = judge_failover(3.0, 1.6)
    assert failure is None and "53% kept" in note
    _, failure = judge_failover(3.0, 1.4)
    assert failure is not None and "47%" in failure
    _, failure = judge_failover(3.0, None)
    assert failure is not None
    assert "failover" in FAULT_NAMES
