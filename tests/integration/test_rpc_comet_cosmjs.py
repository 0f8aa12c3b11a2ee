"""A real third-party client, unmodified: npm ``@cosmjs/tendermint-rpc`` (pinned in
tests/js/package.json) drives a node through ``Comet38Client`` over HttpClient, HttpBatchClient
and WebsocketClient (tests/js/cosmjs_client.mjs), and we check what it decoded.

``make test`` installs the client first (``npm ci`` into tests/js/node_modules). Without it, or
without ``node``, this test FAILS on purpose: skipping would hide a broken compatibility claim.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from consensus.crypto import sha256
from tests.integration.harness import Cluster
from tests.integration.test_rpc_comet_support import (
    make_transfer,
    result,
)

pytestmark = pytest.mark.integration

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "cosmjs_client.mjs"
CLIENT_PACKAGE = JS_DIR / "node_modules" / "@cosmjs" / "tendermint-rpc" / "package.json"
SCRIPT_TIMEOUT_S = 120


def test_cosmjs_comet38_client_over_http_batch_and_websocket(comet_cluster: Cluster) -> None:
    node = shutil.which("node")
    assert node is not None, "node (Node.js) is not on PATH"
    assert CLIENT_PACKAGE.exists(), "run `make tests/js/node_modules` (npm ci) first"
    pinned = json.loads((JS_DIR / "package.json").read_text())["dependencies"]
    installed = json.loads(CLIENT_PACKAGE.read_text())["version"]
    assert installed == pinned["@cosmjs/tendermint-rpc"]

    comet_cluster.wait_height(0, 3)
    sync_tx = make_transfer(
        comet_cluster, payer="BANKD/dave", payee="BANKD/erin", instrument="BANKD:CNH"
    )
    commit_tx = make_transfer(
        comet_cluster, payer="BANKD/erin", payee="BANKD/dave", instrument="BANKD:CNH"
    )
    run = subprocess.run(
        [node, str(SCRIPT), comet_cluster.url(0), _b64(sync_tx), _b64(commit_tx)],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0, f"stdout: {run.stdout}\nstderr: {run.stderr}"
    out = json.loads(run.stdout)
    _check_http(comet_cluster, out["http"])
    assert out["batch"] == {
        "network": "depochain-localnet",
        "height": 1,
        "validatorsCount": 2,
        "validatorsTotal": 4,
    }
    _check_websocket(out["websocket"], sha256(sync_tx).hex().upper())
    _check_commit(comet_cluster, out["commit"], sha256(commit_tx).hex().upper())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _check_http(cluster: Cluster, http: dict[str, object]) -> None:
    status = http["status"]
    assert isinstance(status, dict)
    assert status["version"].startswith("0.38.") and status["network"] == "depochain-localnet"
    assert status["latestBlockHeight"] >= 3
    ours = result(cluster, "block", height="2")
    assert http["block"] == {
        "height": 2,
        "hash": ours["block_id"]["hash"],
        "lastCommitSignatures": 4,
    }
    assert http["blockchain"] == [3, 2, 1]
    commit = http["commit"]
    assert isinstance(commit, dict)
    assert commit["height"] == 2 and commit["canonical"] is True and commit["signed"] >= 3
    assert commit["blockHash"] == ours["block_id"]["hash"]
    assert http["validators"] == {
        "total": 4,
        "powers": ["10", "10", "10", "10"],
        "algorithms": ["ed25519"] * 4,
    }


def _check_websocket(ws: dict[str, object], tx_hash: str) -> None:
    assert ws["expectedHash"] == tx_hash
    assert isinstance(ws["newBlockHeight"], int) and ws["newBlockHeight"] >= 1
    assert ws["broadcastTxSync"] == {"code": 0, "hash": tx_hash}
    event = ws["txEvent"]
    assert isinstance(event, dict)
    assert event["hash"] == tx_hash and event["code"] == 0
    assert event["eventTypes"] == ["Transferred"]
    assert isinstance(ws["statusOverWebsocket"], int) and ws["statusOverWebsocket"] >= 1


def _check_commit(cluster: Cluster, commit: dict[str, dict[str, object]], tx_hash: str) -> None:
    committed = commit["broadcastTxCommit"]
    assert committed["hash"] == tx_hash
    assert committed["checkTxCode"] == 0 and committed["txResultCode"] == 0
    height = committed["height"]
    header = result(cluster, "header", height=str(height))["header"]
    assert commit["tx"] == {
        "height": height,
        "index": commit["tx"]["index"],
        "hash": tx_hash,
        "proofRoot": header["data_hash"],
        "proofTotal": commit["tx"]["proofTotal"],
        "txMatches": True,
    }
    search = commit["txSearch"]
    assert tx_hash in search["byHeightHashes"]  # type: ignore[operator]
    assert search["byHashTotal"] == 1
