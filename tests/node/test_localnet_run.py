"""Localnet process orchestration with a stand-in node (a tiny HTTP server answering /health).

The real node runtime is exercised by tests/integration/test_localnet.py; here the command that
starts a node is injected, so start-up, health waiting, failure reports, shutdown (SIGTERM, then
SIGKILL) and signal handling are tested with real processes and sockets but no consensus.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from node.localnet import LocalnetInfo, prepare_localnet
from node.localnet.run import is_healthy, is_port_free, run_localnet

STUB = textwrap.dedent(
    """
    import http.server, signal, sys, time, tomllib
    home, mode = sys.argv[1], sys.argv[2]
    with open(home + "/config.toml", "rb") as f:
        port = tomllib.load(f)["rpc"]["listen_port"]
    print("stub node starting", home, mode, flush=True)
    if mode == "crash":
        print("boom: cannot open the block store", flush=True)
        sys.exit(3)
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if mode == "mute":
        while True:
            time.sleep(1)
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"{}")
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
    """
)


def stub_command(modes: dict[str, str] | None = None) -> Callable[[Path], list[str]]:
    """Start the stub; ``modes`` maps a moniker to crash / ignore-term / mute (default ok)."""
    return lambda home: [sys.executable, "-c", STUB, str(home), (modes or {}).get(home.name, "ok")]


def find_free_base_port(nodes: int = 4) -> int:
    """A base port below the ephemeral range whose 2 * nodes ports are all free now."""
    for _ in range(100):
        base = random.randrange(20000, 32000, 10)
        ports = [base + 10 * i + j for i in range(nodes) for j in (0, 1)]
        if all(is_port_free(port) for port in ports):
            return base
    raise RuntimeError("no free ports")


@pytest.fixture
def net(tmp_path: Path) -> LocalnetInfo:
    info, _ = prepare_localnet(tmp_path / "ln", base_port=find_free_base_port())
    return info


def pids_in_endpoints(info: LocalnetInfo) -> list[int | None]:
    document = json.loads((info.home / "endpoints.json").read_text())
    return [entry["pid"] for entry in document["nodes"]]


def is_process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_nodes_start_answer_health_and_stop_cleanly(net: LocalnetInfo) -> None:
    stop, out = threading.Event(), io.StringIO()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(
            run_localnet(net, command=stub_command(), out=out, stop=stop, grace_s=5)
        )
    )
    runner.start()
    try:
        wait_until(lambda: "validators are up" in out.getvalue(), "the localnet to come up")
        assert all(is_healthy(node) for node in net.nodes)
        pids = pids_in_endpoints(net)
        assert all(pid is not None and not is_process_gone(pid) for pid in pids)
        assert len(set(pids)) == 4
    finally:
        stop.set()
        runner.join(30)
    assert result == [0]
    assert all(is_process_gone(pid) for pid in pids if pid is not None)
    assert pids_in_endpoints(net) == [None] * 4
    text = out.getvalue()
    assert f"curl -s {net.nodes[0].rpc_url}/status" in text
    assert "bank-d exit 0" in text
    for node in net.nodes:
        assert "starting" in node.log_path.read_text()  # the child's stdout went to node.log


def test_a_crashing_node_is_reported_with_its_log_and_the_rest_stopped(
    net: LocalnetInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_localnet(net, command=stub_command({"bank-c": "crash"}), grace_s=5)
    err = capsys.readouterr().err
    assert code == 1
    assert "bank-c exited with code 3 before it became healthy" in err
    assert "boom: cannot open the block store" in err
    assert all(is_process_gone(pid) for pid in pids_in_endpoints(net) if pid is not None)
    assert pids_in_endpoints(net) == [None] * 4


def test_a_node_that_never_answers_times_out_with_a_clear_message(
    net: LocalnetInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_localnet(
        net, command=stub_command({"bank-b": "mute"}), health_timeout_s=1.0, grace_s=5
    )
    err = capsys.readouterr().err
    assert code == 1
    assert f"bank-b did not answer GET {net.nodes[1].rpc_url}/health within 1 s" in err
    assert "stub node starting" in err  # the log tail


def test_a_node_ignoring_sigterm_is_killed_after_the_grace_period(
    net: LocalnetInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    stop, out = threading.Event(), io.StringIO()
    result: list[int] = []
    command = stub_command({"bank-a": "ignore-term"})
    runner = threading.Thread(
        target=lambda: result.append(
            run_localnet(net, command=command, out=out, stop=stop, grace_s=0.5)
        )
    )
    runner.start()
    try:
        wait_until(lambda: "validators are up" in out.getvalue(), "the localnet to come up")
    finally:
        stop.set()
        runner.join(30)
    assert result == [0]
    assert f"bank-a exit {-signal.SIGKILL}" in out.getvalue()
    assert "bank-b exit 0" in out.getvalue()


def test_a_node_dying_later_stops_the_localnet(net: LocalnetInfo) -> None:
    out = io.StringIO()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(run_localnet(net, command=stub_command(), out=out))
    )
    runner.start()
    wait_until(lambda: "validators are up" in out.getvalue(), "the localnet to come up")
    victim = pids_in_endpoints(net)[2]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    runner.join(30)
    assert result == [1]
    assert all(is_process_gone(pid) for pid in pids_in_endpoints(net) if pid is not None)


def test_a_busy_port_is_named_and_nothing_starts(
    net: LocalnetInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[Path] = []

    def command(home: Path) -> list[str]:
        started.append(home)
        return stub_command()(home)

    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", net.nodes[1].rpc_port))
        squatter.listen()
        code = run_localnet(net, command=command)
    err = capsys.readouterr().err
    assert code == 1
    assert f"{net.nodes[1].rpc_port} (RPC of bank-b) already in use" in err
    assert started == []


def test_a_node_that_cannot_be_started_is_reported_and_the_others_stopped(
    net: LocalnetInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    def command(home: Path) -> list[str]:
        if home.name == "bank-c":
            return [str(home / "no-such-program")]
        return stub_command()(home)

    out = io.StringIO()
    assert run_localnet(net, command=command, grace_s=5, out=out) == 1
    assert "cannot start bank-c" in capsys.readouterr().err
    # the two started before it were stopped (maybe before their SIGTERM handler existed)
    assert re.search(
        r"all nodes stopped \(bank-a exit (0|-15), bank-b exit (0|-15)\)", out.getvalue()
    )
    assert pids_in_endpoints(net) == [None] * 4


SUPERVISOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from node.localnet import load_localnet
    from node.localnet.run import run_localnet
    home, stub = Path(sys.argv[1]), sys.argv[2]
    command = lambda node_home: [sys.executable, "-c", stub, str(node_home), "ok"]
    sys.exit(run_localnet(load_localnet(home), command=command, grace_s=5))
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_supervisor_stops_every_node_on_a_signal(
    net: LocalnetInfo, signum: signal.Signals, tmp_path: Path
) -> None:
    output = tmp_path / "supervisor.out"
    with open(output, "w") as sink:
        supervisor = subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR, str(net.home), STUB],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "validators are up" in output.read_text(), "the localnet to come up")
        pids = [pid for pid in pids_in_endpoints(net) if pid is not None]
        assert len(pids) == 4
        supervisor.send_signal(signum)
        supervisor.wait(timeout=30)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
    text = output.read_text()
    assert supervisor.returncode == 0, text
    assert "all nodes stopped (bank-a exit 0, bank-b exit 0, bank-c exit 0, bank-d exit 0)" in text
    assert all(is_process_gone(pid) for pid in pids)
