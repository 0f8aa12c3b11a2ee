"""A local test network: N bank nodes on 127.0.0.1, generated into one folder, run as processes.

- ``plan``: every key, port, account and genesis record, computed in memory (no disk);
- ``generate``: writes a plan out as node homes plus ``endpoints.json``; reads, checks and
  wipes such a folder (``prepare_localnet`` does whichever is needed);
- ``run``: one OS process per node, health checks, clean shutdown.

A tool, not part of the running node: no runtime module of ``node`` imports it. The names below
are what other tools and the integration tests use.
"""

from node.localnet.generate import (
    LocalnetInfo,
    NodeEndpoint,
    load_localnet,
    prepare_localnet,
    wipe_localnet,
)
from node.localnet.plan import LocalnetError

__all__ = [
    "LocalnetError",
    "LocalnetInfo",
    "NodeEndpoint",
    "load_localnet",
    "prepare_localnet",
    "wipe_localnet",
]
