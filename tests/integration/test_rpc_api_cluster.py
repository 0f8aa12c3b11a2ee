"""Shared cluster and helpers for the REST API, SDK, wallet and schemathesis tests.

One 4-node cluster serves all of those modules: each module declares an ``api_cluster``
fixture that calls :func:`get_api_cluster`, which starts the cluster once per session and
stops it when the session ends. Node 3 runs with a one-transaction mempool so that "mempool
full" (HTTP 429) can be provoked deterministically; every other test talks to nodes 0..2.

The tests in this module check the served OpenAPI document and docs page.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from consensus.ledger import SignedTx, UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Body
from consensus.types import ChainId
from tests.integration.harness import Cluster

pytestmark = pytest.mark.integration

CHAIN_ID = "depochain-localnet"
HTTP_TIMEOUT_S = 20.0
FULL_NODE = 3
"""The node with ``[mempool] txs_max = 1``."""

_CONFIG_ATTRIBUTE = "_depochain_api_cluster"
"""Where the session's cluster is kept: on pytest's config object, because this module may be
imported twice (as a test module and as ``tests.integration.test_rpc_api_cluster``)."""


def get_api_cluster(request: pytest.FixtureRequest) -> Cluster:
    shared: Cluster | None = getattr(request.config, _CONFIG_ATTRIBUTE, None)
    if shared is not None:
        return shared
    home = Path(request.getfixturevalue("tmp_path_factory").mktemp("api"))
    cluster = Cluster(home / "net")
    config = cluster.node(FULL_NODE).home / "config.toml"
    text = re.sub(r"(?m)^txs_max = \d+$", "txs_max = 1", config.read_text())
    config.write_text(text)
    request.config.add_cleanup(cluster.stop_all)
    setattr(request.config, _CONFIG_ATTRIBUTE, cluster)
    cluster.start_all()
    cluster.wait_height(0, 2)
    return cluster


@pytest.fixture(scope="session")
def api_cluster(request: pytest.FixtureRequest) -> Cluster:
    return get_api_cluster(request)


def http(
    url: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    method: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, parsed body) of one request; a non-JSON body is returned as text."""
    headers = {"Content-Type": content_type} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            status, answer, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, answer, got = exc.code, exc.read(), dict(exc.headers)
    try:
        return status, got, json.loads(answer)
    except ValueError:
        return status, got, answer.decode(errors="replace")


def sign(
    cluster: Cluster, submitter: str, body: Body, nonce: int, key: str, chain_id: str = CHAIN_ID
) -> SignedTx:
    """``body`` signed by the demo key of ``submitter`` (account or participant)."""
    signer = (
        cluster.account_key(submitter) if "/" in submitter else cluster.participant_key(submitter)
    )
    unsigned = UnsignedTx(
        ChainId(chain_id), submitter, nonce, key, ValidUntil(ValidUntilKind.HEIGHT, 10**9), "", body
    )
    return sign_tx(unsigned, [signer])


def tx_json(tx: SignedTx | bytes) -> bytes:
    raw = tx.encode() if isinstance(tx, SignedTx) else tx
    return json.dumps({"tx": base64.b64encode(raw).decode()}).encode()


def test_openapi_document_lists_every_route(api_cluster: Cluster) -> None:
    status, _, document = http(api_cluster.url(0) + "/api/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    for path in ("/api/v1/txs", "/api/v1/txs/{tx_hash}/proof", "/api/v1/accounts/{bank}/{name}"):
        assert path in paths
    assert "post" in document["paths"]["/api/v1/txs"]


def test_docs_page_is_self_contained(api_cluster: Cluster) -> None:
    status, headers, page = http(api_cluster.url(0) + "/api/docs")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "/api/openapi.json" in page
    assert "http://" not in page and "https://" not in page  # no CDN: the machine is offline
