"""``bench --attack`` reports how hard the attacker pushed while the load was measured, not
over its whole run (which also spans the load generator's signing and the drain)."""

from __future__ import annotations

import pytest

from node.bench.under_attack import rates_in_window


def test_only_what_the_attacker_added_inside_the_window_counts() -> None:
    timeline = [
        (10.0, {"junk_sent": 1_000}),  # before the load: the attacker warming up alone
        (20.0, {"junk_sent": 5_000, "heavy_batches": 2}),
        (30.0, {"junk_sent": 6_000, "heavy_batches": 12}),
        (40.0, {"junk_sent": 90_000, "heavy_batches": 13}),  # after the load
    ]
    rates = rates_in_window(timeline, 20.0, 30.0)
    assert rates == pytest.approx({"junk_sent": 100.0, "heavy_batches": 1.0})


def test_a_count_first_seen_inside_the_window_starts_from_zero() -> None:
    timeline = [(1.0, {}), (3.0, {"heavy_batches": 4})]
    assert rates_in_window(timeline, 2.0, 4.0) == pytest.approx({"heavy_batches": 2.0})
