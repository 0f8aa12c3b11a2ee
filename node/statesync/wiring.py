"""Attaching state sync's serving side to a running node: the snapshot writer after commits
and the answers to peers' requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from consensus import codec
from node.statesync.files import SNAPSHOTS_DIR, SnapshotFolder, SnapshotWriter
from node.statesync.serve import SnapshotServer

if TYPE_CHECKING:
    from node.app import Node


def attach_snapshots(node: Node) -> SnapshotWriter | None:
    """Serve snapshots to peers and, if ``[statesync].snapshot_interval`` is set, take them;
    the writer (to close before the store), or None when this node takes none."""
    config = node.home.config.statesync
    folder_path = node.home.data_path / SNAPSHOTS_DIR
    folder = None
    if config.snapshot_interval > 0 or folder_path.is_dir():
        folder = SnapshotFolder(folder_path, config.snapshots_kept)
    node.router.snapshots = SnapshotServer(
        folder, node.store, node.clock.monotonic_s, node.failpoints
    )
    if folder is None or config.snapshot_interval == 0:
        return None
    chain = node.chain
    writer = SnapshotWriter(
        node.store,
        folder,
        config.snapshot_interval,
        config.chunk_bytes,
        lambda height: codec.encode(chain.get_validators(height).to_wire()),
    )
    node.driver.add_commit_listener(lambda committed: writer.on_commit(committed.block.height))
    return writer
