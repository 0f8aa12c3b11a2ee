"""The CLI wallet (`depochain tx …`, `depochain query …`) as subprocesses against the cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Cluster
from tests.integration.holdings import assert_supply_is_held, get_supply
from tests.integration.test_rpc_api_cluster import api_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["api_cluster"]

ROOT = Path(__file__).resolve().parents[2]


def depochain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        check=False,
    )


def ok(*args: str) -> str:
    result = depochain(*args)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


def signing(cluster: Cluster, submitter: str) -> list[str]:
    folder = "accounts" if "/" in submitter else "participants"
    key_file = cluster.home / folder / f"{submitter}.json"
    genesis = cluster.home / "genesis.json"
    return ["--from", submitter, "--key-file", str(key_file), "--genesis", str(genesis)]


def test_transfer_readable_then_queries(api_cluster: Cluster) -> None:
    node = ["--node", api_cluster.url(1)]
    supply_before = {iid: get_supply(api_cluster, iid, 1) for iid in ("BANKA:USD", "BANKB:USD")}
    out = ok(
        "tx",
        "transfer",
        "BANKA/alice",
        "BANKB:USD",
        "1500",
        *signing(api_cluster, "BANKB/carol"),
        *node,
    )
    assert "committed at height" in out and "finality proof verified" in out
    assert "Transferred:" in out and "InterbankSettled:" in out
    tx_hash = out.splitlines()[0].split()[1]
    genesis = ["--genesis", str(api_cluster.home / "genesis.json")]
    view = ok_json("query", "tx", tx_hash, "--prove", *genesis, *node)
    assert view["status"] == "committed" and view["proof"]["hash"] == tx_hash
    assert view["verified"]["accepted"] and view["verified"]["height"] == view["height"]
    key = view["decoded"]["idempotency_key"]
    by_key = ok_json("query", "tx", "--submitter", "BANKB/carol", "--key", key, *node)
    assert by_key["hash"] == tx_hash
    assert f"tx {tx_hash}: committed" in ok("query", "tx", tx_hash, *node)
    account = ok_json("query", "account", "BANKB/carol", *node)
    assert account["balances"][0]["instrument_id"] == "BANKB:USD"
    assert "BANKB:USD" in ok("query", "account", "BANKB/carol", *node)
    block = ok_json("query", "block", str(view["height"]), *node)
    assert tx_hash in block["tx_hashes"]
    assert ok("query", "block", *node).startswith("block ")
    # Cross-bank: carol's BANKB:USD is burned and alice gets BANKA:USD minted, at par.
    supply = ok_json("query", "supply", "BANKA:USD", *node)
    assert supply["supply"] == supply_before["BANKA:USD"] + 1500
    assert get_supply(api_cluster, "BANKB:USD", 1) == supply_before["BANKB:USD"] - 1500
    for instrument_id in ("BANKA:USD", "BANKB:USD", "CB:USD"):
        assert_supply_is_held(api_cluster, instrument_id, 1)
    assert "CB:USD" in ok("query", "supply", *node)
    assert len(ok_json("query", "validators", *node)["validators"]) == 4
    assert "total power 40" in ok("query", "validators", *node)  # fmt: skip


def test_bank_operations_json(api_cluster: Cluster) -> None:
    node = ["--node", api_cluster.url(2)]
    bank = signing(api_cluster, "BANKD")
    owner = str(api_cluster.home / "accounts" / "BANKD" / "erin.json")
    opened = ok_json(
        "tx",
        "open-account",
        "BANKD/wallet1",
        "--owner-key-file",
        owner,
        "--kyc-ref",
        "kyc-file-42",
        *bank,
        *node,
    )
    assert opened["receipt"]["events"][0]["type"] == "AccountOpened" and opened["proof_verified"]
    minted = ok_json(
        "tx", "mint", "BANKD/wallet1", "BANKD:CNH", "900", "--funding-ref", "deb-1", *bank, *node
    )
    assert minted["receipt"]["events"][0]["amount"] == 900
    frozen = ok_json(
        "tx",
        "freeze",
        "BANKD/wallet1",
        "--legal-basis",
        "court-7",
        "--instrument",
        "BANKD:CNH",
        "--amount",
        "100",
        *bank,
        *node,
    )
    assert frozen["receipt"]["events"][0]["type"] == "Frozen"
    holder = ["--from", "BANKD/wallet1", "--key-file", owner]
    redeemed = ok_json(
        "tx",
        "redeem",
        "BANKD/wallet1",
        "BANKD:CNH",
        "300",
        "--payout-ref",
        "iban-1",
        *holder,
        *node,
    )
    assert redeemed["validator_set_source"] == "node"
    balance = ok_json("query", "account", "BANKD/wallet1", *node)["balances"][0]
    assert (balance["total"], balance["frozen"], balance["free"]) == (600, 100, 500)
    submitted = ok_json(
        "tx", "transfer", "BANKD/dave", "BANKD:CNH", "1", "--no-wait", *holder, *node
    )
    assert submitted["status"] == "pending"  # fmt: skip


def test_errors_are_one_clear_line(api_cluster: Cluster) -> None:
    node = ["--node", api_cluster.url(0)]
    cases = [
        (["tx", "transfer", "BANKB/bob", "BANKA:USD", str(10**15),
          *signing(api_cluster, "BANKA/bob"), *node], "rejected: INSUFFICIENT_FREE_BALANCE"),
        (["tx", "transfer", "BANKB/bob", "BANKA:USD", "1", "--from", "BANKA/bob",
          "--key-file", "/nonexistent.json", *node], "cannot read key file"),
        (["tx", "transfer", "BANKB/bob", "BANKA:USD", "1", "--from", "BANKA/bob", *node],
         "--key-file PATH or --key NAME"),
        (["query", "account", "BANKA/nobody", *node], "404 not_found"),
        (["query", "tx", "zz", *node], "malformed tx hash 'zz'"),
        (["query", "tx", *node], "give a tx HASH"),
        (["query", "validators", "--node", "http://127.0.0.1:9"], "127.0.0.1:9"),
    ]  # fmt: skip
    for args, expected in cases:
        result = depochain(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert result.stderr.startswith("depochain ") and "Traceback" not in result.stderr


def test_sign_only_body_is_what_curl_posts(api_cluster: Cluster) -> None:
    from tests.integration.test_rpc_api_cluster import http

    body = ok("tx", "transfer", "BANKC/dave", "BANKC:HKD", "7", "--sign-only",
              *signing(api_cluster, "BANKC/carol"), "--node", api_cluster.url(0))  # fmt: skip
    assert set(json.loads(body)) == {"tx"}
    status, _, answer = http(api_cluster.url(0) + "/api/v1/txs", body.strip().encode())
    assert status == 202 and answer["status"] == "pending"
