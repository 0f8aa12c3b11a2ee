"""A non-validator peer that watches what the validators of a real cluster sign.

The observer is the node's own P2P transport (``node.p2p.P2PNetwork``: X25519 exchange, Ed25519
authentication, encrypted frames) run by the test in a background thread with its own event
loop. Every node of the cluster lists it in ``persistent_peers`` (its allowlist and dial list,
see ``Cluster.add_peer``) and it dials every node too. A validator broadcasts each proposal and
vote it signs to every connected peer, and re-broadcasts its current round's messages on a timer,
so the observer receives what each validator signs; it verifies each signature and hands the
message to a :class:`~tests.integration.double_sign.DoubleSignChecker`. It never sends anything
(the transport's keepalives aside), so it cannot change what the cluster does.

Use::

    with Observer.for_cluster(cluster) as observer:   # before the nodes start
        cluster.add_peer(observer.peer_address)
        cluster.start_all()
        observer.wait_connected()
        ...
        assert not observer.double_signs(), observer.describe_double_signs()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from consensus.codec import CodecError
from consensus.crypto import PrivateKey
from consensus.messages import DuplicateVoteEvidence, Vote
from consensus.types import ChainId, PublicKey
from node.config import NodeConfig
from node.gossip import GOSSIP_FRAME_BYTES_MAX, ConsensusPayload, decode_gossip
from node.p2p import P2PLimits, P2PNetwork
from tests.integration.double_sign import (
    DoubleSign,
    DoubleSignChecker,
    SignedKind,
    SignedMessage,
    Slot,
)
from tests.integration.harness import Cluster

T = TypeVar("T")
CALL_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.1
LIMITS = P2PLimits(
    frame_body_bytes_max=GOSSIP_FRAME_BYTES_MAX,
    queue_bytes_max=2 * GOSSIP_FRAME_BYTES_MAX,
    reconnect_backoff_max_ms=1_000,  # nodes restart during tests: find them again quickly
)


class Observer:
    """An allowlisted peer of every node that records the proposals and votes it receives."""

    def __init__(
        self,
        chain_id: ChainId,
        validators: Mapping[PublicKey, str],
        peers: Mapping[bytes, tuple[str, int]],
    ) -> None:
        """``validators``: validator key -> a name for messages; ``peers``: node key -> where
        that node listens for P2P."""
        self.key = PrivateKey(os.urandom(32))
        self.names = dict(validators)
        self.checker = DoubleSignChecker(chain_id, validators)
        self._chain_id = chain_id
        self._peers = dict(peers)
        self._lock = threading.Lock()
        self._counts = collections.Counter[str]()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="observer", daemon=True)
        self._network: P2PNetwork | None = None

    @classmethod
    def for_cluster(cls, cluster: Cluster) -> Observer:
        nodes = cluster.info.document["nodes"]
        validators = {
            PublicKey(bytes.fromhex(n["validator_public_key"])): str(n["moniker"]) for n in nodes
        }
        peers = {bytes.fromhex(n["node_id"]): ("127.0.0.1", int(n["p2p_port"])) for n in nodes}
        return cls(ChainId(cluster.info.chain_id), validators, peers)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._call(self._start_network())

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._network is not None:
            self._call(self._network.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> Observer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def peer_address(self) -> str:
        """``pubkeyhex@127.0.0.1:port``, as the nodes' ``persistent_peers`` want it."""
        assert self._network is not None, "start the observer first"
        host, port = self._network.listen_address
        return f"{self.key.public_key.hex()}@{host}:{port}"

    def wait_connected(self, timeout_s: float = 60.0) -> None:
        """Return once every node of the cluster is connected to the observer."""
        assert self._network is not None
        wait = self._network.wait_for_peers(list(self._peers), int(timeout_s * 1000))
        self._call(wait, timeout_s + 5)

    async def _start_network(self) -> None:
        self._network = P2PNetwork(
            self._chain_id,
            self.key,
            "127.0.0.1",
            0,
            self._peers,
            set(self._peers),
            self._on_message,
            limits=LIMITS,
        )
        await self._network.start()

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float = CALL_TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout_s)

    # -- receiving (the observer's thread) ---------------------------------------------------

    async def _on_message(self, sender: bytes, payload: bytes) -> None:
        try:
            message = decode_gossip(payload)
        except CodecError:
            self._count("undecodable")
            return
        if not isinstance(message, ConsensusPayload):
            return  # transactions, status and block sync: not signed consensus messages
        signed = message.message
        if isinstance(signed, DuplicateVoteEvidence):
            self._count("evidence")
            return
        with self._lock:
            self.checker.observe(signed)
        self._count("votes" if isinstance(signed, Vote) else "proposals")

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    # -- reading (the test's thread) -----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Received messages by kind: proposals, votes, evidence (gossiped by a node that
        caught someone), undecodable."""
        with self._lock:
            return dict(self._counts)

    def double_signs(self) -> tuple[DoubleSign, ...]:
        with self._lock:
            return self.checker.double_signs

    def get_slots(self, validator: PublicKey, kind: SignedKind) -> list[Slot]:
        with self._lock:
            return self.checker.get_slots(validator, kind)

    def get_heights(self, validator: PublicKey, kind: SignedKind, above: int = 0) -> set[int]:
        """The heights above ``above`` at which ``validator`` was seen signing a ``kind``."""
        return {s.height for s in self.get_slots(validator, kind) if s.height > above}

    def get_signed(self, slot: Slot) -> list[SignedMessage]:
        with self._lock:
            return self.checker.get_signed(slot)

    def wait_for(self, condition: Callable[[], T], timeout_s: float, what: str) -> T:
        """Poll ``condition`` until it returns something truthy; that value. Raises
        AssertionError naming ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            time.sleep(POLL_INTERVAL_S)
        raise AssertionError(f"observer: {what} not seen in {timeout_s:.0f} s; {self.counts()}")

    def describe_double_signs(self) -> list[str]:
        """One line per double sign seen, naming the validator: for assertion messages."""
        return [f"{self.names.get(d.slot.validator, '?')}: {d}" for d in self.double_signs()]


@contextlib.contextmanager
def observed_cluster(
    home: Path, configure: Callable[[NodeConfig], NodeConfig] | None = None
) -> Iterator[tuple[Cluster, Observer]]:
    """A started 4-validator cluster (each node's config first passed through ``configure``)
    whose every node is connected to a started observer."""
    cluster = Cluster(home)
    if configure is not None:
        cluster.edit_configs(configure)
    with Observer.for_cluster(cluster) as observer:
        cluster.add_peer(observer.peer_address)
        with cluster.running():
            observer.wait_connected()
            yield cluster, observer
