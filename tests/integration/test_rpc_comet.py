"""CometBFT v0.38 JSON-RPC against a real 4-node cluster: every route, its shapes, and errors.

Shapes follow what CometBFT emits (and what cosmjs parses): 64-bit integers as decimal strings,
hashes as upper-case hex, bytes as base64, errors as JSON-RPC error objects with HTTP 200.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from consensus.crypto import MerkleProof, SignPurpose, sha256, verify, verify_merkle_proof
from consensus.merkle import Proof, ProofError, verify_membership, verify_non_membership
from consensus.messages import VoteType, compute_vote_sign_payload
from tests.integration.harness import Cluster
from tests.integration.test_rpc_comet_support import (
    CHAIN_ID,
    b64,
    http,
    make_transfer,
    result,
    rpc,
)

pytestmark = pytest.mark.integration

HEX_UPPER = re.compile(r"^[0-9A-F]{64}$")
ADDRESS = re.compile(r"^[0-9A-F]{40}$")
INT_STRING = re.compile(r"^\d+$")


def _header_ok(header: dict[str, Any]) -> None:
    assert INT_STRING.match(header["height"])
    assert header["chain_id"] == "depochain-localnet"
    for name in ("data_hash", "validators_hash", "app_hash", "evidence_hash", "last_commit_hash"):
        assert HEX_UPPER.match(header[name]), name
    assert ADDRESS.match(header["proposer_address"])
    assert header["time"].endswith("Z")


# -- info ------------------------------------------------------------------------------------


def test_status_health_and_node_info(comet_cluster: Cluster) -> None:
    assert result(comet_cluster, "health") == {}
    status = result(comet_cluster, "status")
    assert status["node_info"]["version"].startswith("0.38.")
    assert status["node_info"]["network"] == "depochain-localnet"
    sync = status["sync_info"]
    assert INT_STRING.match(sync["latest_block_height"]) and int(sync["latest_block_height"]) >= 2
    assert HEX_UPPER.match(sync["latest_block_hash"])
    assert sync["catching_up"] is False
    validator = status["validator_info"]
    key = base64.b64decode(validator["pub_key"]["value"])
    assert validator["address"] == sha256(key)[:20].hex().upper()
    net = result(comet_cluster, "net_info")
    assert net["listening"] is True and net["n_peers"] == "3" and len(net["peers"]) == 3
    info = result(comet_cluster, "abci_info")["response"]
    assert INT_STRING.match(info["last_block_height"])
    assert len(base64.b64decode(info["last_block_app_hash"])) == 32


def test_genesis_and_consensus_params(comet_cluster: Cluster) -> None:
    genesis = result(comet_cluster, "genesis")["genesis"]
    assert genesis["chain_id"] == "depochain-localnet"
    assert len(genesis["validators"]) == 4
    assert all(INT_STRING.match(v["power"]) for v in genesis["validators"])
    assert genesis["app_state"]["chain_id"] == "depochain-localnet"
    params = result(comet_cluster, "consensus_params", height="1")
    assert params["block_height"] == "1"
    assert INT_STRING.match(params["consensus_params"]["block"]["max_bytes"])


# -- blocks ----------------------------------------------------------------------------------


def test_block_header_and_hash_routes_agree(comet_cluster: Cluster) -> None:
    block = result(comet_cluster, "block", height="2")
    header = block["block"]["header"]
    _header_ok(header)
    assert header["height"] == "2"
    block_hash = block["block_id"]["hash"]
    assert HEX_UPPER.match(block_hash)
    assert result(comet_cluster, "block_by_hash", hash=b64(bytes.fromhex(block_hash))) == block
    assert result(comet_cluster, "header", height=2)["header"] == header
    assert result(comet_cluster, "header_by_hash", hash=block_hash)["header"] == header
    status, uri = http(f"{comet_cluster.url(0)}/block?height=2")
    assert status == 200 and uri["result"] == block
    first = result(comet_cluster, "block", height="1")["block"]
    assert first["header"]["last_block_id"]["hash"] == ""
    assert first["last_commit"]["signatures"] == []


def test_commit_signatures_verify_against_the_validators(comet_cluster: Cluster) -> None:
    comet_cluster.wait_height(0, 3)
    latest = result(comet_cluster, "commit")
    assert latest["canonical"] is False  # as CometBFT: the tip's commit is the one we saw
    commit = result(comet_cluster, "commit", height="2")
    assert commit["canonical"] is True
    signed = commit["signed_header"]["commit"]
    assert signed["height"] == "2"
    block_hash = bytes.fromhex(signed["block_id"]["hash"])
    validators = result(comet_cluster, "validators", height="2")["validators"]
    keys = {v["address"]: base64.b64decode(v["pub_key"]["value"]) for v in validators}
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, 2, signed["round"], block_hash)
    committed = [s for s in signed["signatures"] if s["block_id_flag"] == 2]
    assert len(committed) >= 3
    for sig in committed:
        key = keys[sig["validator_address"]]
        signature = base64.b64decode(sig["signature"])
        assert verify(key, SignPurpose.VOTE, CHAIN_ID, payload, signature)
    for sig in signed["signatures"]:
        if sig["block_id_flag"] == 1:
            assert sig["signature"] is None and sig["validator_address"] == ""


def test_blockchain_metas_are_bounded_and_descending(comet_cluster: Cluster) -> None:
    comet_cluster.wait_height(0, 3)
    chain = result(comet_cluster, "blockchain", minHeight="1", maxHeight="3")
    heights = [meta["header"]["height"] for meta in chain["block_metas"]]
    assert heights == ["3", "2", "1"]
    meta = chain["block_metas"][0]
    assert INT_STRING.match(meta["block_size"]) and meta["num_txs"] == "0"
    everything = result(comet_cluster, "blockchain")
    assert 1 <= len(everything["block_metas"]) <= 20
    assert everything["block_metas"][0]["header"]["height"] == everything["last_height"]
    error = rpc(comet_cluster, "blockchain", minHeight="3", maxHeight="2")["error"]
    assert error["code"] == -32603 and "can't be greater" in error["data"]


def test_validators_paging(comet_cluster: Cluster) -> None:
    page = result(comet_cluster, "validators", height="1", page="2", per_page="3")
    assert page["count"] == "1" and page["total"] == "4" and page["block_height"] == "1"
    error = rpc(comet_cluster, "validators", page="3", per_page="2")["error"]
    assert error["code"] == -32603 and "page should be within [1, 2]" in error["data"]


# -- a transfer, end to end -------------------------------------------------------------------


def test_transfer_commit_tx_proof_search_and_query(comet_cluster: Cluster) -> None:
    raw = make_transfer(comet_cluster, payer="BANKA/alice", payee="BANKA/bob", amount=250)
    tx_hash = sha256(raw).hex().upper()
    check = result(comet_cluster, "check_tx", tx=b64(raw))
    assert check["code"] == 0
    committed = result(comet_cluster, "broadcast_tx_commit", tx=b64(raw))
    assert committed["hash"] == tx_hash and committed["check_tx"]["code"] == 0
    assert committed["tx_result"]["code"] == 0
    height = committed["height"]
    events = committed["tx_result"]["events"]
    transferred = next(e for e in events if e["type"] == "Transferred")
    attributes = {a["key"]: a["value"] for a in transferred["attributes"]}
    assert attributes["from_account"] == "BANKA/alice" and attributes["amount"] == "250"

    found = result(comet_cluster, "tx", hash=b64(bytes.fromhex(tx_hash)), prove=True)
    assert found["height"] == height and found["tx"] == b64(raw) and found["hash"] == tx_hash
    header = result(comet_cluster, "header", height=height)["header"]
    proof = found["proof"]
    assert proof["root_hash"] == header["data_hash"]
    merkle = MerkleProof(
        int(proof["proof"]["index"]),
        int(proof["proof"]["total"]),
        tuple(base64.b64decode(a) for a in proof["proof"]["aunts"]),  # type: ignore[misc]
    )
    assert verify_merkle_proof(bytes.fromhex(header["data_hash"]), raw, merkle)
    assert not verify_merkle_proof(bytes.fromhex(header["data_hash"]), raw + b"x", merkle)
    assert result(comet_cluster, "tx", hash="0x" + tx_hash)["index"] == found["index"]
    results = result(comet_cluster, "block_results", height=height)
    assert results["txs_results"][found["index"]]["events"] == events

    _search_finds(comet_cluster, tx_hash, height)
    balance = result(comet_cluster, "abci_query", path="/balance/BANKA/bob/BANKA:USD")
    value = json.loads(base64.b64decode(balance["response"]["value"]))
    assert value["total"] >= 250
    again = result(comet_cluster, "broadcast_tx_sync", tx=b64(raw))
    assert again["hash"] == tx_hash  # a committed tx is known, not admitted twice


def _search_finds(cluster: Cluster, tx_hash: str, height: str) -> None:
    queries = [
        f"tx.hash='{tx_hash}'",
        f"tx.height={height}",
        f"tx.height>={height} AND tx.height<={height}",
        "Transferred.from_account='BANKA/alice'",
        "tm.event='Tx' AND Transferred.from_account='BANKA/alice' AND Transferred.amount>=250",
    ]
    for query in queries:
        found = result(cluster, "tx_search", query=query)
        assert tx_hash in [tx["hash"] for tx in found["txs"]], query
        assert int(found["total_count"]) >= 1
    none = result(cluster, "tx_search", query="Transferred.from_account='nobody/here'")
    assert none == {"txs": [], "total_count": "0"}
    page = result(cluster, "tx_search", query="tx.height>=1", per_page="1", order_by="desc")
    assert len(page["txs"]) == 1


def test_unconfirmed_txs_and_async_broadcast(comet_cluster: Cluster) -> None:
    raw = make_transfer(comet_cluster, payer="BANKA/bob", payee="BANKA/alice", amount=1)
    answer = result(comet_cluster, "broadcast_tx_async", tx=b64(raw))
    assert answer["hash"] == sha256(raw).hex().upper() and answer["code"] == 0
    pending = result(comet_cluster, "unconfirmed_txs", limit="5")
    assert INT_STRING.match(pending["total"]) and INT_STRING.match(pending["total_bytes"])
    count = result(comet_cluster, "num_unconfirmed_txs")
    assert INT_STRING.match(count["n_txs"])


def test_abci_query_paths(comet_cluster: Cluster) -> None:
    account = result(comet_cluster, "abci_query", path="/account/BANKA/alice")["response"]
    assert account["code"] == 0
    assert json.loads(base64.b64decode(account["value"]))["account_id"] == "BANKA/alice"
    stored = result(comet_cluster, "abci_query", path="/store/account/BANKA/alice")["response"]
    assert stored["code"] == 0 and base64.b64decode(stored["value"]) != b""
    for path in ("/instrument/BANKA:USD", "/participant/BANKA", "/config"):
        assert result(comet_cluster, "abci_query", path=path)["response"]["code"] == 0, path
    missing = result(comet_cluster, "abci_query", path="/account/BANKA/nobody")["response"]
    assert missing["code"] == 2 and missing["value"] is None
    unknown = result(comet_cluster, "abci_query", path="/nope")["response"]
    assert unknown["code"] == 1


def test_abci_query_proves_a_record_and_an_absence(comet_cluster: Cluster) -> None:
    found = result(comet_cluster, "abci_query", path="/account/BANKA/alice", prove="true")
    missing = result(comet_cluster, "abci_query", path="/account/BANKA/nobody", prove="true")
    for answer, present in ((found["response"], True), (missing["response"], False)):
        height = int(answer["height"])  # the state after this block: the next header's app hash
        comet_cluster.wait_height(0, height + 1)
        header = result(comet_cluster, "block", height=str(height + 1))["block"]["header"]
        app_hash = bytes.fromhex(header["app_hash"])
        (op,) = answer["proofOps"]["ops"]
        assert op["type"] == "depochain:state-tree/v1"
        key, proof = base64.b64decode(op["key"]), Proof.decode(base64.b64decode(op["data"]))
        if present:
            value = base64.b64decode(answer["value"])
            verify_membership(app_hash, key, value, proof)
            with pytest.raises(ProofError):
                verify_membership(app_hash, key, value + b"\x00", proof)
        else:
            verify_non_membership(app_hash, key, proof)
            with pytest.raises(ProofError):
                verify_non_membership(sha256(app_hash), key, proof)


# -- transports and errors --------------------------------------------------------------------


def test_batch_answers_every_request_in_order(comet_cluster: Cluster) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "health"},
        {"jsonrpc": "2.0", "id": "two", "method": "no_such_method"},
        {"jsonrpc": "2.0", "id": 3, "method": "block", "params": {"height": "1"}},
    ]
    status, answers = http(comet_cluster.url(0), json.dumps(batch).encode())
    assert status == 200
    assert [a["id"] for a in answers] == [1, "two", 3]
    assert answers[1]["error"]["code"] == -32601
    assert answers[2]["result"]["block"]["header"]["height"] == "1"


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("no_such_method", {}, -32601),
        ("block", {"height": "ten"}, -32602),
        ("block", {"height": "-1"}, -32602),
        ("block", {"height": "99999999"}, -32603),
        ("block", {"bogus": 1}, -32602),
        ("tx", {"hash": "not-a-hash"}, -32602),
        ("tx", {"hash": "00" * 32}, -32603),
        ("broadcast_tx_sync", {"tx": "%%%"}, -32602),
        ("broadcast_tx_sync", {}, -32602),
        ("tx_search", {"query": "tx.height >> 3"}, -32602),
        ("tx_search", {"query": "tx.height>=1", "page": "99"}, -32603),
        ("tx_search", {"query": "tx.height>=1", "order_by": "sideways"}, -32602),
        ("block_by_hash", {"hash": "AB" * 32}, -32603),
        ("subscribe", {"query": "tm.event='NewBlock'"}, -32601),
        ("abci_query", {"path": "/account/x", "data": "zz"}, -32602),
    ],
)
def test_errors_are_jsonrpc_error_objects(
    comet_cluster: Cluster, method: str, params: dict[str, Any], code: int
) -> None:
    answer = rpc(comet_cluster, method, **params)
    assert answer["error"]["code"] == code, answer
    assert isinstance(answer["error"]["message"], str) and isinstance(answer["error"]["data"], str)


def test_malformed_bodies_and_routes_get_json_answers(comet_cluster: Cluster) -> None:
    url = comet_cluster.url(0)
    status, answer = http(url, b"{not json")
    assert status == 200 and answer["error"]["code"] == -32700
    status, answer = http(url, b'{"jsonrpc": "2.0", "id": 1}')
    assert status == 200 and answer["error"]["code"] == -32600
    status, answer = http(url, b"x" * (3 * 1024 * 1024))
    assert status == 413 and answer["error"]["code"] == "too_large"
    status, answer = http(f"{url}/no_such_route")
    assert status == 404 and answer["error"]["code"] == "not_found"
    status, answer = http(f"{url}/no/such/path")
    assert status == 404 and "error" in answer
    status, answer = http(f"{url}/block?height=99999999")
    assert status == 200 and answer["error"]["code"] == -32603
    status, answer = http(f'{url}/tx_search?query="tx.height%3E%3D1"&per_page=2')
    assert status == 200 and "txs" in answer["result"]
    for body in (b"5", b"[]", b'"x"', b'{"jsonrpc": "1.0", "id": 1, "method": "health"}'):
        status, answer = http(url, body)
        assert status == 200 and answer["error"]["code"] == -32600, body
    status, answer = http(f"{url}/websocket")  # no upgrade headers
    assert status == 400 and "error" in answer
    status, answer = http(f"{url}/tx_search")
    assert status == 200 and answer["error"]["code"] == -32602
