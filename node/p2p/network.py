"""The P2P network object: listens, dials known peers, keeps one connection per peer pair.

One connection per pair: when two authenticated connections to the same peer exist, both ends
apply the same rule, so they keep the same one. Connections with the same dialer: the newer wins
(a dialer only redials after giving up on its previous connection). Otherwise the connection
dialled by the lower public key wins. A replaced connection's queued payloads are lost (gossip is
best-effort; the driver re-gossips).

Every task is owned by the network object (a tracked set) and cancelled by :meth:`stop`. Every
failure a peer can cause closes that one connection and is counted by reason in :meth:`stats`.
``send``/``broadcast`` never block: they queue (see ``peer`` for the full-queue policy).

Inbound sockets still handshaking are bounded in all and per IP address; a real peer sends its
hello at once, so when every slot is taken the oldest socket still silent is dropped for the
newcomer (idle sockets cannot lock the peers out). Dialling backs off up to a small cap, and a
connection coming up wakes every dialer waiting out a backoff: a healed link is used at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from consensus.crypto import PrivateKey
from consensus.types import ChainId, PublicKey
from node.logs import fields
from node.p2p.errors import PeerError
from node.p2p.handshake import SecureSession, perform_handshake
from node.p2p.limits import NetworkStats, P2PLimits, compute_backoff_s
from node.p2p.peer import (
    OnMessage,
    PeerConnection,
    PeerStats,
    close_writer,
    set_unacked_timeout,
)

log = logging.getLogger("depochain.p2p")


@dataclass(slots=True)
class _Pending:
    """An inbound socket still handshaking."""

    ip: str
    has_hello: bool = False
    """True once the peer's hello arrived (it is then never dropped for a newcomer)."""


class P2PNetwork:
    """Authenticated, encrypted connections to the allowed peers of one node."""

    def __init__(
        self,
        chain_id: ChainId,
        node_key: PrivateKey,
        listen_host: str,
        listen_port: int,
        peers: Mapping[bytes, tuple[str, int]],
        allowed: Collection[bytes],
        on_message: OnMessage,
        *,
        limits: P2PLimits | None = None,
        rng: random.Random | None = None,
        on_connected: Callable[[PublicKey], None] | None = None,
    ) -> None:
        """``on_connected(key)`` is called each time a connection to ``key`` is established
        (e.g. to send it our status at once rather than at the next periodic announcement)."""
        self.chain_id = chain_id
        self.public_key = node_key.public_key
        self.limits = limits or P2PLimits()
        self._node_key = node_key
        self._listen = (listen_host, listen_port)
        self._allowed = frozenset(PublicKey(key) for key in allowed)
        self._peers: dict[PublicKey, tuple[str, int]] = {}
        for key, (host, port) in peers.items():
            self._validate_peer_key(key)
            self._peers[PublicKey(key)] = (host, port)
        self._on_message = on_message
        self._on_connected = on_connected
        self._rng = rng or random.Random()
        self._connections: dict[PublicKey, PeerConnection] = {}
        self._idle: dict[PublicKey, asyncio.Event] = {}
        self._changed = asyncio.Event()
        self._link_up = asyncio.Event()
        self._dialers: set[PublicKey] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._pending: dict[asyncio.StreamWriter, _Pending] = {}
        """Inbound sockets still handshaking, oldest first."""
        self._pending_by_ip = collections.Counter[str]()
        self._counts = collections.Counter[str]()
        self._failures = collections.Counter[str]()
        self._disconnects = collections.Counter[str]()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen and start dialling every known peer."""
        if self._server is not None or self._stopping:
            raise RuntimeError("P2PNetwork.start called twice")
        self._server = await asyncio.start_server(self._on_accept, *self._listen)
        for key in self._peers:
            self._start_dialer(key)
        log.info("p2p: %s listening on %s:%d", self._short(self.public_key), *self.listen_address)

    async def stop(self) -> None:
        """Stop listening, close every connection and cancel every task."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(
                list(self._tasks), timeout=self.limits.close_timeout_ms / 1000 * 2
            )
            if pending:  # every await in them is bounded, so this is a bug worth a loud log
                log.error("p2p: %d tasks still running after stop", len(pending))
        if self._server is not None:
            async with asyncio.timeout(self.limits.close_timeout_ms / 1000):
                await self._server.wait_closed()

    @property
    def listen_address(self) -> tuple[str, int]:
        """The bound address (the real port when started with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("P2PNetwork is not listening")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    def add_peer(self, public_key: bytes, host: str, port: int) -> None:
        """Set the address to dial ``public_key`` at (it must be allowed); starts dialling it."""
        self._validate_peer_key(public_key)
        key = PublicKey(public_key)
        self._peers[key] = (host, port)
        if self._server is not None and not self._stopping:
            self._start_dialer(key)

    # -- sending and inspection -----------------------------------------------------------------

    def broadcast(self, payload: bytes) -> int:
        """Queue ``payload`` to every connected peer; returns how many. Never blocks."""
        self._validate_payload(payload)
        for conn in self._connections.values():
            conn.enqueue(payload)
        return len(self._connections)

    def send(self, public_key: bytes, payload: bytes) -> bool:
        """Queue ``payload`` to one peer; False if it is not connected. Never blocks."""
        self._validate_payload(payload)
        conn = self._connections.get(PublicKey(public_key))
        if conn is None:
            return False
        conn.enqueue(payload)
        return True

    def connected_peers(self) -> frozenset[PublicKey]:
        return frozenset(self._connections)

    def peer_stats(self) -> dict[PublicKey, PeerStats]:
        return {key: conn.get_stats() for key, conn in self._connections.items()}

    def stats(self) -> NetworkStats:
        return NetworkStats(
            connections_accepted=self._counts["accepted"],
            connections_dialed=self._counts["dialed"],
            failures=dict(self._failures),
            disconnects=dict(self._disconnects),
            handshakes_pending=len(self._pending),
        )

    async def wait_for_peers(self, public_keys: Collection[bytes], timeout_ms: int) -> None:
        """Return once all ``public_keys`` are connected; raises TimeoutError after the timeout."""
        async with asyncio.timeout(timeout_ms / 1000):
            while not set(public_keys) <= self._connections.keys():
                await self._changed.wait()

    # -- validation -----------------------------------------------------------------------------

    def _validate_peer_key(self, key: bytes) -> None:
        if key == self.public_key:
            raise ValueError("a node cannot list itself as a peer")
        if key not in self._allowed:
            raise ValueError(f"peer {key.hex()} is not in the allowlist")

    def _validate_payload(self, payload: bytes) -> None:
        if len(payload) > self.limits.frame_body_bytes_max:
            raise ValueError(
                f"payload of {len(payload)} bytes exceeds {self.limits.frame_body_bytes_max}"
            )

    def _is_allowed(self, key: PublicKey) -> bool:
        return key in self._allowed

    # -- tasks ----------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("p2p: task %s crashed", task.get_name(), exc_info=task.exception())

    def _start_dialer(self, key: PublicKey) -> None:
        if key not in self._dialers:
            self._dialers.add(key)
            self._spawn(self._dial_loop(key), f"p2p-dial-{self._short(key)}")

    # -- inbound --------------------------------------------------------------------------------

    def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        refusal = self._get_pending_refusal(ip)
        if refusal is not None:
            self._failures[refusal] += 1
            writer.close()
            return
        self._pending[writer] = _Pending(ip)
        self._pending_by_ip[ip] += 1
        self._spawn(self._serve_socket(reader, writer, None), "p2p-inbound")

    def _get_pending_refusal(self, ip: str) -> str | None:
        """Why a new inbound socket from ``ip`` is refused, or None once there is room for it.

        Room is made by dropping the oldest socket that has not even sent its hello (from the
        same address when that address is over its share): a real peer sends it at once."""
        limits = self.limits
        if self._stopping:
            return "stopping"
        per_ip_max = min(limits.pending_handshakes_per_ip_max, limits.pending_handshakes_max)
        if self._pending_by_ip[ip] >= per_ip_max and not self._drop_oldest_silent(ip):
            return "too_many_pending_handshakes_from_ip"
        if len(self._pending) >= limits.pending_handshakes_max and not self._drop_oldest_silent():
            return "too_many_pending_handshakes"
        return None

    def _drop_oldest_silent(self, ip: str | None = None) -> bool:
        """Close the oldest pending socket (of ``ip``, if given) still without a hello."""
        for writer, pending in self._pending.items():
            if not pending.has_hello and ip in (None, pending.ip):
                self._release_pending(writer)
                writer.close()  # its handshake fails at once; the task finishes the cleanup
                self._failures["pending_handshake_dropped_for_newcomer"] += 1
                return True
        return False

    def _release_pending(self, writer: asyncio.StreamWriter) -> None:
        pending = self._pending.pop(writer, None)
        if pending is not None:
            self._pending_by_ip[pending.ip] -= 1
            if self._pending_by_ip[pending.ip] <= 0:
                del self._pending_by_ip[pending.ip]

    def _mark_hello(self, writer: asyncio.StreamWriter) -> None:
        pending = self._pending.get(writer)
        if pending is not None:
            pending.has_hello = True

    # -- outbound -------------------------------------------------------------------------------

    async def _dial_loop(self, key: PublicKey) -> None:
        failures = 0
        while True:
            await self._get_idle_event(key).wait()
            host, port = self._peers[key]
            served = await self._dial_once(key, host, port)
            failures = 0 if served else failures + 1
            limits = self.limits
            delay_s = compute_backoff_s(
                failures,
                limits.reconnect_backoff_min_ms,
                limits.reconnect_backoff_max_ms,
                self._rng,
            )
            if await self._sleep_unless_link_up(delay_s):
                failures = 0

    async def _sleep_unless_link_up(self, delay_s: float) -> bool:
        """Sleep ``delay_s``; True if a connection came up meanwhile (a sign that the network
        is back: dial now rather than wait out a backoff grown while it was down)."""
        link_up = self._link_up
        try:
            async with asyncio.timeout(delay_s):
                await link_up.wait()
        except TimeoutError:
            return False
        return True

    async def _dial_once(self, key: PublicKey, host: str, port: int) -> bool:
        """One attempt; True if it led to a registered connection (now ended)."""
        try:
            async with asyncio.timeout(self.limits.connect_timeout_ms / 1000):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            self._failures["dial_failed"] += 1
            log.debug("p2p: dial %s at %s:%d failed: %r", self._short(key), host, port, exc)
            return False
        return await self._serve_socket(reader, writer, key)

    # -- shared ---------------------------------------------------------------------------------

    async def _serve_socket(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        expected_peer_key: PublicKey | None,
    ) -> bool:
        """Handshake, then serve until the connection ends; True if it was registered.

        Owns the socket: it is closed however this ends, cancellation included.
        """
        is_outbound = expected_peer_key is not None
        set_unacked_timeout(writer, self.limits.unacked_timeout_ms)
        try:
            try:
                session = await self._handshake(reader, writer, expected_peer_key)
            finally:
                self._release_pending(writer)
            if session is None:
                return False
            self._counts["dialed" if is_outbound else "accepted"] += 1
            return await self._serve_connection(session, reader, writer, is_outbound=is_outbound)
        finally:
            writer.close()

    async def _handshake(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        expected_peer_key: PublicKey | None,
    ) -> SecureSession | None:
        """The authenticated session, or None (counted, logged, socket closed) on failure."""
        try:
            return await perform_handshake(
                reader,
                writer,
                node_key=self._node_key,
                chain_id=self.chain_id,
                expected_peer_key=expected_peer_key,
                is_allowed=self._is_allowed,
                body_bytes_max=self.limits.frame_body_bytes_max,
                timeout_s=self.limits.handshake_timeout_ms / 1000,
                hello_timeout_s=self.limits.hello_timeout_ms / 1000,
                on_hello=lambda: self._mark_hello(writer),
            )
        except PeerError as exc:
            self._failures[exc.reason] += 1
            log.warning(
                "p2p: handshake with %s refused: %s", writer.get_extra_info("peername"), exc
            )
            await close_writer(writer, self.limits.close_timeout_ms / 1000)
            return None

    async def _serve_connection(
        self,
        session: SecureSession,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        is_outbound: bool,
    ) -> bool:
        conn = PeerConnection(
            session,
            reader,
            writer,
            is_outbound=is_outbound,
            on_message=self._on_message,
            queue_messages_max=self.limits.queue_messages_max,
            queue_bytes_max=self.limits.queue_bytes_max,
            timeouts=self.limits.get_connection_timeouts(),
        )
        if not self._register(conn):
            self._failures["duplicate_connection"] += 1
            await close_writer(writer, self.limits.close_timeout_ms / 1000)
            return False
        log.info(
            "p2p: connected to %s (%s)",
            self._short(conn.peer_key),
            _direction(conn),
            extra=fields("peer_connected", peer=conn.peer_key),
        )
        try:
            reason = await conn.run()
        finally:
            self._unregister(conn)
        self._disconnects[reason] += 1
        log.info(
            "p2p: disconnected from %s: %s",
            self._short(conn.peer_key),
            reason,
            extra=fields("peer_disconnected", peer=conn.peer_key, reason=reason),
        )
        return True

    def _register(self, conn: PeerConnection) -> bool:
        """Install ``conn`` unless the one-connection rule keeps an existing connection."""
        existing = self._connections.get(conn.peer_key)
        if existing is not None:
            if not self._is_replacement(existing, conn):
                return False
            existing.close("replaced_by_preferred_connection")
        self._connections[conn.peer_key] = conn
        self._get_idle_event(conn.peer_key).clear()
        self._notify_changed()
        self._link_up.set()  # wakes the dialers sleeping out a backoff
        self._link_up = asyncio.Event()
        if self._on_connected is not None:
            self._on_connected(conn.peer_key)
        return True

    def _unregister(self, conn: PeerConnection) -> None:
        if self._connections.get(conn.peer_key) is conn:
            del self._connections[conn.peer_key]
            self._get_idle_event(conn.peer_key).set()
            self._notify_changed()

    def _is_replacement(self, existing: PeerConnection, new: PeerConnection) -> bool:
        if existing.is_outbound == new.is_outbound:
            return True  # same dialer: it only redials after giving up on the older connection
        return self._get_dialer(new) == min(self.public_key, new.peer_key)

    def _get_dialer(self, conn: PeerConnection) -> PublicKey:
        return self.public_key if conn.is_outbound else conn.peer_key

    def _get_idle_event(self, key: PublicKey) -> asyncio.Event:
        event = self._idle.get(key)
        if event is None:
            event = self._idle[key] = asyncio.Event()
            event.set()
        return event

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @staticmethod
    def _short(key: bytes) -> str:
        return key.hex()[:12]


def _direction(conn: PeerConnection) -> str:
    return "outbound" if conn.is_outbound else "inbound"
