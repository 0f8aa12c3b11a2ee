"""Configuration and counters of the P2P transport: plain data, passed down, never global."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from node.p2p.peer import ConnectionTimeouts


@dataclass(frozen=True, slots=True)
class P2PLimits:
    """Bounds and timeouts of the transport (config data, passed down)."""

    frame_body_bytes_max: int = 4 * 1024 * 1024
    """Largest payload one frame carries (a block must fit)."""
    queue_messages_max: int = 1024
    """Per-peer send queue length; beyond it the oldest queued payload is dropped."""
    queue_bytes_max: int = 32 * 1024 * 1024
    """Per-peer send queue size; must hold at least one maximal payload."""
    handshake_timeout_ms: int = 5_000
    hello_timeout_ms: int = 1_000
    """The plaintext hello (36 bytes, sent at once by any real peer) must arrive within this;
    an idle socket that never sends it holds a pending slot no longer."""
    connect_timeout_ms: int = 2_000
    write_timeout_ms: int = 10_000
    """A peer whose socket does not drain within this is disconnected."""
    keepalive_interval_ms: int = 1_000
    """An idle connection sends a keepalive this often, so a cut link always has data in flight
    that goes unacknowledged (which ``unacked_timeout_ms`` then notices)."""
    unacked_timeout_ms: int = 3_000
    """Sent data left unacknowledged by the peer's host this long: the link is gone, close the
    connection (Linux ``TCP_USER_TIMEOUT``; acknowledgements come from the peer's kernel, so a
    busy peer process does not trip it). Without it a connection outlives a cut link, and after
    the heal waits out TCP's retransmission backoff (seconds after a 10 s cut) instead of being
    redialled at once."""
    read_idle_timeout_ms: int = 20_000
    """No frame (not even a keepalive) for this long: the peer is gone."""
    close_timeout_ms: int = 1_000
    reconnect_backoff_min_ms: int = 100
    reconnect_backoff_max_ms: int = 1_000
    """Cap on the delay between dials of a peer, so a healed partition is rejoined within about
    a second (the peers are a known, small set: retrying each once a second costs nothing)."""
    pending_handshakes_max: int = 32
    """Inbound connections still handshaking; when full, the oldest one still waiting for its
    hello is dropped for the newcomer (an idle socket must not lock every peer out)."""
    pending_handshakes_per_ip_max: int = 8
    """Inbound connections still handshaking from one IP address; more are closed at once."""

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) <= 0:
                raise ValueError(f"P2PLimits.{name} must be positive")
        if self.queue_bytes_max < self.frame_body_bytes_max:
            raise ValueError("queue_bytes_max must hold at least one maximal frame")
        if self.read_idle_timeout_ms <= self.keepalive_interval_ms:
            raise ValueError("read_idle_timeout_ms must exceed keepalive_interval_ms")
        if self.hello_timeout_ms > self.handshake_timeout_ms:
            raise ValueError("hello_timeout_ms exceeds handshake_timeout_ms")
        if self.reconnect_backoff_min_ms > self.reconnect_backoff_max_ms:
            raise ValueError("reconnect_backoff_min_ms exceeds reconnect_backoff_max_ms")

    def get_connection_timeouts(self) -> ConnectionTimeouts:
        return ConnectionTimeouts(
            write_timeout_s=self.write_timeout_ms / 1000,
            read_idle_timeout_s=self.read_idle_timeout_ms / 1000,
            keepalive_interval_s=self.keepalive_interval_ms / 1000,
            close_timeout_s=self.close_timeout_ms / 1000,
        )


@dataclass(frozen=True, slots=True)
class NetworkStats:
    """A snapshot of the network's counters."""

    connections_accepted: int
    """Inbound connections that completed the handshake."""
    connections_dialed: int
    """Outbound connections that completed the handshake."""
    failures: Mapping[str, int]
    """Refused or failed connection attempts by reason (handshake, dial, duplicate…)."""
    disconnects: Mapping[str, int]
    """Why established connections ended."""
    handshakes_pending: int
    """Inbound connections currently handshaking."""


def compute_backoff_s(failures: int, min_ms: int, max_ms: int, rng: random.Random) -> float:
    """Delay before the next dial: exponential in ``failures``, capped, with jitter in [½, 1]."""
    ceiling_ms = min(max_ms, min_ms * 2 ** min(failures, 32))
    return rng.uniform(ceiling_ms / 2, ceiling_ms) / 1000
