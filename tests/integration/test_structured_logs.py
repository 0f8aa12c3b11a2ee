"""A real node with ``log_format = "json"``: every line it writes is one JSON object with the
required keys, and the commits, refusals, start and stop carry their typed fields. With a
``log_file`` and a small bound, the file rotates while the node runs."""

from __future__ import annotations

import base64
import dataclasses
import json
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from node.config import load_config, write_config
from node.home import CONFIG_FILE
from node.localnet import prepare_localnet
from node.logs import read_json_lines
from tests.integration.harness import Cluster
from tests.integration.node_process import (
    find_free_base_port,
    init_solo_home,
    rpc_call,
    running_node,
    start_command,
)
from tests.integration.test_localnet import localnet, stop_with, wait_for_blocks

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REQUIRED_KEYS = {"time", "level", "node", "module", "event", "message"}


def init_solo_node(home: Path, **log_keys: Any) -> str:
    """`depochain init` a single-validator home with ``log_keys`` in [node]; its RPC URL."""
    return init_solo_home(home, "logs-1", "--moniker", "bank-log", **log_keys)


def run_node_until(home: Path, url: str, output: Path, height: int, refusals: int = 1) -> None:
    """Start the node, send ``refusals`` garbage txs over the RPC (each refused and logged),
    wait for ``height``, SIGTERM it."""
    with running_node(home, url, output) as node:
        node.wait_height(1)
        for number in range(refusals):
            garbage = base64.b64encode(b"not a transaction %d" % number).decode()
            assert rpc_call(url, "broadcast_tx_sync", {"tx": garbage})["code"] != 0
        node.wait_height(height)
        assert node.stop() == 0


def events(records: list[Mapping[str, Any]], name: str) -> Iterator[Mapping[str, Any]]:
    return (record for record in records if record["event"] == name)


def test_every_line_of_a_json_node_run_is_a_json_object(tmp_path: Path) -> None:
    home, output = tmp_path / "node", tmp_path / "node.out"
    url = init_solo_node(home, log_format="json")
    run_node_until(home, url, output, height=4)
    text = output.read_text()
    records = read_json_lines(text)  # raises on the first line that is not JSON
    assert len(records) == len(text.splitlines()) >= 5
    for record in records:
        assert record.keys() >= REQUIRED_KEYS, record
        assert record["node"] == "bank-log"
    commits = list(events(records, "block_committed"))
    assert [c["height"] for c in commits[:3]] == [1, 2, 3]
    assert all(isinstance(c["round"], int) for c in commits)
    (refused,) = events(records, "tx_refused")
    assert len(refused["tx_hash"]) == 64 and refused["code"] != 0
    assert next(events(records, "node_started"))["height"] == 0
    assert next(events(records, "node_stopped"))["height"] >= 4


def test_the_log_file_of_a_running_node_rotates_at_its_bound(tmp_path: Path) -> None:
    home, bound = tmp_path / "node", 4096
    url = init_solo_node(
        home,
        log_format="json",
        log_file="logs/node.log",
        log_file_bytes_max=bound,
        log_file_backups=2,
    )
    # about 300 bytes a refusal: ~30 KB of log, more than the file and its two backups hold
    run_node_until(home, url, tmp_path / "node.out", height=3, refusals=100)
    assert (tmp_path / "node.out").read_text() == ""  # everything went to the file
    files = sorted((home / "logs").iterdir())
    assert [path.name for path in files] == ["node.log", "node.log.1", "node.log.2"]
    for path in files:
        assert 0 < path.stat().st_size <= bound, path
        for record in read_json_lines(path.read_text()):
            assert record.keys() >= REQUIRED_KEYS
    last = read_json_lines((home / "logs" / "node.log").read_text())[-1]
    assert last["event"] == "node_stopped"
    assert json.dumps(last)  # the newest record is complete, in the current file


def test_a_cluster_logs_peers_and_round_changes_with_their_fields(tmp_path: Path) -> None:
    """Four nodes logging JSON; one stops: the others log its disconnect with the peer's key,
    and each height it should have proposed goes to a later round, logged with height and
    round."""
    cluster = Cluster(tmp_path / "net")
    cluster.edit_configs(
        lambda config: dataclasses.replace(
            config, node=dataclasses.replace(config.node, log_format="json")
        )
    )
    with cluster.running():
        cluster.kill(3, signal.SIGTERM)
        start = cluster.height(0)
        cluster.wait_height(0, start + 6, timeout_s=120)  # node 3's turn to propose comes by
    records = read_json_lines((cluster.node(0).home / "node.log").read_text())
    gone = cluster.node(3).node_id
    connected = [r for r in events(records, "peer_connected") if r["peer"] == gone]
    disconnected = [r for r in events(records, "peer_disconnected") if r["peer"] == gone]
    assert connected and disconnected and disconnected[-1]["reason"]
    rounds = list(events(records, "round_changed"))
    assert all(r["round"] >= 1 for r in rounds)
    assert [r for r in rounds if r["height"] > start], "no round change after node 3 stopped"


def test_a_json_localnet_writes_only_json_lines_in_every_node_log(tmp_path: Path) -> None:
    """`depochain localnet` with log_format = "json": its own start line in each node.log is
    JSON too, so a pipeline can read the files whole. (Its default stays text, for people.)"""
    home, base = tmp_path / "localnet", find_free_base_port(4)
    info, _ = prepare_localnet(home, base_port=base)
    assert all(load_config(n.home / CONFIG_FILE).node.log_format == "text" for n in info.nodes)
    for node in info.nodes:
        config = load_config(node.home / CONFIG_FILE)
        section = dataclasses.replace(config.node, log_format="json")
        write_config(dataclasses.replace(config, node=section), node.home / CONFIG_FILE)
    with localnet(home, base, tmp_path / "localnet.out") as supervisor:
        wait_for_blocks(info, 2)
        stop_with(supervisor, signal.SIGINT, home)
    for node in info.nodes:
        records = read_json_lines(node.log_path.read_text())
        assert all(record.keys() >= REQUIRED_KEYS for record in records)
        assert records[0]["event"] == "localnet_starting"
        assert records[-1]["event"] == "node_stopped"


def test_a_node_that_cannot_bind_its_rpc_port_says_so_in_one_json_line(tmp_path: Path) -> None:
    home, output = tmp_path / "node", tmp_path / "node.out"
    url = init_solo_node(home, log_format="json")
    port = int(url.rsplit(":", 1)[1])
    with socket.create_server(("127.0.0.1", port)):  # someone else holds the RPC port
        done = subprocess.run(
            start_command(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
    output.write_bytes(done.stdout)
    assert done.returncode == 1
    records = read_json_lines(output.read_text())
    (failed,) = events(records, "node_failed")
    assert failed["level"] == "error" and "address already in use" in failed["message"].lower()
    assert "error" not in failed  # an operator's problem: no traceback
