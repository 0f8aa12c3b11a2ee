"""A hostile peer with a real identity, for attacks on real node processes over real sockets.

The test holds a stopped validator's node key (one connection per peer pair: the real node of
that key must be down meanwhile), so the target node's handshake accepts it exactly as it
accepts that validator: X25519 exchange, Ed25519 authentication, encrypted frames — the node's
own transport (``node.p2p.P2PNetwork``) run by the test. It listens on a port of its own, so the
target's dials to the stopped node's address fail and the only connection is the one it dials
(inbound, on the target's side).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from consensus.crypto import PrivateKey
from consensus.types import ChainId, PublicKey
from node.gossip import GOSSIP_FRAME_BYTES_MAX
from node.home import load_key
from node.p2p import P2PLimits, P2PNetwork
from tests.integration.crash_load import read_metrics
from tests.integration.harness import Cluster

CONNECT_TIMEOUT_S = 60.0
LIMITS = P2PLimits(
    frame_body_bytes_max=GOSSIP_FRAME_BYTES_MAX, queue_bytes_max=4 * GOSSIP_FRAME_BYTES_MAX
)


class HostilePeer:
    """A connected P2P endpoint with ``key`` towards node ``target`` of ``cluster``."""

    def __init__(self, cluster: Cluster, key: PrivateKey, target: int) -> None:
        node = cluster.node(target)
        self.target_key = load_key(node.home / "node_key.json").public_key
        self.received: list[bytes] = []
        self.network = P2PNetwork(
            ChainId(cluster.info.chain_id), key, "127.0.0.1", 0,
            {self.target_key: ("127.0.0.1", node.p2p_port)}, {self.target_key},
            self._on_message, limits=LIMITS,
        )  # fmt: skip

    async def _on_message(self, sender: bytes, payload: bytes) -> None:
        self.received.append(payload)

    def is_connected(self) -> bool:
        return self.target_key in self.network.connected_peers()

    async def send_all(self, payloads: list[bytes]) -> None:
        """Queue ``payloads`` and return once all were written to the socket."""
        before = self.network.peer_stats()[self.target_key].messages_sent
        for payload in payloads:
            assert self.network.send(self.target_key, payload)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while self.network.peer_stats()[self.target_key].messages_sent < before + len(payloads):
            assert time.monotonic() < deadline, "payloads not written in time"
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def hostile_peer(cluster: Cluster, key_of: int, target: int) -> AsyncIterator[HostilePeer]:
    """A connected :class:`HostilePeer` with node ``key_of``'s node key (that node stopped)."""
    key = load_key(cluster.node(key_of).home / "node_key.json")
    peer = HostilePeer(cluster, key, target)
    await peer.network.start()
    try:
        await peer.network.wait_for_peers([peer.target_key], int(CONNECT_TIMEOUT_S * 1000))
        yield peer
    finally:
        await peer.network.stop()


def metric(cluster: Cluster, node: int, name: str) -> float:
    return read_metrics(cluster, node).get(name, 0.0)


def metric_sum(cluster: Cluster, node: int, prefix: str) -> float:
    """The sum of every sample whose ``name{labels}`` starts with ``prefix``."""
    return sum(v for k, v in read_metrics(cluster, node).items() if k.startswith(prefix))


async def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``condition`` (run in a thread: it may do blocking HTTP) until it is truthy."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting until {what}")
        await asyncio.sleep(0.1)


def public_key_of(cluster: Cluster, node: int) -> PublicKey:
    return load_key(cluster.node(node).home / "node_key.json").public_key
