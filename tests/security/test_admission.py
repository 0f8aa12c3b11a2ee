"""Admission against a real 4-node cluster: the mempool is the network's front door.

One test per attack of issue 9, item 1, each against node processes over real sockets:

- lock-out: thousands of txs from an unknown submitter signed with a random key are refused
  (typed code, REST and CometBFT), the mempool stays empty, the genuine operator's tx commits;
- nonce squatting: self-signed txs in bank BANKA's name at its next nonce + 1… are refused,
  ``/api/v1/nonce`` stays right and BANKA's real tx commits;
- junk submitters: txs from many invented submitters never enter a block;
- per-submitter cap: a submitter over its share gets the typed error (429 ``submitter_limit``,
  CheckTx code 102) while others are served;
- a tx rejected inside a block consumes its nonce and key: its bytes cannot execute again.

The cluster runs with a small mempool (``txs_max``) so that, on code without these checks,
the flood fills it and the genuine tx is answered 429 (the failure the issue measured).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consensus.crypto import PrivateKey, sha256
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Body, Mint, Transfer
from consensus.types import ChainId
from node.config import NodeConfig
from node.mempool import AdmissionCode
from tests.integration.harness import Cluster

pytestmark = pytest.mark.integration

MEMPOOL_TXS_MAX = 400
SUBMITTER_TXS_MAX = 8
NONCE_WINDOW = 300
"""Above the built-in default (256): the configured window must hold on admission and recheck."""
COMMIT_TIMEOUT_S = 120.0
BATCH = 100
PAYEES = {"BANKA/alice": "bob", "BANKB/bob": "carol", "BANKB/carol": "bob"}
"""Localnet demo customers: bank i holds names i and i + 1 (BANKA: alice and bob; BANKB: bob
and carol; both in USD)."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(Path(tmp_path_factory.mktemp("admission")) / "net")

    def small_mempool(config: NodeConfig) -> NodeConfig:
        mempool = dataclasses.replace(
            config.mempool,
            txs_max=MEMPOOL_TXS_MAX,
            submitter_txs_max=SUBMITTER_TXS_MAX,
            nonce_window=NONCE_WINDOW,
        )
        return dataclasses.replace(config, mempool=mempool)

    running.edit_configs(small_mempool)
    with running.running(height=2):
        yield running


# -- helpers ------------------------------------------------------------------------------------


def chain_id(cluster: Cluster) -> ChainId:
    return ChainId(json.loads((cluster.home / "genesis.json").read_text())["chain_id"])


def signed(
    cluster: Cluster, submitter: str, key: PrivateKey, nonce: int, body: Body, idem: str = ""
) -> bytes:
    unsigned = UnsignedTx(
        chain_id=chain_id(cluster),
        submitter=submitter,
        nonce=nonce,
        idempotency_key=idem or f"adm-{submitter}-{nonce}-{time.monotonic_ns()}",
        valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**9),
        memo="",
        body=body,
    )
    return sign_tx(unsigned, [key]).encode()


def http(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def submit(cluster: Cluster, index: int, raws: list[bytes]) -> list[dict[str, Any]]:
    """POST /api/v1/txs in batches; one result (with its ``status_code``) per tx."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(raws), BATCH):
        txs = [base64.b64encode(raw).decode() for raw in raws[start : start + BATCH]]
        status, answer = http(cluster.url(index) + "/api/v1/txs", {"txs": txs})
        assert status == 200, answer
        results.extend(answer["results"])
    return results


def submit_one(cluster: Cluster, index: int, raw: bytes) -> tuple[int, Any]:
    return http(cluster.url(index) + "/api/v1/txs", {"tx": base64.b64encode(raw).decode()})


def broadcast_sync(cluster: Cluster, index: int, raw: bytes) -> dict[str, Any]:
    result: dict[str, Any] = cluster.call(
        index, "broadcast_tx_sync", tx=base64.b64encode(raw).decode()
    )
    return result


def next_nonce(cluster: Cluster, index: int, submitter: str) -> int:
    status, answer = http(cluster.url(index) + f"/api/v1/nonce?submitter={submitter}")
    assert status == 200, answer
    return int(answer["next_nonce"])


def committed_nonce(cluster: Cluster, index: int, submitter: str) -> int:
    status, answer = http(cluster.url(index) + f"/api/v1/nonce?submitter={submitter}")
    assert status == 200, answer
    return int(answer["nonce"])


def wait_in_block(cluster: Cluster, raw: bytes, index: int = 0) -> dict[str, Any]:
    """The tx's view once it is in a block (committed or rejected there); fails on timeout."""
    url = cluster.url(index) + f"/api/v1/txs/{sha256(raw).hex()}"
    deadline = time.monotonic() + COMMIT_TIMEOUT_S
    while time.monotonic() < deadline:
        status, answer = http(url)
        if status == 200 and answer.get("height") is not None:
            view: dict[str, Any] = answer
            return view
        if status == 200 and answer.get("status") == "rejected":
            raise AssertionError(f"tx refused: {answer}")
        time.sleep(0.2)
    raise AssertionError(f"tx not in a block after {COMMIT_TIMEOUT_S} s: {url}")


def mempool_size(cluster: Cluster, index: int) -> int:
    return int(cluster.call(index, "num_unconfirmed_txs")["n_txs"])


def block_tx_hashes(cluster: Cluster, index: int, start: int, stop: int) -> set[str]:
    hashes: set[str] = set()
    for height in range(start, stop + 1):
        status, answer = http(cluster.url(index) + f"/api/v1/blocks/{height}")
        assert status == 200, answer
        hashes.update(answer["tx_hashes"])
    return hashes


def mint(cluster: Cluster, nonce: int, amount: int = 1) -> bytes:
    body = Mint("BANKA/alice", "BANKA:USD", amount, f"ref-{nonce}-{time.monotonic_ns()}")
    return signed(cluster, "BANKA", cluster.participant_key("BANKA"), nonce, body)


def pay(cluster: Cluster, payer: str, nonce: int, amount: int = 1, idem: str = "") -> bytes:
    """A same-bank transfer from ``payer`` (a localnet demo customer) to a fellow customer."""
    bank = payer.split("/")[0]
    body = Transfer(f"{bank}/{PAYEES[payer]}", f"{bank}:USD", amount)
    return signed(cluster, payer, cluster.account_key(payer), nonce, body, idem)


def random_key() -> PrivateKey:
    return PrivateKey(os.urandom(32))


# -- (a) mempool lock-out -----------------------------------------------------------------------


def test_a_flood_from_an_unknown_submitter_cannot_lock_out_the_operator(cluster: Cluster) -> None:
    evil = random_key()
    flood = [
        signed(cluster, "EVIL", evil, nonce, Transfer("BANKA/alice", "BANKA:USD", 1))
        for nonce in range(2, 2 + 5 * MEMPOOL_TXS_MAX)
    ]
    results = submit(cluster, 0, flood)
    assert {r["status_code"] for r in results} == {422}, results[:3]
    assert {r["error"]["details"]["code_name"] for r in results} == {"UNKNOWN_SUBMITTER"}
    answer = broadcast_sync(cluster, 1, flood[0])  # the CometBFT route: CheckTx code and log
    assert answer["code"] == 5 and "EVIL" in answer["log"], answer
    assert mempool_size(cluster, 0) < MEMPOOL_TXS_MAX // 2
    genuine = mint(cluster, next_nonce(cluster, 0, "BANKA"))
    status, answer = submit_one(cluster, 0, genuine)
    assert status == 202, answer
    assert wait_in_block(cluster, genuine)["status"] == "committed"


# -- (b) nonce squatting ------------------------------------------------------------------------


def test_self_signed_txs_in_a_banks_name_cannot_squat_its_nonces(cluster: Cluster) -> None:
    nonce = next_nonce(cluster, 0, "BANKA")
    squatter = random_key()
    squats = [
        signed(cluster, "BANKA", squatter, n, Mint("BANKA/alice", "BANKA:USD", 1, f"sq-{n}"))
        for n in range(nonce + 1, nonce + 21)
    ]
    for index in range(4):
        results = submit(cluster, index, squats)
        assert {r["error"]["details"]["code_name"] for r in results} == {"NOT_AUTHORIZED"}
        assert next_nonce(cluster, index, "BANKA") == nonce
    genuine = mint(cluster, nonce)
    status, answer = submit_one(cluster, 0, genuine)
    assert status == 202, answer
    assert wait_in_block(cluster, genuine)["status"] == "committed"
    assert next_nonce(cluster, 0, "BANKA") == nonce + 1


# -- (c) junk submitters ------------------------------------------------------------------------


def test_txs_from_invented_submitters_never_enter_a_block(cluster: Cluster) -> None:
    start = cluster.height(0) + 1
    junk: list[bytes] = []
    for i in range(300):
        key = random_key()
        junk.append(signed(cluster, f"JUNK{i}", key, 1, Transfer("BANKA/alice", "BANKA:USD", 1)))
    results = [r for index in range(4) for r in submit(cluster, index, junk[index::4])]
    marker = mint(cluster, next_nonce(cluster, 0, "BANKA"))  # a block after the junk arrived
    assert submit_one(cluster, 0, marker)[0] == 202
    marker_height = wait_in_block(cluster, marker)["height"]
    cluster.wait_height(0, marker_height + 2)
    # Blocks first: should a node's mempool ever let junk in, the block rule keeps it out.
    in_blocks = block_tx_hashes(cluster, 0, start, cluster.height(0))
    assert not in_blocks & {sha256(raw).hex() for raw in junk}
    assert {r["error"]["details"]["code_name"] for r in results} == {"UNKNOWN_SUBMITTER"}


# -- (d) per-submitter cap ------------------------------------------------------------------------


def test_a_submitter_over_its_share_gets_the_typed_error(cluster: Cluster) -> None:
    payer = "BANKB/bob"
    nonce = next_nonce(cluster, 0, payer)
    # Nonces after a gap wait in the pool (the missing one must come first): a full share.
    waiting = [pay(cluster, payer, n) for n in range(nonce + 1, nonce + 1 + SUBMITTER_TXS_MAX)]
    results = submit(cluster, 0, waiting)
    assert {r["status_code"] for r in results} == {202}, results
    assert next_nonce(cluster, 0, payer) == nonce  # the pending run after a gap does not count
    status, answer = submit_one(cluster, 0, pay(cluster, payer, nonce + 1 + SUBMITTER_TXS_MAX))
    assert status == 429 and answer["error"]["code"] == "submitter_limit", answer
    assert answer["error"]["details"]["code"] == AdmissionCode.SUBMITTER_LIMIT
    check = broadcast_sync(cluster, 0, pay(cluster, payer, nonce + 2 + SUBMITTER_TXS_MAX))
    assert check["code"] == AdmissionCode.SUBMITTER_LIMIT, check
    assert f"{SUBMITTER_TXS_MAX} of {SUBMITTER_TXS_MAX}" in check["log"]
    other = pay(cluster, "BANKB/carol", next_nonce(cluster, 0, "BANKB/carol"))
    assert submit_one(cluster, 0, other)[0] == 202  # others are still served
    # The nonce that fills the gap still fits: it takes the place of the highest one waiting.
    first = pay(cluster, payer, nonce)
    assert submit_one(cluster, 0, first)[0] == 202
    assert wait_in_block(cluster, waiting[-2])["status"] == "committed"
    status, view = http(cluster.url(0) + f"/api/v1/txs/{sha256(waiting[-1]).hex()}")
    assert view["status"] == "rejected" and "replaced by nonce" in json.dumps(view), view
    assert submit_one(cluster, 0, waiting[-1])[0] == 202  # sent again, it commits
    assert wait_in_block(cluster, waiting[-1])["status"] == "committed"


# -- (e) a rejected tx consumes its nonce ---------------------------------------------------------


def test_a_tx_rejected_in_a_block_consumes_its_nonce_and_cannot_be_replayed(
    cluster: Cluster,
) -> None:
    payer = "BANKB/carol"
    nonce = next_nonce(cluster, 0, payer)
    too_much = pay(cluster, payer, nonce, amount=10**15, idem="too-much")
    assert submit_one(cluster, 0, too_much)[0] == 202
    view = wait_in_block(cluster, too_much)
    assert view["status"] == "rejected" and view["height"] is not None, view
    assert "INSUFFICIENT_FREE_BALANCE" in json.dumps(view), view
    assert committed_nonce(cluster, 0, payer) == nonce  # consumed by the rejected tx
    assert next_nonce(cluster, 0, payer) == nonce + 1
    check = cluster.call(1, "check_tx", tx=base64.b64encode(too_much).decode())
    assert check["code"] == 7, check  # BAD_NONCE: its bytes can never execute again
    reuse = pay(cluster, payer, nonce + 1, amount=1, idem="too-much")
    status, answer = submit_one(cluster, 0, reuse)
    assert status == 409 and answer["error"]["code"] == "conflict", answer  # key consumed too
    after = pay(cluster, payer, nonce + 1, amount=1)
    assert submit_one(cluster, 0, after)[0] == 202
    assert wait_in_block(cluster, after)["status"] == "committed"


# -- the configured nonce window ------------------------------------------------------------------


def test_the_configured_nonce_window_holds_on_admission_and_after_blocks(cluster: Cluster) -> None:
    payer = "BANKA/alice"
    nonce = next_nonce(cluster, 0, payer)
    far = pay(cluster, payer, nonce + NONCE_WINDOW - 1)
    assert submit_one(cluster, 0, far)[0] == 202
    status, answer = submit_one(cluster, 0, pay(cluster, payer, nonce + NONCE_WINDOW))
    assert status == 422 and answer["error"]["details"]["code_name"] == "NONCE_TOO_FAR", answer
    cluster.wait_height(0, cluster.height(0) + 2)  # rechecked after each block: still waiting
    status, view = http(cluster.url(0) + f"/api/v1/txs/{sha256(far).hex()}")
    assert status == 200 and view["status"] == "pending", view
