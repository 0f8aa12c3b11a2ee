"""A real node process times its collector pauses (``gc gen N`` stages on ``GET /metrics``) and
freezes its start-up heap, so full collections do not walk what lives for the whole run, and
collects its young generation less often, so a request's short-lived objects are not promoted."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from node.gc_tuning import YOUNG_THRESHOLD
from node.logs import read_json_lines
from tests.integration.health_wait import wait_until
from tests.integration.node_process import running_node
from tests.integration.test_structured_logs import init_solo_node

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GC_STAGE = re.compile(r'depochain_loop_stretches_total\{stage="gc gen \d"\} (\d+)')
FROZEN = re.compile(
    r"start-up heap frozen: (\d+) objects; young collections every (\d+) allocations"
)


def _gc_pauses_counted(url: str) -> int:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:
        return sum(int(count) for count in GC_STAGE.findall(answer.read().decode()))


def test_a_running_node_times_its_collections_and_froze_its_start_up_heap(
    tmp_path: Path,
) -> None:
    home, output = tmp_path / "node", tmp_path / "node.out"
    url = init_solo_node(home, log_format="json")
    with running_node(home, url, output) as node:
        # A node making blocks allocates: young collections follow within seconds.
        wait_until(lambda: _gc_pauses_counted(url) > 0, "a timed collection", 60)
        assert node.stop() == 0
    frozen = [r for r in read_json_lines(output.read_text()) if r["event"] == "gc_frozen"]
    assert len(frozen) == 1
    match = FROZEN.fullmatch(frozen[0]["message"])
    assert match is not None and int(match[1]) > 0
    # A request's short-lived objects die before a young collection promotes them.
    assert int(match[2]) == YOUNG_THRESHOLD
