"""A method a route does not take is answered 405 with the ``Allow`` header (RFC 9110 §15.5.6),
so a client learns what the route does take; the body stays the API's typed error."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import get_api_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    return get_api_cluster(request)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/api/v1/txs", "POST"), ("DELETE", "/status", "GET"), ("PATCH", "/", "POST")],
)
def test_a_wrong_method_is_405_with_allow(
    cluster: Cluster, method: str, path: str, allowed: str
) -> None:
    request = urllib.request.Request(cluster.url(0) + path, data=b"{}", method=method)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=20)
    error = caught.value
    assert error.code == 405
    assert allowed in {m.strip() for m in (error.headers.get("Allow") or "").split(",")}
    assert json.loads(error.read())["error"]["code"] == "method_not_allowed"
