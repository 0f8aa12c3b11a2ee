"""A fifth node for a test cluster: a full node (no validator key) that joins by state sync.

Its home has the cluster's genesis, a fresh node key and a config that lists the four
validators as peers; every validator lists it too (``Cluster.add_peer``), which is how this
permissioned network admits a node. It runs as its own ``depochain start`` process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey
from node.config import NodeConfig, load_config
from node.home import CONFIG_FILE, GENESIS_FILE
from node.localnet.generate import write_node_home
from tests.integration import node_process
from tests.integration.harness import Cluster
from tests.integration.node_process import rpc_call


@dataclasses.dataclass
class Joiner:
    home: Path
    rpc_port: int
    p2p_port: int
    node_key: PrivateKey
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def node_id(self) -> str:
        """The ``node_info.id`` the joiner must report: its node key's."""
        return node_process.node_id_of_key(self.node_key.public_key.hex())

    @property
    def peer_address(self) -> str:
        return f"{self.node_key.public_key.hex()}@127.0.0.1:{self.p2p_port}"

    @classmethod
    def create(cls, cluster: Cluster, home: Path, **statesync: Any) -> Joiner:
        rpc_port, p2p_port = _free_ports(cluster, 2)
        node_key = PrivateKey(os.urandom(32))
        config = load_config(cluster.node(0).home / CONFIG_FILE)
        peers = tuple(f"{node.node_id}@127.0.0.1:{node.p2p_port}" for node in cluster.info.nodes)
        config = dataclasses.replace(
            config,
            node=dataclasses.replace(config.node, moniker="joiner"),
            p2p=dataclasses.replace(config.p2p, listen_port=p2p_port, persistent_peers=peers),
            rpc=dataclasses.replace(config.rpc, listen_port=rpc_port),
            statesync=dataclasses.replace(config.statesync, enable=True, **statesync),
        )
        genesis = (cluster.node(0).home / GENESIS_FILE).read_bytes()
        write_node_home(home, config, genesis, node_key, None)
        return cls(home, rpc_port, p2p_port, node_key)

    def start(self, env: dict[str, str] | None = None) -> None:
        self.process = node_process.start_node(self.home, self.home / "node.log", env)

    def stop(self) -> int:
        process, self.process = self.process, None
        return 0 if process is None else node_process.stop_node(process)

    def log_text(self) -> str:
        path = self.home / "node.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def call(self, method: str, **params: Any) -> Any:
        return rpc_call(self.url, method, params)

    def status(self) -> dict[str, Any]:
        """The joiner's ``status``; ForeignNodeError if another node answered on its port."""
        return node_process.checked_status(self.url, self.node_id, "joiner")

    def height(self) -> int:
        return node_process.status_height(self.status())

    def wait_height(self, height: int, timeout_s: float) -> int:
        return node_process.wait_height(
            self.process, self.height, height, "joiner", lambda: self.log_text()[-3000:], timeout_s
        )


def with_snapshots(interval: int, chunk_bytes: int, config: NodeConfig) -> NodeConfig:
    """``config`` with a snapshot every ``interval`` heights, in chunks of ``chunk_bytes``."""
    statesync = dataclasses.replace(
        config.statesync, snapshot_interval=interval, chunk_bytes=chunk_bytes
    )
    return dataclasses.replace(config, statesync=statesync)


@contextlib.contextmanager
def cluster_with_joiner(
    root: Path, snapshot_interval: int, chunk_bytes: int, restore_timeout_s: float
) -> Iterator[tuple[Cluster, Joiner]]:
    """Four validators (not started) taking snapshots every ``snapshot_interval`` heights in
    chunks of ``chunk_bytes``, and a joiner (not started) they admit as a peer; whichever of
    them runs is stopped on leaving."""
    cluster = Cluster(root / "localnet")
    joiner = Joiner.create(
        cluster, root / "joiner", discovery_time_s=2, restore_timeout_s=restore_timeout_s
    )
    cluster.edit_configs(functools.partial(with_snapshots, snapshot_interval, chunk_bytes))
    cluster.add_peer(joiner.peer_address)
    try:
        yield cluster, joiner
    finally:
        joiner.stop()
        cluster.stop_all()


def _free_ports(cluster: Cluster, count: int) -> list[int]:
    used = {p for node in cluster.info.nodes for p in (node.rpc_port, node.p2p_port)}
    start = max(used) + 20
    ports = [p for p in range(start, start + 400) if p not in used and node_process.is_free(p)]
    return ports[:count]
