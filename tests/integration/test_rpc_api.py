"""The REST API (/api/v1) against a real 4-node cluster: every route, every error code."""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import Any

import msgpack
import pytest

from consensus.ledger.txs import Transfer
from tests.integration.harness import Cluster
from tests.integration.holdings import assert_supply_is_held
from tests.integration.test_rpc_api_cluster import (
    FULL_NODE,
    api_cluster,
    http,
    sign,
    tx_json,
)

pytestmark = pytest.mark.integration
__all__ = ["api_cluster"]

PAYER = "BANKA/alice"
_keys = itertools.count(1)


def api(cluster: Cluster, path: str, node: int = 0) -> tuple[int, Any]:
    status, _, body = http(cluster.url(node) + "/api/v1" + path)
    return status, body


def post(cluster: Cluster, body: bytes, node: int = 0, content_type: str = "application/json"):
    return http(cluster.url(node) + "/api/v1/txs", body, content_type)


def assert_error(status: int, body: Any, want_status: int, want_code: str) -> None:
    assert status == want_status, body
    assert body["error"]["code"] == want_code, body
    assert isinstance(body["error"]["message"], str)


def next_nonce(cluster: Cluster, submitter: str) -> int:
    status, body = api(cluster, f"/nonce?submitter={submitter}")
    assert status == 200
    return int(body["next_nonce"])


def transfer(cluster: Cluster, amount: int = 100, payer: str = PAYER, **kw: Any):
    to = kw.pop("to", "BANKB/bob")
    instrument = kw.pop("instrument", "BANKA:USD")
    nonce = kw.pop("nonce", None) or next_nonce(cluster, payer)
    key = kw.pop("key", None) or f"rest-{next(_keys)}-{time.monotonic_ns()}"
    return sign(cluster, payer, Transfer(to, instrument, amount), nonce, key, **kw)


def wait_final(cluster: Cluster, tx_hash: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, view = api(cluster, f"/txs/{tx_hash}")
        if status == 200 and view["status"] != "pending":
            return view
        time.sleep(0.1)
    raise AssertionError(f"tx {tx_hash} not final")


# -- reads ------------------------------------------------------------------------------------


def test_status(api_cluster: Cluster) -> None:
    status, body = api(api_cluster, "/status")
    assert status == 200
    assert body["chain_id"] == "depochain-localnet" and body["height"] >= 1


def test_participants_are_paged_with_a_cursor(api_cluster: Cluster) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        status, body = api(api_cluster, f"/participants?limit=2&cursor={cursor}")
        assert status == 200 and len(body["items"]) <= 2
        seen += [p["participant_id"] for p in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert seen == sorted(seen) == ["BANKA", "BANKB", "BANKC", "BANKD", "CB", "REG"]
    status, body = api(api_cluster, "/participants/BANKB")
    assert status == 200 and body["roles"] == ["bank", "validator"]
    assert_error(*api(api_cluster, "/participants/NOBODY"), 404, "not_found")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=" + "A" * 129])
def test_bad_paging_is_malformed(api_cluster: Cluster, query: str) -> None:
    for route in ("participants", "instruments", "accounts", "blocks"):
        assert_error(*api(api_cluster, f"/{route}?{query}"), 400, "malformed")


def test_instruments_carry_supply(api_cluster: Cluster) -> None:
    status, body = api(api_cluster, "/instruments?limit=100")
    assert status == 200
    ids = [i["instrument_id"] for i in body["items"]]
    assert {"BANKA:USD", "BANKB:USD", "BANKC:HKD", "BANKD:CNH", "CB:USD"} <= set(ids)
    status, one = api(api_cluster, "/instruments/BANKC:HKD")
    assert status == 200 and one["supply"] > 0
    for instrument_id in ("BANKC:HKD", "BANKA:USD", "CB:USD"):  # money is where supply says
        assert_supply_is_held(api_cluster, instrument_id)
    assert_error(*api(api_cluster, "/instruments/bad-id"), 400, "malformed")
    assert_error(*api(api_cluster, "/instruments/BANKZ:USD"), 404, "not_found")


def test_accounts_with_balances(api_cluster: Cluster) -> None:
    status, account = api(api_cluster, "/accounts/BANKC/carol")
    assert status == 200 and account["bank"] == "BANKC"
    (balance,) = account["balances"]
    assert balance["instrument_id"] == "BANKC:HKD"
    assert balance["free"] == balance["total"] - balance["frozen"] - balance["held"] > 0
    ids: list[str] = []
    status, page = api(api_cluster, "/accounts?limit=3")
    while True:
        assert status == 200
        ids += [a["account_id"] for a in page["items"]]
        if page["next_cursor"] is None:
            break
        status, page = api(api_cluster, f"/accounts?limit=3&cursor={page['next_cursor']}")
    assert ids == sorted(ids) and len(ids) == len(set(ids)) >= 12
    assert_error(*api(api_cluster, "/accounts/banka/alice"), 400, "malformed")
    assert_error(*api(api_cluster, "/accounts/BANKA/nobody"), 404, "not_found")


def test_nonce(api_cluster: Cluster) -> None:
    status, body = api(api_cluster, "/nonce?submitter=BANKD/erin")
    assert status == 200 and body["next_nonce"] == body["nonce"] + 1
    assert_error(*api(api_cluster, "/nonce"), 400, "malformed")
    assert_error(*api(api_cluster, "/nonce?submitter=not%20an%20id"), 400, "malformed")


def test_blocks_and_validators(api_cluster: Cluster) -> None:
    api_cluster.wait_height(0, 4)
    status, page = api(api_cluster, "/blocks?limit=2")
    assert status == 200 and len(page["items"]) == 2
    first, second = page["items"]
    assert first["height"] == second["height"] + 1
    status, older = api(api_cluster, f"/blocks?limit=1&cursor={page['next_cursor']}")
    assert status == 200 and older["items"][0]["height"] == second["height"] - 1
    status, block = api(api_cluster, f"/blocks/{second['height']}")
    assert status == 200 and block["hash"] == second["hash"]
    assert block["certificate"]["block_hash"] == block["hash"]
    status, latest = api(api_cluster, "/blocks/latest")
    assert status == 200 and latest["height"] >= first["height"]
    assert_error(*api(api_cluster, "/blocks/abc"), 400, "malformed")
    assert_error(*api(api_cluster, "/blocks/999999999"), 404, "not_found")
    status, vset = api(api_cluster, "/validators")
    assert status == 200 and len(vset["validators"]) == 4 and vset["total_power"] == 40
    assert {v["participant_id"] for v in vset["validators"]} == {"BANKA", "BANKB", "BANKC", "BANKD"}
    assert_error(*api(api_cluster, "/validators?height=0"), 400, "malformed")
    assert_error(*api(api_cluster, "/validators?height=999999999"), 404, "not_found")


def test_unknown_route_and_method(api_cluster: Cluster) -> None:
    assert_error(*api(api_cluster, "/nothing-here"), 404, "not_found")
    status, _, body = http(api_cluster.url(0) + "/api/v1/status", b"{}")
    assert_error(status, body, 405, "method_not_allowed")


# -- submission, status, proofs ---------------------------------------------------------------


def test_submit_is_idempotent_and_tx_becomes_committed(api_cluster: Cluster) -> None:
    tx = transfer(api_cluster, amount=250)
    status, _, first = post(api_cluster, tx_json(tx))
    assert status == 202 and first == {
        "hash": tx.tx_hash().hex(),
        "status": "pending",
        "height": None,
    }
    status, _, again = post(api_cluster, tx_json(tx))
    assert status in (200, 202) and again["hash"] == first["hash"]
    view = wait_final(api_cluster, first["hash"])
    assert view["status"] == "committed" and view["receipt"]["code_name"] == "OK"
    events = {e["type"]: e for e in view["receipt"]["events"]}
    assert events["Transferred"]["cross_bank"] is True and events["Transferred"]["amount"] == 250
    assert events["InterbankSettled"]["from_bank"] == "BANKA"
    status, _, later = post(api_cluster, tx_json(tx), node=1)
    assert status == 200 and later == {**first, "status": "committed", "height": view["height"]}
    key = tx.unsigned.idempotency_key
    status, by_key = api(api_cluster, f"/txs/by-key?submitter={PAYER}&key={key}&prove=true", 2)
    assert status == 200 and by_key["hash"] == first["hash"]
    assert by_key["proof"]["height"] == view["height"]
    # Each node keeps the certificate it saw (any > 2/3 of precommits): same node, same proof.
    status, proof = api(api_cluster, f"/txs/{first['hash']}/proof", 2)
    assert status == 200 and proof == by_key["proof"]


def test_lookup_errors(api_cluster: Cluster) -> None:
    missing = "ab" * 32
    assert_error(*api(api_cluster, f"/txs/{missing}"), 404, "not_found")
    assert_error(*api(api_cluster, f"/txs/{missing}/proof"), 404, "not_found")
    assert_error(*api(api_cluster, "/txs/xyz"), 404, "not_found")  # only a hash is a tx route
    status, headers, _ = http(api_cluster.url(0) + "/api/v1/txs/precheck")  # not read as a hash
    assert (status, headers.get("Allow")) == (405, "POST")
    assert_error(*api(api_cluster, f"/txs/{missing}?prove=maybe"), 400, "malformed")
    assert_error(*api(api_cluster, f"/txs/by-key?submitter={PAYER}&key=never"), 404, "not_found")
    assert_error(*api(api_cluster, "/txs/by-key?submitter=x"), 400, "malformed")


def test_rule_failure_in_the_block_is_a_rejected_status(api_cluster: Cluster) -> None:
    tx = transfer(api_cluster, amount=10**15)  # far above alice's balance: fails in the block
    status, _, answer = post(api_cluster, tx_json(tx))
    assert status == 202
    view = wait_final(api_cluster, answer["hash"])
    assert view["status"] == "rejected" and view["height"] is not None
    assert view["rejection"]["code_name"] == "INSUFFICIENT_FREE_BALANCE"


def test_conflicting_idempotency_key_is_409(api_cluster: Cluster) -> None:
    key = f"conflict-{time.monotonic_ns()}"
    first = transfer(api_cluster, amount=1, key=key)
    nonce = first.unsigned.nonce
    second = transfer(api_cluster, amount=2, key=key, nonce=nonce + 1)
    batch = json.dumps({"txs": [base64.b64encode(t.encode()).decode() for t in (first, second)]})
    status, _, body = post(api_cluster, batch.encode())
    assert status == 200
    accepted, conflict = body["results"]
    assert accepted["status_code"] == 202 and accepted["hash"] == first.tx_hash().hex()
    assert conflict["status_code"] == 409 and conflict["error"]["code"] == "conflict"
    wait_final(api_cluster, accepted["hash"])
    third = transfer(api_cluster, amount=3, key=key)
    assert_error(*post(api_cluster, tx_json(third), node=1)[::2], 409, "conflict")


def test_envelope_rejections_are_422(api_cluster: Cluster) -> None:
    wrong_chain = transfer(api_cluster, chain_id="another-chain")
    status, _, body = post(api_cluster, tx_json(wrong_chain))
    assert_error(status, body, 422, "rejected")
    assert body["error"]["details"]["code_name"] == "WRONG_CHAIN"
    stale = transfer(api_cluster, nonce=1) if next_nonce(api_cluster, PAYER) > 1 else None
    if stale is not None:
        status, _, body = post(api_cluster, tx_json(stale))
        assert_error(status, body, 422, "rejected")
        assert body["error"]["details"]["code_name"] == "BAD_NONCE"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", "application/json"),
        (b'{"tx": "!!!"}', "application/json"),
        (b'{"tx": 5}', "application/json"),
        (b'{"txs": []}', "application/json"),
        (b'{"other": 1}', "application/json"),
        (b'{"tx": ""}', "application/json"),
        (b'{"txs": [""]}', "application/json"),
    ],
)
def test_malformed_submissions_are_400(
    api_cluster: Cluster, body: bytes, content_type: str
) -> None:
    status, _, answer = post(api_cluster, body, content_type=content_type)
    assert_error(status, answer, 400, "malformed")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            json.dumps({"tx": base64.b64encode(b"\x93garbage").decode()}).encode(),
            "application/json",
        ),
        (b"\xc1\xc1", "application/msgpack"),
        (b"", "application/msgpack"),
        (b"\xdc\x00\x01\xc4\x01x", "application/msgpack"),  # a list, not canonical (array 16)
    ],
)
def test_well_formed_bodies_that_are_no_tx_are_422_malformed(
    api_cluster: Cluster, body: bytes, content_type: str
) -> None:
    """The request matches the API document; the bytes are no signed tx: the ledger's code."""
    status, _, answer = post(api_cluster, body, content_type=content_type)
    assert_error(status, answer, 422, "rejected")
    assert answer["error"]["details"]["code_name"] == "MALFORMED"


def test_too_large_is_413(api_cluster: Cluster) -> None:
    huge_tx = json.dumps({"tx": base64.b64encode(b"x" * 9000).decode()}).encode()
    assert_error(*post(api_cluster, huge_tx)[::2], 413, "too_large")
    many = json.dumps({"txs": [base64.b64encode(b"x").decode()] * 101}).encode()
    assert_error(*post(api_cluster, many)[::2], 413, "too_large")
    body = b'{"tx": "' + b"A" * (3 * 1024 * 1024) + b'"}'
    assert_error(*post(api_cluster, body)[::2], 413, "too_large")


def test_unsupported_media_type_is_415(api_cluster: Cluster) -> None:
    status, _, body = post(api_cluster, b"hello", content_type="text/plain")
    assert_error(status, body, 415, "unsupported_media_type")


def test_msgpack_single_and_batch(api_cluster: Cluster) -> None:
    one = transfer(api_cluster, amount=5)
    status, _, body = post(api_cluster, one.encode(), content_type="application/msgpack")
    assert status == 202 and body["hash"] == one.tx_hash().hex()
    two = transfer(api_cluster, amount=6, nonce=one.unsigned.nonce + 1)
    packed = msgpack.packb([one.encode(), two.encode()], use_bin_type=True)
    status, _, body = post(api_cluster, packed, content_type="application/msgpack")
    assert status == 200
    assert [r["hash"] for r in body["results"]] == [one.tx_hash().hex(), two.tx_hash().hex()]
    assert [r["status_code"] for r in body["results"]][1] == 202
    assert wait_final(api_cluster, two.tx_hash().hex())["status"] == "committed"


def test_full_mempool_is_429_with_retry_after(api_cluster: Cluster) -> None:
    """Node 3 holds one tx at most: the second of two back-to-back submissions cannot fit."""
    payer = "BANKD/erin"
    nonce = next_nonce(api_cluster, payer)
    for attempt in range(20):
        txs = [
            transfer(api_cluster, amount=1, payer=payer, to="BANKD/dave", instrument="BANKD:CNH",
                     nonce=nonce + 3 * attempt + i)
            for i in range(3)
        ]  # fmt: skip
        batch = json.dumps({"txs": [base64.b64encode(t.encode()).decode() for t in txs[:2]]})
        status, _, body = post(api_cluster, batch.encode(), node=FULL_NODE)
        assert status == 200
        codes = [r["status_code"] for r in body["results"]]
        status, headers, single = post(api_cluster, tx_json(txs[2]), node=FULL_NODE)
        if status == 429:
            assert 429 in codes
            assert_error(status, single, 429, "mempool_full")
            assert int(headers["Retry-After"]) >= 1
            return
    raise AssertionError("the one-tx mempool never reported full")


@pytest.mark.parametrize(
    "path",
    [
        "/participants/bad-id",  # outside the participant id pattern
        "/blocks/%D9%A3",  # a digit of another script: the document's heights are ASCII digits
        "/validators?height=%C2%B2",  # a superscript two (str.isdigit takes it)
        "/blocks?limit=%D9%A3",
        "/accounts/BANKA/alice?height=x",  # the proof height is checked with or without prove
        "/instruments/BANKA:USD?height=-1",
        "/instruments/BANKA:USD/balances?limit=1001",
    ],
)
def test_parameters_outside_the_document_are_malformed(api_cluster: Cluster, path: str) -> None:
    assert_error(*api(api_cluster, path), 400, "malformed")


def test_a_height_with_leading_zeros_is_the_height(api_cluster: Cluster) -> None:
    status, block = api(api_cluster, "/blocks/0001")
    assert (status, block["height"]) == (200, 1)
