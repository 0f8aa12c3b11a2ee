"""Prometheus text format: names, types, labels with escaping, integer and float values; and
every counter of a node snapshot exported under its name, with its labels."""

import dataclasses

from node.metrics import NodeSnapshot, collect, counter, gauge, render

PEER_A = bytes.fromhex("aa" * 32)
PEER_B = bytes.fromhex("0b" * 32)
SNAPSHOT = NodeSnapshot(
    height=41,
    consensus_height=42,
    consensus_round=2,
    consensus_step=3,
    is_catching_up=True,
    peer_height_max=57,
    mempool_txs=5,
    mempool_bytes=1250,
    mempool_accepted=90,
    mempool_rejected=7,
    mempool_full=4,
    mempool_recheck_rejected=6,
    peers_connected=2,
    p2p_failures={"handshake": 3, "dial": 8},
    p2p_disconnects={"idle": 1},
    p2p_send_dropped={PEER_A: 11, PEER_B: 0},
    peer_bad_messages=9,
    sync_requests=12,
    blocks_synced=13,
    consensus_events={"VoteReceived": 30, "ProposalReceived": 10},
    consensus_inputs_rejected={("VoteReceived", "unknown validator"): 16},
    consensus_peer_events_dropped=14,
    blocks_committed=15,
    last_commit_s=0.5,
    wal_bytes=4096,
    mempool_journal_syncs=17,
    clock_correction_ms=-60000,
    disk_free_bytes=123456789,
    disk_refused=4,
)


def test_render_writes_help_type_and_escaped_labels() -> None:
    text = render(
        [
            gauge("height", "last committed height", 42),
            counter("p2p_disconnects", "ended connections").add(3, reason='idle "read"\n'),
            gauge("last_commit_seconds", "time", 0.25),
        ]
    )
    assert text.splitlines() == [
        "# HELP depochain_height last committed height",
        "# TYPE depochain_height gauge",
        "depochain_height 42",
        "# HELP depochain_p2p_disconnects_total ended connections",
        "# TYPE depochain_p2p_disconnects_total counter",
        'depochain_p2p_disconnects_total{reason="idle \\"read\\"\\n"} 3',
        "# HELP depochain_last_commit_seconds time",
        "# TYPE depochain_last_commit_seconds gauge",
        "depochain_last_commit_seconds 0.25",
    ]


def samples(snapshot: NodeSnapshot) -> dict[str, str]:
    lines = render(collect(snapshot)).splitlines()
    return dict(line.rsplit(" ", 1) for line in lines if not line.startswith("#"))


def test_every_snapshot_counter_is_exported_under_its_name() -> None:
    assert samples(SNAPSHOT) == {
        "depochain_height": "41",
        "depochain_consensus_height": "42",
        "depochain_consensus_round": "2",
        "depochain_consensus_step": "3",
        "depochain_catching_up": "1",
        "depochain_peer_height_max": "57",
        "depochain_mempool_txs": "5",
        "depochain_mempool_bytes": "1250",
        "depochain_mempool_accepted_total": "90",
        "depochain_mempool_rejected_total": "7",
        "depochain_mempool_full_total": "4",
        "depochain_mempool_recheck_rejected_total": "6",
        "depochain_mempool_journal_syncs_total": "17",
        "depochain_peers_connected": "2",
        'depochain_p2p_connection_failures_total{reason="dial"}': "8",
        'depochain_p2p_connection_failures_total{reason="handshake"}': "3",
        'depochain_p2p_disconnects_total{reason="idle"}': "1",
        'depochain_p2p_send_dropped_total{peer="0b0b0b0b0b0b0b0b"}': "0",
        'depochain_p2p_send_dropped_total{peer="aaaaaaaaaaaaaaaa"}': "11",
        "depochain_peer_bad_messages_total": "9",
        "depochain_sync_requests_total": "12",
        "depochain_blocks_synced_total": "13",
        'depochain_consensus_events_total{kind="ProposalReceived"}': "10",
        'depochain_consensus_events_total{kind="VoteReceived"}': "30",
        "depochain_consensus_inputs_rejected_total"
        '{kind="VoteReceived",reason="unknown validator"}': "16",
        "depochain_consensus_peer_events_dropped_total": "14",
        "depochain_blocks_committed_total": "15",
        "depochain_last_commit_seconds": "0.5",
        "depochain_wal_bytes": "4096",
        "depochain_clock_correction_ms": "-60000",
        "depochain_disk_free_bytes": "123456789",
        "depochain_disk_refused_total": "4",
    }


def test_labelled_samples_come_in_a_stable_order() -> None:
    # The snapshot's maps are in descending key order; the same maps ascending render the same.
    text = render(collect(SNAPSHOT))
    reordered = dataclasses.replace(
        SNAPSHOT,
        p2p_failures=dict(sorted(SNAPSHOT.p2p_failures.items())),
        p2p_send_dropped=dict(sorted(SNAPSHOT.p2p_send_dropped.items())),
        consensus_events=dict(sorted(SNAPSHOT.consensus_events.items())),
    )
    assert render(collect(reordered)) == text
    assert text.index('reason="dial"') < text.index('reason="handshake"')
    in_sync = dataclasses.replace(SNAPSHOT, is_catching_up=False)
    assert samples(in_sync)["depochain_catching_up"] == "0"
