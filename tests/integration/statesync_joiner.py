"""A fifth node for a test cluster: a full node (no validator key) that joins by state sync.

Its home has the cluster's genesis, a fresh node key and a config that lists the four
validators as peers; every validator lists it too (``Cluster.add_peer``), which is how this
permissioned network admits a node. It runs as its own ``depochain start`` process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey
from node.config import load_config
from node.home import CONFIG_FILE, GENESIS_FILE
from node.localnet.generate import write_node_home
from tests.integration.harness import Cluster, RpcError, _is_free, rpc_call


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
        log = open(self.home / "node.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "start", "--home", str(self.home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        log.close()

    def stop(self) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def log_text(self) -> str:
        path = self.home / "node.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def call(self, method: str, **params: Any) -> Any:
        return rpc_call(self.url, method, params)

    def height(self) -> int:
        return int(self.call("status")["sync_info"]["latest_block_height"])

    def wait_height(self, height: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        current = -1
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"joiner exited: {self.log_text()[-3000:]}")
            with contextlib.suppress(OSError, urllib.error.URLError, RpcError, ValueError):
                current = self.height()
                if current >= height:
                    return current
            time.sleep(0.2)
        raise TimeoutError(f"joiner at {current}, wanted {height}: {self.log_text()[-3000:]}")


def _free_ports(cluster: Cluster, count: int) -> list[int]:
    used = {p for node in cluster.info.nodes for p in (node.rpc_port, node.p2p_port)}
    start = max(used) + 20
    ports = [p for p in range(start, start + 400) if p not in used and _is_free(p)]
    return ports[:count]
