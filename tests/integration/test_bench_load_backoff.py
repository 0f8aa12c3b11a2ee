"""The bench's load generator against a real node whose mempool is tiny: it is told "try later"
(mempool full), waits instead of hammering, sends the rest again in nonce order, and in the end
every transaction is accepted and committed. Nothing about speed is asserted."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from node.bench import load
from node.bench.cluster import BenchArgs, write_plan
from node.config import NodeConfig
from tests.integration.harness import Cluster
from tests.integration.node_process import rpc_call

pytestmark = pytest.mark.integration

MEMPOOL_TXS = 40
TXS = 400


def _tiny_mempool(config: NodeConfig) -> NodeConfig:
    return dataclasses.replace(
        config, mempool=dataclasses.replace(config.mempool, txs_max=MEMPOOL_TXS)
    )


def _wait_committed(url: str, want: int, deadline_s: float) -> int:
    """Txs in blocks so far, polled until ``want`` or the deadline."""
    deadline, height, seen = time.monotonic() + deadline_s, 0, 0
    while time.monotonic() < deadline and seen < want:
        latest = int(rpc_call(url, "status")["sync_info"]["latest_block_height"])
        while height < latest:
            height += 1
            block = rpc_call(url, "block", {"height": str(height)})
            seen += len(block["block"]["data"]["txs"] or [])
        time.sleep(0.2)
    return seen


def test_a_full_mempool_makes_the_load_generator_wait_and_resend(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "net", validators=1)
    cluster.edit_configs(_tiny_mempool)
    try:
        cluster.start_all()
        args = BenchArgs(validators=1, duration_s=120.0, rate=None, json_output=True, base_port=0)
        plan = write_plan(cluster.info, args, tmp_path / "plan.json")
        txs = load.build_transfers(plan["chain_id"], load.read_payers(plan), TXS)
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)

        submitted_at, outcome = load.submit([cluster.url(0)], txs, 120.0, None, sleep)
        assert outcome["full"] > 0  # the node did say "try later"
        # each "try later" was followed by a wait, not an immediate resend
        assert len(waits) == outcome["backoff_waits"] > 0
        assert min(waits) >= load.BACKOFF_FIRST_S
        assert outcome["accepted"] == TXS and outcome["errors"] == 0, outcome
        assert outcome["rejected"] == 0  # resent in order: no nonce ever arrived early
        assert len(submitted_at) == TXS
        assert _wait_committed(cluster.url(0), TXS, 120.0) == TXS
    finally:
        cluster.stop_all()


def test_retry_after_is_what_the_server_said_and_the_own_backoff_doubles_to_a_cap() -> None:
    backoff = load.Backoff()
    assert backoff.next_delay(load.parse_retry_after("2")) == 2.0
    assert backoff.next_delay(load.parse_retry_after("not a number")) == load.BACKOFF_MAX_S
    assert load.parse_retry_after("-1") is None
    backoff.reset()
    delays = [backoff.next_delay(None) for _ in range(8)]
    assert delays[0] == load.BACKOFF_FIRST_S
    assert delays == sorted(delays) and delays[-1] == load.BACKOFF_MAX_S
    assert backoff.next_delay(load.parse_retry_after("3600")) == load.RETRY_AFTER_MAX_S
