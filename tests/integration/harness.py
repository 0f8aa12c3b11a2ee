"""A real local cluster for integration tests: node processes, sockets on 127.0.0.1, LevelDB.

``Cluster`` generates a localnet (the same generator as ``depochain localnet``) on ports found
free at the time, starts each node as its own ``depochain start`` process and gives tests
control over each one (kill -9, restart) plus a small JSON-RPC client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey
from consensus.types import PublicKey
from consensus.validators import ValidatorSet
from node.config import NodeConfig, load_config, write_config
from node.home import CONFIG_FILE, load_key
from node.localnet import LocalnetInfo, NodeEndpoint, prepare_localnet
from tests.integration import health_wait

RPC_TIMEOUT_S = 15.0


EPHEMERAL_PORT_MIN = 32768
"""Where Linux's default range of outgoing connections' source ports begins. Nodes listen below
it: a port there cannot be taken by some client's connection between a node's kill and its
restart (with every RPC poll opening a connection, thousands are in TIME_WAIT on a busy box)."""


def find_free_base_port(count: int, stride: int = 10) -> int:
    """A base port whose whole range (P2P and RPC of ``count`` nodes) is free right now."""
    last = EPHEMERAL_PORT_MIN - stride * count
    for base in range(10000 + (os.getpid() % 100) * 100, last, 500):
        ports = [base + stride * i + offset for i in range(count) for offset in (0, 1)]
        if all(_is_free(port) for port in ports):
            return base
    raise RuntimeError("no free port range found")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(json.dumps(error))
        self.error = error


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


@dataclass
class Cluster:
    home: Path
    validators: int = 4
    info: LocalnetInfo = field(init=False)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = find_free_base_port(self.validators)
        self.info, _ = prepare_localnet(self.home, validators=self.validators, base_port=base)

    def edit_configs(self, change: Callable[[NodeConfig], NodeConfig]) -> None:
        """Rewrite every node's config file with ``change``; takes effect at each node's next
        start."""
        for node in self.info.nodes:
            path = node.home / CONFIG_FILE
            write_config(change(load_config(path)), path)

    def add_peer(self, peer_address: str) -> None:
        """Add ``pubkeyhex@host:port`` to every node's persistent peers, which are both its
        allowlist and its dial list (a test's observer). Call it before the nodes start."""

        def add(config: NodeConfig) -> NodeConfig:
            peers = (*config.p2p.persistent_peers, peer_address)
            p2p = dataclasses.replace(config.p2p, persistent_peers=peers)
            return dataclasses.replace(config, p2p=p2p)

        self.edit_configs(add)

    # -- processes -----------------------------------------------------------------------------

    def node(self, index: int) -> NodeEndpoint:
        return self.info.nodes[index]

    def start(self, index: int, env: dict[str, str] | None = None) -> None:
        node = self.node(index)
        log = open(node.home / "node.log", "ab")  # noqa: SIM115 - owned by the child
        self.processes[index] = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "start", "--home", str(node.home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        log.close()

    def start_all(self) -> None:
        for index in range(self.validators):
            self.start(index)
        for index in range(self.validators):
            self.wait_healthy(index)

    def wait_healthy(self, index: int, timeout_s: float | None = None) -> None:
        """Return once node ``index`` answers ``health``; fail at once if its process exits.
        ``timeout_s`` is in seconds of an idle machine (see tests.integration.health_wait)."""
        health_wait.wait_healthy(
            self.processes.get(index),
            functools.partial(answers_health, self.url(index)),
            f"node {index}",
            functools.partial(self.log_tail, index),
            timeout_s,
        )

    def kill(self, index: int, signum: int = signal.SIGKILL) -> int:
        process = self.processes.pop(index)
        process.send_signal(signum)
        return process.wait(timeout=30)

    def stop_all(self) -> None:
        for index in list(self.processes):
            process = self.processes[index]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for index in list(self.processes):
            process = self.processes.pop(index)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, index: int, lines: int = 30) -> str:
        return health_wait.log_tail(self.node(index).home / "node.log", lines)

    # -- RPC -----------------------------------------------------------------------------------

    def url(self, index: int) -> str:
        return self.node(index).rpc_url

    def call(self, index: int, method: str, **params: Any) -> Any:
        return rpc_call(self.url(index), method, params)

    def height(self, index: int) -> int:
        return int(self.call(index, "status")["sync_info"]["latest_block_height"])

    def wait_height(self, index: int, height: int, timeout_s: float = 60.0) -> int:
        deadline = time.monotonic() + timeout_s
        current = -1
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, urllib.error.URLError, RpcError):
                current = self.height(index)
                if current >= height:
                    return current
            time.sleep(0.1)
        raise TimeoutError(
            f"node {index} at height {current}, wanted {height}: {self.log_tail(index)}"
        )

    # -- keys ----------------------------------------------------------------------------------

    def validator_key(self, index: int) -> PublicKey:
        """The public validator key of node ``index``."""
        entry = self.info.document["nodes"][index]
        return PublicKey(bytes.fromhex(entry["validator_public_key"]))

    def validator_set(self) -> ValidatorSet:
        """The genesis validator set, read from genesis.json (its participants' keys and
        powers)."""
        genesis = json.loads((self.home / "genesis.json").read_text())
        return ValidatorSet.of(
            (bytes.fromhex(p["validator_key"]), int(p["validator_power"]))
            for p in genesis["ledger"]["participants"]
            if p["validator_key"] is not None
        )

    def participant_key(self, participant_id: str) -> PrivateKey:
        return load_key(self.home / "participants" / f"{participant_id}.json")

    def account_key(self, account_id: str) -> PrivateKey:
        file_name = account_id.replace("/", "_") + ".json"
        path = self.home / "accounts" / file_name
        if not path.exists():
            path = self.home / "accounts" / f"{account_id}.json"
        return load_key(path)

    def endpoints(self) -> dict[str, Any]:
        endpoints: dict[str, Any] = json.loads((self.home / "endpoints.json").read_text())
        return endpoints
