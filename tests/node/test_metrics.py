"""Prometheus text format: names, types, labels with escaping, integer and float values."""

from node.metrics import counter, gauge, render


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
