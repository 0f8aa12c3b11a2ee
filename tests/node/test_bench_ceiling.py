"""``depochain bench``'s same-run ceiling: real worker processes, each verifying, executing and
writing (real LevelDB) the bench's own transfers on a freshly generated localnet genesis; and
the report that prints committed tx/s only beside that ceiling. No timings are asserted: only
that the figures exist, are positive and that every transaction applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.bench import ceiling, report
from node.bench.cluster import BenchArgs, measure_ceiling, write_plan
from node.localnet import prepare_localnet

CEILING_KEYS = {
    "processes", "txs_per_process", "block_txs", "wall_s", "tx_per_s", "rejected",
    "cpu_us_per_tx", "work",
}  # fmt: skip


def _plan(tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    info, _ = prepare_localnet(tmp_path / "localnet", validators=4, base_port=47000)
    args = BenchArgs(validators=4, duration_s=1.0, rate=100.0, json_output=True, base_port=47000)
    return info, write_plan(info, args, tmp_path / "plan.json")


def test_the_ceiling_of_a_tiny_workload_is_positive_and_every_tx_applies(tmp_path: Path) -> None:
    info, plan = _plan(tmp_path)
    measured = measure_ceiling(info, plan, processes=2, count=ceiling.BLOCK_TXS + 30)
    assert set(measured) == CEILING_KEYS
    assert measured["processes"] == 2
    assert measured["txs_per_process"] == ceiling.BLOCK_TXS + 30  # two blocks: a full, a part
    assert measured["tx_per_s"] > 0
    assert measured["rejected"] == 0  # the transfers are valid on the localnet's genesis
    assert len(measured["cpu_us_per_tx"]) == 2
    assert all(us > 0 for us in measured["cpu_us_per_tx"])


def test_committed_tx_per_s_is_printed_only_with_its_ceiling() -> None:
    result: dict[str, Any] = {"committed_tx_per_s": 1234.0}
    withheld = "\n".join(report.format_throughput(result))
    assert "1234" not in withheld and "withheld" in withheld
    result["ceiling"] = {
        "tx_per_s": 4936.0, "processes": 4, "txs_per_process": 100, "work": "w",
    }  # fmt: skip
    result["ceiling_fraction"] = 0.25
    printed = "\n".join(report.format_throughput(result))
    assert "1234" in printed and "4936" in printed and "25.0 %" in printed


def test_a_nodes_cpu_per_committed_tx_is_set_beside_a_ceiling_workers() -> None:
    result: dict[str, Any] = {
        "committed": 1000,
        "load_wall_s": 2.0,
        "node_cpu_cores": {"a": 0.1, "b": 0.3},  # 0.4 CPU s per node over 1000 txs: 400 µs
        "ceiling": {"cpu_us_per_tx": [90.0, 110.0]},
    }
    figures = report.compute_cpu_per_tx(result)
    assert figures == {"node_us": 400.0, "ceiling_worker_us": 100.0, "ratio": 4.0}
    assert report.compute_cpu_per_tx({**result, "ceiling": None}) is None
