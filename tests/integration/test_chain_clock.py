"""A chain clock no validator can push, on a real 4-node cluster: one validator's clock a minute
ahead and another's a minute behind (their system clocks skewed through the TEST-ONLY
``DEPOCHAIN_CLOCK_SKEW_MS``). The chain keeps committing, and every block's time stays within
the precision of the moment the test saw it committed: the skewed proposers cannot stamp their
clocks into the chain (proposer-based time), and the skewed voters follow the network's clock
instead of finding every honest proposal untimely (network-adjusted time)."""

from __future__ import annotations

import contextlib
import datetime
import time
import urllib.error
from pathlib import Path

import pytest

from consensus.params import ConsensusParams
from node.clock import CLOCK_SKEW_ENV
from tests.integration.harness import Cluster
from tests.integration.node_process import RpcError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MINUTE_MS = 60_000
HEIGHTS = 12
"""Blocks to watch: each of the four proposers gets its turn three times."""
PRECISION_MS = ConsensusParams().timestamp_precision_ms
OBSERVE_SLACK_MS = 10_000
"""How long after its stamp a block may be first seen here (rounds lost to a slow proposer,
polling on a loaded machine): a lower bound only, to catch a clock a minute behind."""


def _header_time_ms(cluster: Cluster, index: int, height: int) -> int:
    header = cluster.call(index, "block", height=str(height))["block"]["header"]
    text = header["time"]  # RFC 3339 with nanoseconds: 2026-12-01T22:40:01.123000000Z
    seconds, _, fraction = text.rstrip("Z").partition(".")
    moment = datetime.datetime.fromisoformat(seconds).replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000) + int((fraction or "0")[:3].ljust(3, "0"))


def _watch_heights(cluster: Cluster, index: int, count: int, timeout_s: float) -> dict[int, int]:
    """Height -> wall time (ms) it was first seen committed on node ``index``."""
    seen: dict[int, int] = {}
    start = cluster.height(index)
    deadline = time.monotonic() + timeout_s
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"saw {sorted(seen)} after {start}: {cluster.log_tail(index)}")
        with contextlib.suppress(OSError, urllib.error.URLError, RpcError):
            height = cluster.height(index)
            now_ms = int(time.time() * 1000)
            for new in range(start + 1, height + 1):
                seen.setdefault(new, now_ms)
        time.sleep(0.05)
    return seen


def test_validators_a_minute_off_either_way_move_neither_the_chain_nor_its_clock(
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path / "net")
    skews = {0: MINUTE_MS, 1: -MINUTE_MS}
    try:
        for index in range(4):
            skew = skews.get(index)
            cluster.start(index, env=None if skew is None else {CLOCK_SKEW_ENV: str(skew)})
        for index in range(4):
            cluster.wait_healthy(index)
        cluster.wait_height(2, 2, timeout_s=120)
        seen = _watch_heights(cluster, 2, HEIGHTS, timeout_s=240)
        drifts = {h: _header_time_ms(cluster, 2, h) - at for h, at in sorted(seen.items())}
        print(f"block time minus when first seen, ms: {drifts}")
        print(f"max drift ahead {max(drifts.values())} ms, behind {min(drifts.values())} ms")
        for height, drift in drifts.items():
            assert drift <= PRECISION_MS, (height, drift)
            assert drift >= -OBSERVE_SLACK_MS, (height, drift)
        tip = max(seen)
        for index in (0, 1):  # the skewed validators keep up: they vote, they are not stuck
            cluster.wait_height(index, tip, timeout_s=60)
        for index in (0, 1):
            log = (cluster.node(index).home / "node.log").read_text(errors="replace")
            assert "off the median of its peers' clocks" in log, log[-2000:]
    finally:
        cluster.stop_all()
