"""Helpers for the RPC isolation tests: fill a node with committed transfers, post raw bodies
with chosen headers, read a process's memory."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consensus.crypto import PrivateKey
from tests.integration.harness import Cluster
from tests.integration.txs import make_transfer

HTTP_TIMEOUT_S = 300.0
ROUND_NONCES = 16
"""Nonces sent per payer before waiting for them to commit: within any sane admission window."""
_serial = itertools.count(1)


def post_raw(
    url: str, body: bytes, headers: dict[str, str], path: str = "/", method: str = "POST"
) -> tuple[int, bytes]:
    """(status, body) of one request sent exactly with ``headers`` (Host included, if given)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=HTTP_TIMEOUT_S
    )
    try:
        connection.putrequest(method, path, skip_host="Host" in headers)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_json(url: str, value: Any) -> Any:
    status, body = post_raw(url, json.dumps(value).encode(), {"Content-Type": "application/json"})
    assert status == 200, body[:500]
    return json.loads(body)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmRSS")


def _payers(cluster: Cluster) -> list[tuple[str, str, PrivateKey]]:
    accounts = cluster.endpoints()["accounts"]
    customers = [a for a in accounts if a["key_file"].startswith("accounts")]
    return [(a["id"], a["instrument"], cluster.account_key(a["id"])) for a in customers]


def _submit_round(cluster: Cluster, nonces: dict[str, int], payers: list[Any]) -> None:
    """Send each payer's next ``ROUND_NONCES`` transfers in order, in one batch; keep the
    nonces that were admitted (a refusal ends the payer's run, to be sent again later)."""
    calls: list[dict[str, Any]] = []
    owners: list[str] = []
    chain_id = cluster.info.document["chain_id"]
    for account_id, instrument, key in payers:
        payee = next(p[0] for p in payers if p[0] != account_id)
        for offset in range(ROUND_NONCES):
            nonce = nonces[account_id] + offset
            tx = make_transfer(
                chain_id, key, account_id, payee, instrument, 1, nonce, f"load-{next(_serial)}"
            )
            params = {"tx": base64.b64encode(tx.encode()).decode()}
            calls.append({"jsonrpc": "2.0", "id": len(calls), "method": "broadcast_tx_sync",
                          "params": params})  # fmt: skip
            owners.append(account_id)
    answers = post_json(cluster.url(0), calls)
    refused: set[str] = set()
    for answer, owner in zip(sorted(answers, key=lambda a: a["id"]), owners, strict=True):
        if owner in refused or "error" in answer or answer["result"]["code"] != 0:
            refused.add(owner)
        else:
            nonces[owner] += 1


def fill_with_transfers(cluster: Cluster, count: int, deadline_s: float = 240.0) -> int:
    """Commit at least ``count`` transfers on node 0; returns the height they reach."""
    payers = _payers(cluster)
    nonces = {account_id: _next_nonce(cluster, account_id) for account_id, _, _ in payers}
    first = dict(nonces)
    deadline = time.monotonic() + deadline_s
    while sum(nonces[a] - first[a] for a in nonces) < count:
        assert time.monotonic() < deadline, "the node did not admit the load in time"
        _submit_round(cluster, nonces, payers)
        _wait_committed(cluster, nonces, deadline)
    return cluster.height(0)


def _next_nonce(cluster: Cluster, account_id: str) -> int:
    answer = cluster.call(0, "abci_query", path=f"/nonce/{account_id}")
    value = json.loads(base64.b64decode(answer["response"]["value"]))
    return int(value["nonce"]) + 1


def _wait_committed(cluster: Cluster, nonces: dict[str, int], deadline: float) -> None:
    while time.monotonic() < deadline:
        if all(_next_nonce(cluster, a) >= n for a, n in nonces.items()):
            return
        time.sleep(0.05)
