"""Prometheus metrics of a running node, rendered at scrape time from the parts' own counters.

Served at ``GET /metrics`` on the RPC port in the Prometheus text format. Nothing here keeps
state of its own: each scrape reads the counters the driver, router, mempool, P2P network and
WAL already keep, so the metrics cannot drift from what the node really did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.app import Node

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metric:
    name: str
    kind: str  # "gauge" or "counter"
    help: str
    samples: list[tuple[Mapping[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Metric:
        self.samples.append((labels, value))
        return self


def render(metrics: Iterable[Metric]) -> str:
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            lines.append(f"{metric.name}{_labels(labels)} {_number(value)}")
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


def collect(node: Node) -> list[Metric]:
    return [*_chain(node), *_mempool(node), *_network(node), *_driver(node)]


def _chain(node: Node) -> list[Metric]:
    replica = node.replica
    return [
        gauge("height", "last committed block height", node.chain.height),
        gauge("consensus_height", "height the replica is deciding", replica.height),
        gauge("consensus_round", "round the replica is in", replica.round),
        gauge("consensus_step", "step of the round (RoundStep value)", int(replica.step)),
        gauge("catching_up", "1 while block sync is behind a peer",
              int(node.router.is_catching_up)),
        gauge("peer_height_max", "highest committed height a peer announced",
              node.router.max_peer_height),
    ]  # fmt: skip


def _mempool(node: Node) -> list[Metric]:
    stats = node.mempool.stats()
    return [
        gauge("mempool_txs", "transactions waiting in the mempool", stats.size),
        gauge("mempool_bytes", "bytes of transactions waiting in the mempool", stats.size_bytes),
        counter("mempool_accepted", "transactions admitted", stats.accepted_total),
        counter("mempool_rejected", "transactions refused at admission", stats.rejected_total),
        counter("mempool_full", "submissions refused because the mempool was full",
                stats.full_total),
        counter("mempool_recheck_rejected", "pending transactions dropped by a recheck",
                stats.recheck_rejected_total),
        counter("mempool_journal_syncs", "fdatasyncs of acknowledged transactions (each covers "
                "every tx admitted before it)", node.journal.syncs),
    ]  # fmt: skip


def _network(node: Node) -> list[Metric]:
    stats = node.network.stats()
    failures = counter("p2p_connection_failures", "refused or failed connections by reason")
    for reason, count in sorted(stats.failures.items()):
        failures.add(count, reason=reason)
    disconnects = counter("p2p_disconnects", "ended peer connections by reason")
    for reason, count in sorted(stats.disconnects.items()):
        disconnects.add(count, reason=reason)
    dropped = counter("p2p_send_dropped", "messages dropped from full per-peer send queues")
    for key, peer in sorted(node.network.peer_stats().items()):
        dropped.add(peer.messages_dropped, peer=key.hex()[:16])
    router = node.router.stats
    return [
        gauge("peers_connected", "authenticated peer connections",
              len(node.network.connected_peers())),
        failures,
        disconnects,
        dropped,
        counter("peer_bad_messages", "undecodable or invalid messages from peers",
                router.bad_messages),
        counter("sync_requests", "block sync requests sent", router.sync_requests),
        counter("blocks_synced", "blocks received by block sync", router.blocks_synced),
    ]  # fmt: skip


def _driver(node: Node) -> list[Metric]:
    stats = node.driver.stats
    events = counter("consensus_events", "inputs handled by the replica, by kind")
    for kind, count in sorted(stats.by_kind.items()):
        events.add(count, kind=kind)
    rejected = counter("consensus_inputs_rejected", "inputs the replica refused, by kind, reason")
    for (kind, reason), count in sorted(stats.rejected.items()):
        rejected.add(count, kind=kind, reason=reason)
    return [
        events,
        rejected,
        counter("consensus_peer_events_dropped", "peer messages dropped by a full inbox",
                stats.peer_events_dropped),
        counter("blocks_committed", "blocks committed by consensus or sync",
                stats.blocks_committed),
        gauge("last_commit_seconds", "time to execute and store the last block",
              stats.last_commit_s),
        gauge("wal_bytes", "size of the consensus write-ahead log", node.wal.size_bytes()),
    ]  # fmt: skip
