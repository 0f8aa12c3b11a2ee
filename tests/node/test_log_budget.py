"""A flood of refused submissions does not become a flood of log lines (``node.log_budget``):
a real assembled node (LevelDB, mempool) is sent 1,000 strangers' txs through its services;
the first ``BURST`` refusals are logged one by one, the rest only counted, and the next line
that fits says how many were left out."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from consensus.ledger.txs import Transfer
from node.app import Node, NodeHome
from node.log_budget import BURST, RATE_PER_S, LogBudget
from tests.consensus.ledger.world import TxFactory
from tests.node.node_world import ME, write_home

JUNK = 1_000


def refusal_events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", "").startswith("tx_refus")]


def test_a_junk_flood_logs_a_burst_then_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    factory = TxFactory()
    junk = [
        factory.raw(f"EVIL{i}/x", Transfer("BANKA/bob", "BANKA:USD", 1), ["evil"], nonce=1)
        for i in range(JUNK + 1)
    ]
    node = Node(NodeHome.load(write_home(tmp_path / "home", ME)))
    try:
        caplog.set_level(logging.INFO, logger="depochain.services")
        started = time.monotonic()
        for raw in junk[:JUNK]:
            node.services.submit_tx(raw)
        refilled = int((time.monotonic() - started) * RATE_PER_S) + 1
        logged = [r for r in refusal_events(caplog) if r.event == "tx_refused"]
        assert BURST <= len(logged) <= BURST + refilled
        assert len(logged) < JUNK / 4  # on the code before: one line per refusal
        time.sleep(1.5 / RATE_PER_S)  # a line fits again
        caplog.clear()
        node.services.submit_tx(junk[JUNK])
        summary, last = refusal_events(caplog)
        assert summary.event == "tx_refusals_unlogged" and last.event == "tx_refused"
        assert f"{JUNK - len(logged)} refused transactions were not logged" in summary.message
        assert node.mempool.stats().rejected_total == JUNK + 1  # every refusal still counted
    finally:
        node.close()


def test_the_budget_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    budget = LogBudget(rate_per_s=2.0, burst=3, now_s=lambda: now[0])
    assert [budget.allow() for _ in range(5)] == [True, True, True, False, False]
    now[0] = 1.0  # two more
    assert [budget.allow() for _ in range(3)] == [True, True, False]
    assert budget.take_unlogged() == 3 and budget.take_unlogged() == 0
    now[0] = 100.0  # never more than the burst
    assert sum(budget.allow() for _ in range(10)) == 3
