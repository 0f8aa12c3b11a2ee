"""Schemathesis against the served OpenAPI document of a real node, with every check it has,
on schema-valid and schema-invalid requests alike: no server error; no response (status,
content type, headers, body) the document does not allow; every schema-valid request accepted
and every schema-invalid one rejected, so the document says exactly what the server takes.

Runs the schemathesis CLI (pinned in the test extras) in a subprocess with a fixed seed and a
bounded number of examples per operation (about 1,400 cases, well under a minute on an idle
machine); ``schemathesis.toml`` next to this file states which statuses count as accepted and
rejected, and why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import api_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RUN_TIMEOUT_S = 1800
"""A hang guard only: about a minute on an idle machine, but over ten on one shared by several
CPU-heavy jobs (the cases run one at a time against four node processes)."""
__all__ = ["api_cluster"]

EXAMPLES_PER_OPERATION = 50
CASES_MIN = 1000
OPERATIONS = 18
"""Every operation of the document (tests/node/test_openapi_routes.py: every route served) but
GET /api/openapi.json, which the CLI leaves out when it loads the document from that URL."""
SEED = "20261127"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def run_schemathesis(base: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"{base}/api/openapi.json", "--url", base,
        "--checks", "all", "--mode", "all",
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", SEED,
        "--workers", "1", "--generation-database", "none", "--no-color",
        "--request-timeout", "20", "--continue-on-failure",
        "--report", "junit", "--report-dir", str(report_dir),
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.integration.test_schemathesis_hooks",
    }
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=env,
        cwd=report_dir,
        check=False,
    )


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)
def test_schemathesis_finds_no_violation(api_cluster: Cluster, tmp_path: Path) -> None:
    result = run_schemathesis(api_cluster.url(0), tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert f"Tested: {OPERATIONS}" in output, output[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts is not None, output[-3000:]
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed >= CASES_MIN, output[-3000:]
    print(output[output.rindex("API Operations:") :])  # the summary, shown with pytest -rA
