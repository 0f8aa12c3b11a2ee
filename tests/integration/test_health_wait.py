"""The cluster harness's waits for a node: a node process that dies fails the wait (for health
or for a height) at once with its log, one that never answers fails it once its budget is
spent, and the budget comes from ``DEPOCHAIN_TEST_START_TIMEOUT_S``. Real processes; the
healthy path is every cluster test's setup."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import health_wait, node_process
from tests.integration.node_process import answers_health, find_free_base_port, start_command

pytestmark = [pytest.mark.integration]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that never serves anything."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process
    process.kill()
    process.wait()


def test_a_node_that_exits_while_starting_fails_the_wait_with_its_log(tmp_path: Path) -> None:
    home, log = tmp_path / "no-such-home", tmp_path / "node.log"
    with open(log, "wb") as sink:
        node = subprocess.Popen(
            start_command(home),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{find_free_base_port(1) + 1}"
    try:
        with pytest.raises(RuntimeError, match=r"node 0 exited with code [1-9]") as failure:
            # a budget far beyond what the node needs to fail: only its exit ends the wait
            health_wait.wait_healthy(
                node, functools.partial(answers_health, url), "node 0", log.read_text, timeout_s=60
            )
    finally:
        node.kill()
        node.wait()
    assert log.read_text().strip(), "the node wrote nothing to explain its exit"
    assert log.read_text().strip() in str(failure.value)


@pytest.mark.timeout(120)
def test_a_process_that_never_answers_fails_once_its_budget_is_spent(
    sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the wall-clock ceiling out of the way: only the idle-machine budget can end this wait
    monkeypatch.setattr(health_wait, "WALL_CEILING_S", 3600.0)
    monkeypatch.setenv(health_wait.START_TIMEOUT_ENV, "0.5")
    url = f"http://127.0.0.1:{find_free_base_port(1) + 1}"
    with pytest.raises(TimeoutError, match=r"node 7 not healthy after .*: the log tail"):
        health_wait.wait_healthy(
            sleeper, functools.partial(answers_health, url), "node 7", lambda: "the log tail"
        )
    assert sleeper.poll() is None


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(health_wait.START_TIMEOUT_ENV, raising=False)
    assert health_wait.start_timeout_s() == health_wait.DEFAULT_START_TIMEOUT_S
    monkeypatch.setenv(health_wait.START_TIMEOUT_ENV, " 7.5 ")
    assert health_wait.start_timeout_s() == 7.5
    for nonsense in ("abc", "0", "-3", "nan", "inf", "5 s"):
        monkeypatch.setenv(health_wait.START_TIMEOUT_ENV, nonsense)
        with pytest.raises(ValueError, match=health_wait.START_TIMEOUT_ENV):
            health_wait.start_timeout_s()


@pytest.mark.timeout(120)
def test_a_height_wait_on_a_node_whose_process_exits_fails_at_once_with_its_log(
    tmp_path: Path,
) -> None:
    log = tmp_path / "node.log"
    log.write_text("the node's last words\n")
    exited = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    exited.wait()

    def unreachable() -> int:
        raise ConnectionRefusedError("nothing listens")

    with pytest.raises(
        RuntimeError, match=r"node 2 \(at height -1\) exited with code 3"
    ) as failure:
        # a budget far beyond the test's timeout: only the exit can end this wait in time
        node_process.wait_height(
            exited, unreachable, 5, "node 2", functools.partial(health_wait.log_tail, log), 3600
        )
    assert "the node's last words" in str(failure.value)
