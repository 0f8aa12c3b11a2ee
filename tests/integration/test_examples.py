"""The scripts in examples/ against a real cluster: each exits 0 only when the chain shows its
outcome (PvP, DvP with a hash lock and a refund, a freeze the bank cannot lift and a forced
transfer, a paused instrument), and 1 when it does not."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Cluster

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = [
    "pvp_usd_hkd.py",
    "dvp_hash_lock.py",
    "freeze_and_force.py",
    "pause_instrument.py",
    "policy_travel_rule.py",
]
SCRIPT_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("examples") / "net").running(height=2) as net:
        yield net


def run_example(cluster: Cluster, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--home", str(cluster.home)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_verifies_its_outcome_on_the_chain(cluster: Cluster, script: str) -> None:
    done = run_example(cluster, script)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("verified on the chain")


def test_an_example_fails_when_the_chain_disagrees(cluster: Cluster) -> None:
    """The freeze example expects carol's payment to be refused; with a standing pause of
    the whole network that payment is refused with PAUSED instead, and the script says so."""
    from node.client import Client, Signer, TxRejected, pause_body
    from node.home import load_key

    client = Client(cluster.url(0))
    regulator = Signer("REG", (load_key(cluster.home / "participants" / "REG.json"),))
    client.submit_and_wait(client.prepare(regulator, pause_body("network", "", "DRILL-1")))
    try:
        done = run_example(cluster, "pause_instrument.py")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "FAILED" in done.stdout
    finally:
        lift = pause_body("network", "", "DRILL-1", paused=False)
        client.submit_and_wait(client.prepare(regulator, lift))
        # the script stopped at its first surprise, with its own pause still standing
        left = pause_body("instrument", "BANKB:USD", "REG-NOTICE-2026-7", paused=False)
        with contextlib.suppress(TxRejected):
            client.submit_and_wait(client.prepare(regulator, left))


def test_precheck_over_rest_answers_the_typed_code_and_submits_nothing(cluster: Cluster) -> None:
    from node.client import Client, Signer, transfer_body
    from node.home import load_key

    client = Client(cluster.url(0))  # the node the earlier tests waited on: no lag behind them
    alice = Signer("BANKA/alice", (load_key(cluster.home / "accounts/BANKA/alice.json"),))
    nonce = client.next_nonce("BANKA/alice")
    too_much = client.prepare(alice, transfer_body("BANKA/bob", "BANKA:USD", 10**15), nonce=nonce)
    answer = client.precheck(too_much)
    assert answer["would_pass"] is False and answer["code_name"] == "INSUFFICIENT_FREE_BALANCE"
    fine = client.prepare(alice, transfer_body("BANKA/bob", "BANKA:USD", 100), nonce=nonce)
    assert client.precheck(fine)["code_name"] == "OK"
    assert client.nonce("BANKA/alice")["next_nonce"] == nonce  # nothing was submitted
    final = client.submit_and_wait(fine)
    assert final.receipt["code_name"] == "OK"
