"""The gap between two mempool reaps follows the CPU the last one took: a cheap reap (a small
pool) keeps the least gap, a costly one (a pool of many blocks' worth) is repeated less often,
so reaping takes a bounded share of the loop, and never less often than the longest gap."""

from __future__ import annotations

import pytest

from node.reap_pacing import MAX_GAP_S, MIN_GAP_S, REAP_CPU_SHARE, reap_gap_s


@pytest.mark.parametrize("cpu_s", [0.0, 0.000_05, MIN_GAP_S * REAP_CPU_SHARE])
def test_a_cheap_reap_keeps_the_least_gap(cpu_s: float) -> None:
    assert reap_gap_s(cpu_s) == MIN_GAP_S


@pytest.mark.parametrize("cpu_s", [0.002, 0.005, 0.01])
def test_a_costly_reap_takes_at_most_its_share_of_the_loop(cpu_s: float) -> None:
    gap = reap_gap_s(cpu_s)
    assert MIN_GAP_S < gap <= MAX_GAP_S
    assert cpu_s / gap == pytest.approx(REAP_CPU_SHARE)


def test_the_gap_never_exceeds_the_longest() -> None:
    assert reap_gap_s(1.0) == MAX_GAP_S
    assert reap_gap_s(MAX_GAP_S * REAP_CPU_SHARE * 2) == MAX_GAP_S
