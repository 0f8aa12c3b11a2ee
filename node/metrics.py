"""Prometheus metrics of a running node, rendered at scrape time from the parts' own counters.

Served at ``GET /metrics`` on the RPC port in the Prometheus text format. Nothing here keeps
state of its own: at each scrape the node (``node.app``) reads the counters the driver, router,
mempool, P2P network and WAL already keep into a :class:`NodeSnapshot`, so the metrics cannot
drift from what the node really did. This module is a leaf: it imports nothing of the node, so
the RPC server can serve it without depending on the app that assembles the parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metric:
    name: str
    kind: str  # "gauge", "counter" or "histogram"
    help: str
    samples: list[tuple[str, Mapping[str, str], float]] = field(default_factory=list)
    """(name suffix, labels, value): a histogram's ``_bucket``, ``_sum`` and ``_count``."""

    def add(self, value: float, **labels: str) -> Metric:
        self.samples.append(("", labels, value))
        return self

    def add_part(self, suffix: str, value: float, **labels: str) -> Metric:
        self.samples.append((suffix, labels, value))
        return self


def render(metrics: Iterable[Metric]) -> str:
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for suffix, labels, value in metric.samples:
            lines.append(f"{metric.name}{suffix}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def gauge(name: str, help_text: str, value: float | None = None) -> Metric:
    metric = Metric(f"depochain_{name}", "gauge", help_text)
    return metric if value is None else metric.add(value)


def counter(name: str, help_text: str, value: float | None = None) -> Metric:
    metric = Metric(f"depochain_{name}_total", "counter", help_text)
    return metric if value is None else metric.add(value)


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """The node's counters at one scrape, as plain numbers (read by ``node.app``)."""

    height: int
    """Last committed block height."""
    consensus_height: int
    consensus_round: int
    consensus_step: int
    """The replica's ``RoundStep`` value."""
    is_catching_up: bool
    peer_height_max: int
    """Highest committed height a peer announced."""
    mempool_txs: int
    mempool_bytes: int
    mempool_accepted: int
    mempool_rejected: int
    mempool_full: int
    mempool_recheck_rejected: int
    peers_connected: int
    p2p_failures: Mapping[str, int]
    """Refused or failed connections by reason."""
    p2p_disconnects: Mapping[str, int]
    """Ended peer connections by reason."""
    p2p_send_dropped: Mapping[bytes, int]
    """Messages dropped from each connected peer's full send queue, by peer public key."""
    peer_bad_messages: int
    sync_requests: int
    blocks_synced: int
    consensus_events: Mapping[str, int]
    """Inputs handled by the replica, by event kind."""
    consensus_inputs_rejected: Mapping[tuple[str, str], int]
    """Inputs the replica refused, by (event kind, reason)."""
    consensus_peer_events_dropped: int
    blocks_committed: int
    last_commit_s: float
    wal_bytes: int
    mempool_journal_syncs: int
    """fdatasyncs of the mempool journal (each covers every tx acknowledged before it)."""
    clock_correction_ms: int = 0
    """What network-adjusted time adds to this machine's clock (0: it agrees with its peers)."""
    disk_free_bytes: int = 0
    """Free space on the data folder's filesystem (at most a second old)."""
    disk_refused: int = 0
    """Submissions refused because free disk space was below [storage].free_bytes_min."""
    mempool_submitter_limited: int = 0
    """Submissions refused because their submitter's share of the mempool was full."""
    mempool_expired: int = 0
    """Pending transactions dropped after waiting longer than the time-to-live."""
    loop_lag_buckets: Mapping[float, int] = field(default_factory=dict)
    """Event-loop lag histogram: upper bound in seconds -> wake-ups at most that late
    (cumulative; ``inf`` last). Empty: not measured."""
    loop_lag_sum_s: float = 0.0
    loop_lag_max_s: float = 0.0
    loop_stretches: Mapping[str, tuple[int, float, float]] = field(default_factory=dict)
    """Stage -> (stretches, their total seconds, the longest) of the node's heavy steps."""


def collect(snapshot: NodeSnapshot) -> list[Metric]:
    return [
        *_chain(snapshot),
        *_mempool(snapshot),
        *_network(snapshot),
        *_driver(snapshot),
        *_event_loop(snapshot),
    ]


def _chain(snapshot: NodeSnapshot) -> list[Metric]:
    return [
        gauge("height", "last committed block height", snapshot.height),
        gauge("consensus_height", "height the replica is deciding", snapshot.consensus_height),
        gauge("consensus_round", "round the replica is in", snapshot.consensus_round),
        gauge("consensus_step", "step of the round (RoundStep value)", snapshot.consensus_step),
        gauge("catching_up", "1 while block sync is behind a peer", int(snapshot.is_catching_up)),
        gauge("peer_height_max", "highest committed height a peer announced",
              snapshot.peer_height_max),
    ]  # fmt: skip


def _mempool(snapshot: NodeSnapshot) -> list[Metric]:
    return [
        gauge("mempool_txs", "transactions waiting in the mempool", snapshot.mempool_txs),
        gauge("mempool_bytes", "bytes of transactions waiting in the mempool",
              snapshot.mempool_bytes),
        counter("mempool_accepted", "transactions admitted", snapshot.mempool_accepted),
        counter("mempool_rejected", "transactions refused at admission", snapshot.mempool_rejected),
        counter("mempool_full", "submissions refused because the mempool was full",
                snapshot.mempool_full),
        counter("mempool_recheck_rejected", "pending transactions dropped by a recheck",
                snapshot.mempool_recheck_rejected),
        counter("mempool_submitter_limited", "submissions refused because their submitter's "
                "share of the mempool was full", snapshot.mempool_submitter_limited),
        counter("mempool_expired", "pending transactions dropped after the time-to-live",
                snapshot.mempool_expired),
        counter("mempool_journal_syncs", "fdatasyncs of acknowledged transactions (each covers "
                "every tx admitted before it)", snapshot.mempool_journal_syncs),
    ]  # fmt: skip


def _network(snapshot: NodeSnapshot) -> list[Metric]:
    failures = counter("p2p_connection_failures", "refused or failed connections by reason")
    for reason, count in sorted(snapshot.p2p_failures.items()):
        failures.add(count, reason=reason)
    disconnects = counter("p2p_disconnects", "ended peer connections by reason")
    for reason, count in sorted(snapshot.p2p_disconnects.items()):
        disconnects.add(count, reason=reason)
    dropped = counter("p2p_send_dropped", "messages dropped from full per-peer send queues")
    for key, count in sorted(snapshot.p2p_send_dropped.items()):
        dropped.add(count, peer=key.hex()[:16])
    return [
        gauge("peers_connected", "authenticated peer connections", snapshot.peers_connected),
        failures,
        disconnects,
        dropped,
        counter("peer_bad_messages", "undecodable or invalid messages from peers",
                snapshot.peer_bad_messages),
        counter("sync_requests", "block sync requests sent", snapshot.sync_requests),
        counter("blocks_synced", "blocks received by block sync", snapshot.blocks_synced),
    ]  # fmt: skip


def _driver(snapshot: NodeSnapshot) -> list[Metric]:
    events = counter("consensus_events", "inputs handled by the replica, by kind")
    for kind, count in sorted(snapshot.consensus_events.items()):
        events.add(count, kind=kind)
    rejected = counter("consensus_inputs_rejected", "inputs the replica refused, by kind, reason")
    for (kind, reason), count in sorted(snapshot.consensus_inputs_rejected.items()):
        rejected.add(count, kind=kind, reason=reason)
    return [
        events,
        rejected,
        counter("consensus_peer_events_dropped", "peer messages dropped by a full inbox",
                snapshot.consensus_peer_events_dropped),
        counter("blocks_committed", "blocks committed by consensus or sync",
                snapshot.blocks_committed),
        gauge("last_commit_seconds", "time to execute and store the last block",
              snapshot.last_commit_s),
        gauge("wal_bytes", "size of the consensus write-ahead log", snapshot.wal_bytes),
        gauge("clock_correction_ms", "correction of this machine's clock to its peers' median",
              snapshot.clock_correction_ms),
        gauge("disk_free_bytes", "free space on the data folder's disk", snapshot.disk_free_bytes),
        counter("disk_refused", "submissions refused for low disk space", snapshot.disk_refused),
    ]  # fmt: skip


def _event_loop(snapshot: NodeSnapshot) -> list[Metric]:
    if not snapshot.loop_lag_buckets:
        return []
    lag = Metric("depochain_event_loop_lag_seconds", "histogram",
                 "how late a timer asking to wake every 50 ms actually woke")  # fmt: skip
    for bound, count in sorted(snapshot.loop_lag_buckets.items()):
        lag.add_part("_bucket", count, le="+Inf" if bound == float("inf") else repr(bound))
    lag.add_part("_sum", snapshot.loop_lag_sum_s)
    lag.add_part("_count", max(snapshot.loop_lag_buckets.values()))
    stretches = counter("loop_stretches", "heavy steps of the node, by stage")
    seconds = counter("loop_stretch_seconds", "seconds spent in heavy steps, by stage")
    longest = gauge("loop_stretch_max_seconds", "the longest heavy step, by stage")
    for stage, (count, total_s, max_s) in sorted(snapshot.loop_stretches.items()):
        stretches.add(count, stage=stage)
        seconds.add(total_s, stage=stage)
        longest.add(max_s, stage=stage)
    max_lag = gauge("event_loop_lag_max_seconds", "the longest event-loop stall seen",
                    snapshot.loop_lag_max_s)  # fmt: skip
    return [lag, max_lag, stretches, seconds, longest]
