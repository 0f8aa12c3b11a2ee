"""``depochain bench --json`` end to end on the smallest cluster (one validator, real node
process, real load generator, real ceiling workers): the result carries the committed figure
with its same-run ceiling, the fraction, the latency percentiles, the load generator's CPU and
the CPU per committed tx. Nothing about speed is asserted."""

from __future__ import annotations

import pytest

from node.bench.cluster import BenchArgs, run_bench

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_json_result_has_the_ceiling_beside_every_figure() -> None:
    args = BenchArgs(
        validators=1, duration_s=2.0, rate=200.0, json_output=True, base_port=47600,
        ceiling_txs=300,
    )  # fmt: skip
    result = run_bench(args)
    assert result["conservation"]["ok"]
    assert result["committed"] > 0 and result["committed_tx_per_s"] > 0
    ceiling = result["ceiling"]
    assert ceiling["processes"] == 1 and ceiling["txs_per_process"] == 300
    assert ceiling["tx_per_s"] > 0 and ceiling["rejected"] == 0
    assert ceiling["before_tx_per_s"] > 0 and ceiling["after_tx_per_s"] > 0
    assert result["ceiling_fraction"] == result["committed_tx_per_s"] / ceiling["tx_per_s"]
    assert set(result["latency_s"]) == {"p50", "p95", "p99"}
    assert all(value is not None for value in result["latency_s"].values())
    assert result["load_cpu_cores"] > 0
    assert set(result["cpu_us_per_committed_tx"]) == {"node_us", "ceiling_worker_us", "ratio"}
