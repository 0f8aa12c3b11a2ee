"""`depochain localnet` for real: four node processes, /health, growing heights, SIGINT, resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.localnet import LocalnetInfo, load_localnet
from node.localnet.run import is_healthy
from tests.integration.health_wait import wait_until
from tests.integration.node_process import find_free_base_port, node_id_of_key, solo_height

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UP_TIMEOUT_S = 90.0


def get_sync_info(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/status", timeout=5) as response:
        info: dict[str, Any] = json.loads(response.read())["result"]["sync_info"]
    return info


def get_pids(home: Path) -> list[int | None]:
    document = json.loads((home / "endpoints.json").read_text())
    return [entry["pid"] for entry in document["nodes"]]


def is_process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@contextlib.contextmanager
def localnet(home: Path, base_port: int, output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`depochain localnet` as a process; killed (with its nodes) if the test fails early."""
    argv = [sys.executable, "-m", "node.cli", "localnet", "--home", str(home)]
    argv += ["--base-port", str(base_port), "--timeout", str(UP_TIMEOUT_S)]
    with open(output, "wb") as sink:
        supervisor = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until(
            lambda: "validators are up" in output.read_text(),
            "the localnet to come up",
            UP_TIMEOUT_S,
        )
        yield supervisor
    finally:
        if supervisor.poll() is None:
            supervisor.terminate()
            try:
                supervisor.wait(timeout=30)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                supervisor.wait()
                for pid in get_pids(home):
                    if pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)


def wait_for_blocks(info: LocalnetInfo, above: int) -> dict[str, int]:
    """Wait until every node reports a height above ``above``; return the heights."""
    heights: dict[str, int] = {}

    def all_above() -> bool:
        for node in info.nodes:  # each checked to be the node the localnet started
            node_id = node_id_of_key(node.node_id)
            heights[node.moniker] = solo_height(node.rpc_url, node_id, node.moniker)
        return min(heights.values()) > above

    wait_until(all_above, f"every node to pass height {above}", UP_TIMEOUT_S)
    return heights


def stop_with(supervisor: subprocess.Popen[bytes], signum: int, home: Path) -> None:
    pids = [pid for pid in get_pids(home) if pid is not None]
    assert len(pids) == 4 and all(not is_process_gone(pid) for pid in pids)
    supervisor.send_signal(signum)
    assert supervisor.wait(timeout=60) == 0
    assert all(is_process_gone(pid) for pid in pids)
    assert get_pids(home) == [None] * 4


def test_localnet_starts_makes_blocks_stops_on_sigint_and_resumes(tmp_path: Path) -> None:
    home, base = tmp_path / "localnet", find_free_base_port(4)
    with localnet(home, base, tmp_path / "first.out") as supervisor:
        info = load_localnet(home)
        assert [node.rpc_port for node in info.nodes] == [base + 1, base + 11, base + 21, base + 31]
        assert all(is_healthy(node) for node in info.nodes)
        first = wait_for_blocks(info, 0)
        second = wait_for_blocks(info, max(first.values()))
        assert all(second[name] > first[name] for name in first)
        chain_start = get_sync_info(info.nodes[0].rpc_url)["earliest_block_hash"]
        stop_with(supervisor, signal.SIGINT, home)
    reached = max(second.values())
    output = (tmp_path / "first.out").read_text()
    assert (
        "all nodes stopped (bank-a exit 0, bank-b exit 0, bank-c exit 0, bank-d exit 0)" in output
    )
    genesis = (home / "genesis.json").read_bytes()

    # Run again: the same chain continues from where it stopped.
    with localnet(home, base, tmp_path / "second.out") as supervisor:
        assert (home / "genesis.json").read_bytes() == genesis
        wait_for_blocks(info, reached)
        assert get_sync_info(info.nodes[3].rpc_url)["earliest_block_hash"] == chain_start
        stop_with(supervisor, signal.SIGTERM, home)
    assert "resuming" in (tmp_path / "second.out").read_text()


SHADOW_CLI = 'import sys\nprint("the other checkout\'s node.cli ran")\nsys.exit(9)\n'


def test_nodes_run_this_installations_code_whatever_the_current_directory(
    tmp_path: Path,
) -> None:
    """Run from inside another checkout (its own ``node`` package in the current directory),
    the localnet's nodes still run the code of the installation that launched them."""
    other = tmp_path / "other-checkout"
    (other / "node").mkdir(parents=True)
    (other / "node" / "__init__.py").write_text("")
    (other / "node" / "cli.py").write_text(SHADOW_CLI)
    launcher = Path(sys.executable).with_name("depochain")  # this installation's console script
    assert launcher.is_file(), launcher
    home, output = tmp_path / "localnet", tmp_path / "run.out"
    argv = [str(launcher), "localnet", "--home", str(home)]
    argv += ["--base-port", str(find_free_base_port(4)), "--timeout", str(UP_TIMEOUT_S)]
    with open(output, "wb") as sink:
        supervisor = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, cwd=other)
    try:
        wait_until(
            lambda: "validators are up" in output.read_text() or supervisor.poll() is not None,
            "the localnet to come up or give up",
            UP_TIMEOUT_S,
        )
        text = output.read_text()
        logs = "".join(path.read_text() for path in home.glob("*/node.log"))
        assert "the other checkout" not in logs, text
        assert "validators are up" in text, text
        stop_with(supervisor, signal.SIGTERM, home)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
