"""`depochain init` then `depochain start`: a single-validator chain makes blocks on its own."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration import health_wait
from tests.integration.harness import answers_health, find_free_base_port
from tests.integration.test_localnet import get_height, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_an_initialised_home_starts_and_makes_blocks(tmp_path: Path) -> None:
    home, p2p = tmp_path / "solo", find_free_base_port(1)
    init = [sys.executable, "-m", "node.cli", "init", "--home", str(home), "--chain-id", "solo-1"]
    init += ["--p2p-port", str(p2p), "--rpc-port", str(p2p + 1)]
    subprocess.run(init, check=True, capture_output=True)
    url = f"http://127.0.0.1:{p2p + 1}"
    with open(tmp_path / "node.log", "wb") as log:
        node = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "start", "--home", str(home)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def has_blocks() -> bool:
            try:
                return get_height(url) >= 2
            except OSError:
                return node.poll() is not None  # stop waiting: it died

        log_tail = functools.partial(health_wait.log_tail, tmp_path / "node.log")
        health_wait.wait_healthy(node, functools.partial(answers_health, url), "node", log_tail)
        wait_until(has_blocks, "the single validator to commit blocks", 60)
        assert node.poll() is None, (tmp_path / "node.log").read_text()
        node.terminate()
        assert node.wait(timeout=30) == 0
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
