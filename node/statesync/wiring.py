"""Attaching state sync's serving side to a running node: the snapshot writer after commits
and the answers to peers' requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from consensus import codec
from node.chain import Chain, CommittedBlock
from node.config import NodeConfig
from node.failpoints import Failpoints
from node.router import Router
from node.statesync.files import SNAPSHOTS_DIR, SnapshotFolder, SnapshotWriter
from node.statesync.serve import SnapshotServer


def attach_snapshots(
    config: NodeConfig,
    data_path: Path,
    chain: Chain,
    router: Router,
    add_commit_listener: Callable[[Callable[[CommittedBlock], None]], None],
    failpoints: Failpoints,
) -> SnapshotWriter | None:
    """Serve snapshots to peers and, if ``[statesync].snapshot_interval`` is set, take them;
    the writer (to close before the store), or None when this node takes none."""
    settings = config.statesync
    folder_path = data_path / SNAPSHOTS_DIR
    folder = None
    if settings.snapshot_interval > 0 or folder_path.is_dir():
        folder = SnapshotFolder(folder_path, settings.snapshots_kept)
    router.snapshots = SnapshotServer(folder, chain.store, router.clock.monotonic_s, failpoints)
    if folder is None or settings.snapshot_interval == 0:
        return None
    writer = SnapshotWriter(
        chain.store,
        folder,
        settings.snapshot_interval,
        settings.chunk_bytes,
        lambda height: codec.encode(chain.get_validators(height).to_wire()),
    )
    add_commit_listener(lambda committed: writer.on_commit(committed.block.height))
    return writer
