"""A real local cluster for integration tests: node processes, sockets on 127.0.0.1, LevelDB.

``Cluster`` generates a localnet (the same generator as ``depochain localnet``) on ports found
free at the time, starts each node as its own ``depochain start`` process and gives tests
control over each one (kill -9, restart) plus JSON-RPC calls to it. Starting, stopping and
waiting go through tests.integration.node_process, so every wait and height read checks that
the node answering on a port is this cluster's (not another run's) and fails at once, with the
node's log tail, when the node's process has exited.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey
from consensus.types import PublicKey
from consensus.validators import ValidatorSet
from node.config import NodeConfig, load_config, write_config
from node.home import CONFIG_FILE, load_key
from node.localnet import LocalnetInfo, NodeEndpoint, prepare_localnet
from tests.integration import health_wait, node_process
from tests.integration.node_process import rpc_call


@dataclass
class Cluster:
    home: Path
    validators: int = 4
    base_port: int | None = None
    """Where the nodes' ports begin; by default a range found free now."""
    info: LocalnetInfo = field(init=False)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = self.base_port or node_process.find_free_base_port(self.validators)
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
        self.processes[index] = node_process.start_node(node.home, node.home / "node.log", env)

    def start_all(self) -> None:
        for index in range(self.validators):
            self.start(index)
        for index in range(self.validators):
            self.wait_healthy(index)

    def wait_healthy(self, index: int, timeout_s: float | None = None) -> None:
        """Return once node ``index`` answers as itself; fail at once if its process exits or
        another node answers on its port. ``timeout_s`` is in seconds of an idle machine (see
        tests.integration.health_wait)."""
        node_process.wait_started(
            self.processes.get(index),
            self.url(index),
            self.node_id(index),
            f"node {index}",
            functools.partial(self.log_tail, index),
            timeout_s,
        )

    @contextlib.contextmanager
    def running(self, height: int = 0) -> Iterator[Cluster]:
        """Every node started and answering, node 0 at ``height`` or above; all stopped on
        leaving."""
        try:
            self.start_all()
            if height:
                self.wait_height(0, height)
            yield self
        finally:
            self.stop_all()

    def kill(self, index: int, signum: int = signal.SIGKILL) -> int:
        process = self.processes.pop(index)
        process.send_signal(signum)
        return process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for index in list(self.processes):
            node_process.stop_node(self.processes.pop(index), timeout_s=15)

    def log_tail(self, index: int, lines: int = 30) -> str:
        return health_wait.log_tail(self.node(index).home / "node.log", lines)

    # -- RPC -----------------------------------------------------------------------------------

    def url(self, index: int) -> str:
        return self.node(index).rpc_url

    def call(self, index: int, method: str, **params: Any) -> Any:
        return rpc_call(self.url(index), method, params)

    def node_id(self, index: int) -> str:
        """The ``node_info.id`` node ``index`` must report: its node key's."""
        return node_process.node_id_of_key(self.node(index).node_id)

    def status(self, index: int) -> dict[str, Any]:
        """Node ``index``'s ``status``; ForeignNodeError if another node answered."""
        return node_process.checked_status(self.url(index), self.node_id(index), f"node {index}")

    def height(self, index: int) -> int:
        return node_process.status_height(self.status(index))

    def wait_height(self, index: int, height: int, timeout_s: float = 60.0) -> int:
        """Node ``index``'s height once it is ``height`` or more; fails at once, with the log
        tail, if the node's process exits, or if another node answers on its port."""
        return node_process.wait_height(
            self.processes.get(index),
            functools.partial(self.height, index),
            height,
            f"node {index}",
            functools.partial(self.log_tail, index),
            timeout_s,
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
