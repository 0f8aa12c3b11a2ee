"""``depochain start`` with ``[statesync].enable`` on an empty store: join by state sync first.

Opens the store and the node's P2P identity just long enough to restore a snapshot
(:mod:`node.statesync.restore`), then closes both; the node then starts as usual on a store
whose tip is the snapshot's height and block-syncs the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from consensus.types import ChainId
from node.failpoints import Failpoints
from node.home import STORE_DIR
from node.logs import fields
from node.p2p import P2PNetwork
from node.p2p.limits import P2PLimits
from node.state_store import leveldb_options
from node.statesync.anchor import Trust
from node.statesync.asker import Asker
from node.statesync.restore import (
    Progress,
    Restorer,
    discover_and_restore,
    write_report,
)
from node.storage import LevelDBStore
from node.storage.install import is_install_interrupted

if TYPE_CHECKING:
    from node.app import NodeHome

log = logging.getLogger("depochain.statesync")

PEER_WAIT_POLL_S = 0.2


def needs_state_sync(home: NodeHome) -> bool:
    """State sync is on and the store holds no block (or a half-done install)."""
    if not home.config.statesync.enable:
        return False
    path = home.data_path / STORE_DIR
    if not path.exists():
        return True
    store = LevelDBStore(path)
    try:
        return store.latest_height() == 0 or is_install_interrupted(store)
    finally:
        store.close()


def build_trust(home: NodeHome) -> Trust:
    config = home.config.statesync
    trusted = None
    if config.trust_height:
        trusted = (config.trust_height, bytes.fromhex(config.trust_hash))
    return Trust.from_genesis(home.genesis, trusted)


async def run_state_sync(
    home: NodeHome, progress: Progress | None = None, failpoints: Failpoints = Failpoints.NONE
) -> int:
    """Restore a snapshot into the node's empty store; the height installed. Raises
    StateSyncFailed after ``restore_timeout_s``. ``progress`` is updated as it goes (the
    status server shows it)."""
    config = home.config
    started = time.monotonic()
    deadline = started + config.statesync.restore_timeout_s
    home.data_path.mkdir(parents=True, exist_ok=True)
    store = LevelDBStore(home.data_path / STORE_DIR, options=leveldb_options(config))
    try:
        network, asker = _build_network(home)
        restorer = Restorer(asker, store, build_trust(home), progress, failpoints)
        await network.start()
        try:
            await _wait_for_a_peer(network, deadline)
            manifest = await discover_and_restore(
                restorer, config.statesync.discovery_time_s, deadline
            )
        finally:
            await network.stop()
        seconds = time.monotonic() - started
        write_report(store, manifest, seconds, restorer.progress)
        log.info(
            "statesync: installed the state of height %d (%d chunks, %d accounts) in %.1f s",
            manifest.height,
            manifest.chunk_count,
            restorer.progress.accounts_restored,
            seconds,
            extra=fields("statesync_installed", height=manifest.height),
        )
        return manifest.height
    finally:
        store.close()


def _build_network(home: NodeHome) -> tuple[P2PNetwork, Asker]:
    p2p = home.config.p2p
    peers = {peer.public_key: (peer.host, peer.port) for peer in p2p.get_peers()}
    limits = P2PLimits(
        frame_body_bytes_max=p2p.frame_bytes_max, queue_messages_max=p2p.send_queue_size
    )
    holder: list[Asker] = []

    async def on_message(sender: bytes, payload: bytes) -> None:
        await holder[0].on_message(sender, payload)

    network = P2PNetwork(
        ChainId(home.genesis.chain_id),
        home.node_key,
        p2p.listen_host,
        p2p.listen_port,
        peers,
        set(peers),
        on_message,
        limits=limits,
    )
    holder.append(Asker(network.send, network.broadcast))
    return network, holder[0]


async def _wait_for_a_peer(network: P2PNetwork, deadline: float) -> None:
    while not network.connected_peers():
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(PEER_WAIT_POLL_S)
