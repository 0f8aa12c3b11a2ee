"""Shared helpers for the CometBFT RPC integration tests (no tests here).

Their one 4-node cluster (``comet_cluster``) is a session fixture in this folder's
conftest.py. Transfers are built and signed with the ledger's own builders
and the demo keys.
"""

from __future__ import annotations

import base64
import itertools
import json
import urllib.error
import urllib.request
from typing import Any

from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.types import ChainId
from tests.integration.harness import Cluster

CHAIN_ID = ChainId("depochain-localnet")
HTTP_TIMEOUT_S = 20.0
_idempotency = itertools.count(1)
_next_nonce: dict[str, int] = {}


def make_transfer(
    cluster: Cluster,
    *,
    payer: str = "BANKA/alice",
    payee: str = "BANKB/bob",
    instrument: str = "BANKA:USD",
    amount: int = 100,
    nonce: int | None = None,
) -> bytes:
    """A signed TRANSFER from a demo account with the payer's next nonce (the mempool reaps a
    sender's txs only as a gap-free run) and a fresh idempotency key. Submit them in order."""
    serial = next(_idempotency)
    if nonce is None:
        nonce = _next_nonce.get(payer, 1)
        _next_nonce[payer] = nonce + 1
    until = ValidUntil(ValidUntilKind.HEIGHT, 1_000_000)
    body = Transfer(payee, instrument, amount)
    unsigned = UnsignedTx(CHAIN_ID, payer, nonce, f"comet-{serial}", until, "", body)
    return sign_tx(unsigned, [cluster.account_key(payer)]).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def http(
    url: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    """(status, parsed JSON) of a GET (body None) or POST; JSON parse failure fails the test."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def rpc(cluster: Cluster, method: str, node: int = 0, **params: Any) -> dict[str, Any]:
    """One JSON-RPC POST; returns the whole envelope (result or error)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    status, answer = http(cluster.url(node), body.encode())
    assert status == 200, answer
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 7
    return answer  # type: ignore[no-any-return]


def result(cluster: Cluster, method: str, node: int = 0, **params: Any) -> Any:
    answer = rpc(cluster, method, node, **params)
    assert "error" not in answer, answer
    return answer["result"]
