"""``depochain bench --profile``'s stage attribution, on a real cProfile of the node's real
admission and execution code: every second of own time lands in exactly one stage, and the
stages the code went through are the ones that get it. No timings are asserted."""

from __future__ import annotations

import cProfile
import math
import pstats
import time
from typing import Any

from consensus.ledger import execute_block
from node.bench import stages
from node.bench.ledger import build_bench_genesis, make_transfers
from node.bench.world import GENESIS_TIME_MS
from node.checktx import make_checker


def _profile_admission_and_execution() -> dict[Any, Any]:
    genesis = build_bench_genesis()
    raws = [tx.encode() for tx in make_transfers(40, cross_bank=False, salt="stages")]
    check = make_checker(lambda: genesis, lambda: GENESIS_TIME_MS)
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for raw in raws:
        check(raw)
    execute_block(genesis, raws, 1, GENESIS_TIME_MS + 1)  # no verdicts: it verifies again
    profiler.disable()
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return stats


def test_every_second_of_own_time_lands_in_one_stage() -> None:
    stats = _profile_admission_and_execution()
    attributed = stages.attribute(stats)
    own_total = sum(row[2] for row in stats.values())
    assert math.isclose(sum(attributed.values()), own_total, rel_tol=1e-9, abs_tol=1e-12)
    by_stage: dict[str, float] = {}
    for (stage, _), spent in attributed.items():
        by_stage[stage] = by_stage.get(stage, 0.0) + spent
    assert by_stage["Ed25519 verify (txs)"] > 0
    assert by_stage["admission (check)"] > 0
    assert by_stage["execution"] > 0
    assert not {"rpc parse + answer", "storage", "indexing"} & set(by_stage)


def test_stage_entries_follow_the_rules_first_match_first() -> None:
    assert stages.stage_of(("/x/node/driver.py", 1, "_commit")) == "commit bookkeeping"
    assert stages.stage_of(("/x/node/driver.py", 1, "_process")) == "consensus"
    assert stages.stage_of(("/x/consensus/ledger/txs.py", 1, "verify_tx_signatures")) == (
        "Ed25519 verify (txs)"
    )
    assert stages.stage_of(("/x/consensus/codec.py", 1, "encode")) is None
