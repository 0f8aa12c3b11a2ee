"""``/explorer`` on a real node: the files with their content types, the security headers
(a strict Content-Security-Policy, nosniff, no framing), revalidation by ETag, and that no
request names anything outside the explorer's own files."""

from __future__ import annotations

from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest

from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import api_cluster, http

pytestmark = pytest.mark.integration
__all__ = ["api_cluster"]


def raw_get(
    cluster: Cluster, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A GET with the path sent exactly as written (urllib would normalise ``..``)."""
    address = urlsplit(cluster.url(0))
    connection = HTTPConnection(address.hostname or "", address.port, timeout=20)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("", "text/html; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("explorer.css", "text/css; charset=utf-8"),
    ],
)
def test_files_are_served_with_their_type_and_a_strict_policy(
    api_cluster: Cluster, name: str, content_type: str
) -> None:
    status, headers, body = raw_get(api_cluster, f"/explorer/{name}")
    assert status == 200 and body
    assert headers["Content-Type"] == content_type
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-cache" and headers["ETag"]


def test_the_bare_path_redirects_into_the_folder(api_cluster: Cluster) -> None:
    status, headers, _ = raw_get(api_cluster, "/explorer")
    assert (status, headers["Location"]) == (308, "/explorer/")


def test_an_unchanged_file_is_revalidated_without_its_body(api_cluster: Cluster) -> None:
    _, headers, _ = raw_get(api_cluster, "/explorer/app.js")
    status, again, body = raw_get(
        api_cluster, "/explorer/app.js", {"If-None-Match": headers["ETag"]}
    )
    assert (status, body) == (304, b"")
    assert again["ETag"] == headers["ETag"]
    status, _, body = raw_get(api_cluster, "/explorer/app.js", {"If-None-Match": '"stale"'})
    assert status == 200 and body


@pytest.mark.parametrize(
    "path",
    [
        "/explorer/../api/v1/status",
        "/explorer/%2e%2e/%2e%2e/etc/passwd",
        "/explorer/..%2f..%2fetc%2fpasswd",
        "/explorer/static/index.html",
        "/explorer/route.py",
        "/explorer/__init__.py",
        "/explorer//etc/passwd",
        "/explorer/..%2froute.py",
        "/explorer/%2e%2e%2f__init__.py",
        "/explorer/%2e%2e%2f%2e%2e%2f%2e%2e%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/explorer/index.html/..",
        "/explorer/nothing.js",
    ],
)
def test_nothing_outside_the_explorer_files_is_served(api_cluster: Cluster, path: str) -> None:
    status, headers, body = raw_get(api_cluster, path)
    assert (status, headers["Content-Type"]) == (404, "application/json"), path
    assert b"root:" not in body and b"import" not in body


def test_the_api_the_explorer_reads_is_same_origin(api_cluster: Cluster) -> None:
    """No CORS is needed: the page and the API share the node's origin."""
    status, _, body = http(api_cluster.url(0) + "/api/v1/status")
    assert status == 200 and body["chain_id"]
