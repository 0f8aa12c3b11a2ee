"""Fixtures shared by several integration test modules.

A session fixture must be defined here, not imported into each module that uses it: pytest
registers an imported fixture once per importing module, so each module started (and kept
until the session's end) a cluster of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Cluster


@pytest.fixture(scope="session")
def comet_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One 4-node cluster for every CometBFT RPC test, at height 2 or more."""
    with Cluster(Path(tmp_path_factory.mktemp("comet"))).running(height=2) as cluster:
        yield cluster
