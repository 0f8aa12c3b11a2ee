"""`depochain init` then `depochain start`: a single-validator chain makes blocks on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.node_process import init_solo_home, running_node

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_an_initialised_home_starts_and_makes_blocks(tmp_path: Path) -> None:
    home = tmp_path / "solo"
    url = init_solo_home(home, "solo-1")
    with running_node(home, url, tmp_path / "node.log") as node:
        node.wait_height(2)  # the single validator commits blocks
        assert node.stop() == 0
