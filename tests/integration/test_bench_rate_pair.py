"""``depochain bench --then-rate-fraction`` end to end on the smallest cluster (one validator,
real node processes, load generator and ceiling workers, twice): the second run is offered the
fraction of the tx/s the first committed, and each has its own same-run ceiling. Nothing about
speed is asserted."""

from __future__ import annotations

import pytest

from node.bench.cluster import BenchArgs
from node.bench.rate_pair import run_pair

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_second_run_is_offered_the_fraction_of_the_first() -> None:
    # Only txs committed within the load's window count: 6 s holds several blocks even on a
    # loaded machine (over 2 s, one run at load 20 committed none inside it).
    args = BenchArgs(
        validators=1, duration_s=6.0, rate=None, json_output=True, base_port=47700,
        ceiling_txs=300,
    )  # fmt: skip
    pair = run_pair(args, 0.5)
    first, second = pair["max_rate"], pair["at_fraction"]
    assert first["rate_target"] is None and first["committed_tx_per_s"] > 0
    assert second["rate_target"] == pytest.approx(0.5 * first["committed_tx_per_s"])
    for run in (first, second):
        assert run["conservation"]["ok"] and run["ceiling"]["tx_per_s"] > 0
