"""Schemathesis against the served OpenAPI document of a real node: no server error, and no
response (status, content type, headers, body) that the document does not allow.

Runs the schemathesis CLI (pinned in the test extras) in a subprocess with a fixed seed and a
bounded number of examples per operation, so it takes seconds, not minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import api_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["api_cluster"]

EXAMPLES_PER_OPERATION = 25
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
ROOT = Path(__file__).resolve().parents[2]


def test_schemathesis_finds_no_violation(api_cluster: Cluster, tmp_path: Path) -> None:
    base = api_cluster.url(0)
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/openapi.json",
        "--url", base, "--checks", ",".join(CHECKS),
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "20261127",
        "--workers", "1", "--generation-database", "none", "--no-color",
        "--request-timeout", "20", "--max-failures", "20",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.integration.test_schemathesis_hooks",
    }
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Tested: 15" in output, output[-3000:]
