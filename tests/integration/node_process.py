"""One node of a test as its own ``depochain start`` process: its start command, JSON-RPC calls
to it, the check that the node answering on its port is the one the test started, and waits
that fail at once, with the node's log tail, when its process has exited.

Tests find their ports free at run time, but another run on the same machine can take a port
between that check and the node's bind (or while a test has a node stopped). The test's node
then fails to bind while the other run's node answers every request, and the test talks to a
chain that is not its own (once seen as "too few of its registered keys signed"). So every
wait here, and every height read, compares ``status``'s ``node_info.id`` with the id of the
node key the test wrote into the node's home, and a different id fails at once, naming both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from node.config import load_config, write_config
from node.home import CONFIG_FILE, NODE_KEY_FILE, load_key
from tests.integration import health_wait

RPC_TIMEOUT_S = 15.0
POLL_S = 0.1
NODE_ID_BYTES = 20
"""``node_info.id`` is the hex of the node key's first 20 bytes, as CometBFT's is 20 bytes."""


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(json.dumps(error))
        self.error = error


class ForeignNodeError(RuntimeError):
    """The node answering on a test node's port is another node (another run's, most likely)."""


def rpc_call(url: str, method: str, params: dict[str, Any] | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_S) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RpcError(answer["error"])
    return answer["result"]


def answers_health(url: str) -> bool:
    """Whether the node serving JSON-RPC at ``url`` answers ``health`` now."""
    try:
        rpc_call(url, "health")
    except (OSError, urllib.error.URLError, RpcError, ValueError):
        return False
    return True


EPHEMERAL_PORT_MIN = 32768
"""Where Linux's default range of outgoing connections' source ports begins. Nodes listen below
it: a port there cannot be taken by some client's connection between a node's kill and its
restart (with every RPC poll opening a connection, thousands are in TIME_WAIT on a busy box)."""


def find_free_base_port(count: int, stride: int = 10) -> int:
    """A base port whose whole range (P2P and RPC of ``count`` nodes) is free right now."""
    last = EPHEMERAL_PORT_MIN - stride * count
    for base in range(10000 + (os.getpid() % 100) * 100, last, 500):
        ports = [base + stride * i + offset for i in range(count) for offset in (0, 1)]
        if all(is_free(port) for port in ports):
            return base
    raise RuntimeError("no free port range found")


def is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- who answers -------------------------------------------------------------------------------


def node_id_of_key(public_key_hex: str) -> str:
    """The ``node_info.id`` of the node whose node key's public key is ``public_key_hex``."""
    return public_key_hex[: 2 * NODE_ID_BYTES]


def node_id_of_home(home: Path) -> str:
    """The ``node_info.id`` the node started from ``home`` must report (its node key's)."""
    return node_id_of_key(load_key(home / NODE_KEY_FILE).public_key.hex())


def check_node_id(status: dict[str, Any], expected_id: str, url: str, name: str) -> None:
    """Raise :class:`ForeignNodeError` unless ``status`` (as read from ``url``) is from the node
    whose id is ``expected_id``."""
    info = status.get("node_info", {})
    answered = info.get("id")
    if answered != expected_id:
        raise ForeignNodeError(
            f"{name}: the node answering at {url} is not the one this test started: it reports "
            f"node id {answered} (moniker {info.get('moniker')!r}, chain {info.get('network')!r}),"
            f" the test's node has id {expected_id}; another run's node holds the port?"
        )


def checked_status(url: str, expected_id: str, name: str) -> dict[str, Any]:
    """``status`` from ``url``, checked to come from the node with ``expected_id``."""
    status: dict[str, Any] = rpc_call(url, "status")
    check_node_id(status, expected_id, url, name)
    return status


def answers_as(url: str, expected_id: str, name: str) -> bool:
    """Whether our node answers at ``url`` now: False while nothing answers there; raises
    :class:`ForeignNodeError` if another node does."""
    try:
        checked_status(url, expected_id, name)
    except (OSError, urllib.error.URLError, RpcError, ValueError):
        return False
    return True


def status_height(status: dict[str, Any]) -> int:
    return int(status["sync_info"]["latest_block_height"])


def solo_height(url: str, expected_id: str, name: str = "node") -> int:
    """The height of the node with ``expected_id`` at ``url`` (ForeignNodeError if another)."""
    return status_height(checked_status(url, expected_id, name))


# -- the process -------------------------------------------------------------------------------


def start_command(home: Path) -> list[str]:
    """The argv that starts the node of ``home``, with this interpreter."""
    return [sys.executable, "-m", "node.cli", "start", "--home", str(home)]


def start_node(
    home: Path, log: Path, env: dict[str, str] | None = None, prefix: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """Start the node of ``home``, its output appended to ``log``; ``prefix`` goes before the
    command (e.g. ``setpriv ... --``), ``env`` over this process's environment."""
    with open(log, "ab") as sink:
        return subprocess.Popen(
            [*prefix, *start_command(home)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def stop_node(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    """SIGTERM ``process`` (if it still runs) and reap it; SIGKILL if it outlasts
    ``timeout_s``. Its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def wait_started(
    process: subprocess.Popen[bytes] | None,
    url: str,
    expected_id: str,
    name: str,
    log_tail: Callable[[], str],
    timeout_s: float | None = None,
) -> None:
    """Return once the node with ``expected_id`` answers at ``url`` (see
    :func:`health_wait.wait_healthy` for the budget and the exit check); raise
    :class:`ForeignNodeError` at once if another node answers there."""
    health_wait.wait_healthy(
        process, lambda: answers_as(url, expected_id, name), name, log_tail, timeout_s
    )


def wait_height(
    process: subprocess.Popen[bytes] | None,
    read_height: Callable[[], int],
    height: int,
    name: str,
    log_tail: Callable[[], str],
    timeout_s: float,
) -> int:
    """Poll ``read_height()`` until it is ``height`` or more and return it. Raise
    RuntimeError at once if ``process`` exits, TimeoutError after ``timeout_s`` on the wall
    clock (both with ``log_tail()``); a :class:`ForeignNodeError` from ``read_height`` passes."""
    deadline = time.monotonic() + timeout_s
    current = -1
    while time.monotonic() < deadline:
        health_wait.fail_if_exited(process, f"{name} (at height {current})", log_tail)
        with contextlib.suppress(OSError, urllib.error.URLError, RpcError, ValueError):
            current = read_height()
            if current >= height:
                return current
        time.sleep(POLL_S)
    raise TimeoutError(f"{name} at height {current}, wanted {height}: {log_tail()}")


def init_solo_home(home: Path, chain_id: str, *init_args: str, **node_keys: Any) -> str:
    """`depochain init` a single-validator home on ports found free (``init_args`` added to
    its command line), then set ``node_keys`` in its config's [node]; its RPC URL."""
    p2p = find_free_base_port(1)
    init = [sys.executable, "-m", "node.cli", "init", "--home", str(home), "--chain-id", chain_id]
    init += [*init_args, "--p2p-port", str(p2p), "--rpc-port", str(p2p + 1)]
    subprocess.run(init, check=True, capture_output=True)
    if node_keys:
        config = load_config(home / CONFIG_FILE)
        section = dataclasses.replace(config.node, **node_keys)
        write_config(dataclasses.replace(config, node=section), home / CONFIG_FILE)
    return f"http://127.0.0.1:{p2p + 1}"


@dataclasses.dataclass
class SoloNode:
    """A node process a test started on its own (not part of a :class:`Cluster`)."""

    process: subprocess.Popen[bytes]
    url: str
    node_id: str
    log: Path
    name: str = "node"

    def log_tail(self) -> str:
        return health_wait.log_tail(self.log)

    def height(self) -> int:
        return solo_height(self.url, self.node_id, self.name)

    def wait_height(self, height: int, timeout_s: float = 60.0) -> int:
        """Its height once it is ``height`` or more (see :func:`wait_height`)."""
        return wait_height(self.process, self.height, height, self.name, self.log_tail, timeout_s)

    def stop(self) -> int:
        """SIGTERM it and wait; its exit code (see :func:`stop_node`)."""
        return stop_node(self.process)


@contextlib.contextmanager
def running_node(home: Path, url: str, log: Path, name: str = "node") -> Iterator[SoloNode]:
    """The node of ``home`` started, answering at ``url`` as itself, its output appended to
    ``log``; on leaving, SIGKILLed and reaped if the test has not stopped it."""
    node = SoloNode(start_node(home, log), url, node_id_of_home(home), log, name)
    try:
        wait_started(node.process, url, node.node_id, name, node.log_tail)
        yield node
    finally:
        if node.process.poll() is None:
            node.process.kill()
        node.process.wait()
