"""A node joining by state sync shows its progress on ``/status`` while it restores (real
processes: four validators taking snapshots and an empty fifth node).

The joiner runs with the TEST-ONLY failpoint ``statesync_slow_fetch`` (one chunk at a time, a
pause after each) so the fetch lasts long enough to be watched; everything else is the real
restore. While it restores, ``status`` answers ``catching_up: true`` with the phase, the
snapshot's height and chunks fetched of total, and reads answer 503 ``syncing``; once the node
proper runs, ``status`` is the chain's, and ``catching_up`` turns false at the tip.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from node.rpc.jsonrpc import SYNCING
from tests.integration.node_process import check_node_id
from tests.integration.statesync_joiner import Joiner, cluster_with_joiner

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SNAPSHOT_INTERVAL = 5
CHUNK_BYTES = 2048
"""Small, so the localnet's state is several chunks (each fetched a second apart)."""
POLL_S = 0.1
WATCH_TIMEOUT_S = 240.0


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _watch_restore(joiner: Joiner) -> tuple[list[dict[str, Any]], list[tuple[int, Any]]]:
    """Every ``state_sync`` progress seen on /status until the node proper answers it, and
    what a block read and the REST status answered during the fetch."""
    seen: list[dict[str, Any]] = []
    during: list[tuple[int, Any]] = []
    deadline = time.monotonic() + WATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        assert joiner.process is not None and joiner.process.poll() is None, joiner.log_text()
        with contextlib.suppress(OSError):  # the port is closed before and between the servers
            _, answer = _get(joiner.url + "/status")
            check_node_id(answer["result"], joiner.node_id, joiner.url, "joiner")
            progress = answer["result"]["sync_info"].get("state_sync")
            if progress is None:
                return seen, during
            seen.append(progress)
            if progress["phase"] == "fetching" and not during:
                during = [_get(joiner.url + "/block?height=1"), _get(joiner.url + "/api/v1/status")]
        time.sleep(POLL_S)
    raise TimeoutError(f"the restore did not end: {joiner.log_text()[-3000:]}")


def test_a_joining_node_shows_its_restore_on_status(tmp_path: Path) -> None:
    with cluster_with_joiner(tmp_path, SNAPSHOT_INTERVAL, CHUNK_BYTES, 200) as (cluster, joiner):
        cluster.start_all()
        cluster.wait_height(0, 2 * SNAPSHOT_INTERVAL + 2, timeout_s=240)
        joiner.start(env={"DEPOCHAIN_FAILPOINT": "statesync_slow_fetch"})
        seen, during = _watch_restore(joiner)
        phases = [progress["phase"] for progress in seen]
        assert "discovering" in phases and "fetching" in phases, phases
        fetching = [p for p in seen if p["phase"] == "fetching"]
        total = int(fetching[0]["chunks_total"])
        fetched = sorted({int(p["chunks_fetched"]) for p in fetching})
        assert total >= 2 and len(fetched) >= 2 and fetched[-1] <= total, fetching
        target = int(fetching[0]["target_height"])
        assert target > 0 and target % SNAPSHOT_INTERVAL == 0
        assert all(int(p["target_height"]) == target for p in fetching)
        (block_status, block), (rest_status, rest) = during
        assert block_status == 503 and block["error"]["code"] == SYNCING, block
        assert rest_status == 200 and rest["catching_up"] is True
        assert rest["state_sync"]["target_height"] == target
        joiner.wait_height(cluster.height(0), 240)
        sync = _wait_caught_up(joiner)
        assert int(sync["earliest_block_height"]) == target


def _wait_caught_up(joiner: Joiner) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sync = joiner.status()["sync_info"]
        if sync["catching_up"] is False:
            return sync  # type: ignore[no-any-return]
        time.sleep(POLL_S)
    raise TimeoutError(f"still catching up: {joiner.log_text()[-3000:]}")
