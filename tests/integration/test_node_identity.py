"""The harness talks only to the nodes it started: when another node answers on a test node's
port (another run's node took it, as once happened between two runs), the wait for the test's
node fails at once, naming both node ids, rather than letting the test talk to another chain;
and a height wait on a node whose process has exited fails at once with that node's log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.harness import Cluster
from tests.integration.node_process import ForeignNodeError

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_node_answering_on_our_port_with_another_key_fails_the_start_at_once(
    tmp_path: Path,
) -> None:
    ours = Cluster(tmp_path / "ours", validators=1)
    # A second run on the same ports (generated before ours binds them): its node key differs.
    theirs = Cluster(tmp_path / "theirs", validators=1, base_port=ours.info.base_port)
    assert theirs.url(0) == ours.url(0) and theirs.node_id(0) != ours.node_id(0)
    with ours.running():
        try:
            assert ours.height(0) >= 0  # our own node passes the check
            theirs.start(0)  # it cannot bind the ports ours holds; ours answers in its place
            with pytest.raises(ForeignNodeError) as failure:
                theirs.wait_healthy(0, timeout_s=300)
            message = str(failure.value)
            print(message)  # the report shows it with -s
            assert f"reports node id {ours.node_id(0)}" in message
            assert f"the test's node has id {theirs.node_id(0)}" in message
            with pytest.raises(ForeignNodeError):
                theirs.height(0)

            # Its process exits (the ports are taken): a height wait ends at once, with its log.
            theirs.processes[0].wait(timeout=120)
            with pytest.raises(RuntimeError, match=r"node 0 \(at height -1\) exited with code 1"):
                theirs.wait_height(0, 1, timeout_s=300)
        finally:
            theirs.stop_all()
    log = theirs.log_tail(0)
    assert re.search(r"address already in use", log, re.IGNORECASE), log
