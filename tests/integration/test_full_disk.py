"""A validator whose disk fills up (a real size-limited tmpfs under its data folder, in a real
4-node cluster): it refuses new transactions with a typed "try later" while space is low; when
the disk is full it stops with one log line and exit status 74, no traceback; it refuses to start
on a full disk in one line; once space is freed it restarts and catches up with no divergence."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from consensus.ledger.txs import Transfer
from node.config import NodeConfig, load_config, write_config
from node.disk_space import EXIT_DISK_FULL
from node.home import CONFIG_FILE
from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import http, sign, tx_json
from tests.node.small_disk import drain, fill, small_disk

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIB = 1024 * 1024
DISK_BYTES = 64 * MIB
FLOOR_BYTES = 16 * MIB
FULL = 0


def _put_data_on(cluster: Cluster, index: int, disk: Path) -> None:
    path = cluster.node(index).home / CONFIG_FILE
    config: NodeConfig = load_config(path)
    storage = dataclasses.replace(
        config.storage, data_dir=str(disk / "data"), free_bytes_min=FLOOR_BYTES
    )
    write_config(dataclasses.replace(config, storage=storage), path)


def _wait_exit(cluster: Cluster, index: int, timeout_s: float = 90.0) -> int:
    process = cluster.processes[index]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            cluster.processes.pop(index)
            return process.returncode
        time.sleep(0.2)
    raise TimeoutError(f"node {index} still running: {cluster.log_tail(index)}")


def _log(cluster: Cluster, index: int) -> str:
    return (cluster.node(index).home / "node.log").read_text(errors="replace")


def _submit(cluster: Cluster, index: int, nonce: int) -> tuple[int, dict[str, str], object]:
    tx = sign(cluster, "BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1), nonce, f"d{nonce}")
    return http(cluster.url(index) + "/api/v1/txs", tx_json(tx))


def _block_hash(cluster: Cluster, index: int, height: int) -> str:
    return str(cluster.call(index, "block", height=str(height))["block_id"]["hash"])


def test_a_full_disk_stops_the_node_cleanly_and_it_catches_up_after(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "net")
    with small_disk(tmp_path / "disk", DISK_BYTES) as disk:
        _put_data_on(cluster, 0, disk)
        try:
            cluster.start_all()
            cluster.wait_height(0, 3)

            # Low space: a typed "try later" on the full node; another node takes the tx.
            fill(disk, FLOOR_BYTES - 4 * MIB)
            time.sleep(1.1)  # the guard's reading is at most a second old
            status, headers, body = _submit(cluster, 0, 1)
            assert status == 503, body
            assert isinstance(body, dict) and body["error"]["code"] == "storage_unavailable"
            assert headers.get("Retry-After") == "1"
            assert _submit(cluster, 1, 1)[0] == 202

            # Full: the next write fails and the node stops, cleanly, with its own status.
            fill(disk, FULL)
            assert _wait_exit(cluster, 0) == EXIT_DISK_FULL
            log = _log(cluster, 0)
            assert "Traceback" not in log, log[-3000:]
            assert log.count("stopping: the disk is full") == 1, log[-3000:]

            # Still full: the start is refused in one line, the same status.
            cluster.start(0)
            assert _wait_exit(cluster, 0) == EXIT_DISK_FULL
            log = _log(cluster, 0)
            assert "Traceback" not in log, log[-3000:]
            assert "cannot start: the disk is full" in log, log[-3000:]

            # Space freed: it restarts, catches up and agrees with the others at every height.
            drain(disk)
            tip = cluster.height(1) + 2
            cluster.start(0)
            cluster.wait_healthy(0)
            cluster.wait_height(0, tip, timeout_s=120)
            for height in range(1, tip + 1):
                assert _block_hash(cluster, 0, height) == _block_hash(cluster, 1, height), height
        finally:
            cluster.stop_all()
