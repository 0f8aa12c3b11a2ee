"""A running node: opens its home folder, assembles the parts and owns every task.

One ``asyncio.TaskGroup`` owns the driver, the P2P network, the RPC server and the periodic jobs;
if any of them fails, the others are cancelled and the node exits non-zero with the reason,
rather than limping on half-alive. SIGTERM and SIGINT stop it cleanly: tasks are cancelled,
then the WAL and the store are closed (so LevelDB's lock is released for the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from consensus.crypto import PrivateKey, sha256
from consensus.ledger.admission import check_submitter
from consensus.params import ConsensusParams
from consensus.replica import Replica
from consensus.safety import SignState
from consensus.types import ChainId, Hash32
from node import metrics
from node.backlog import BacklogGate
from node.chain import Chain, CommittedBlock
from node.checktx import check_tx, make_checker
from node.clock import Clock, SystemClock
from node.config import NodeConfig, load_config
from node.config.loader import validate_frame_fits_block
from node.disk_space import DiskSpaceGuard
from node.driver import Driver
from node.explorer import install as install_explorer
from node.failpoints import Failpoints
from node.gossip import StatusPayload, encode_gossip
from node.home import (
    CONFIG_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    STORE_DIR,
    VALIDATOR_KEY_FILE,
    ChainGenesis,
    HomeError,
    load_genesis,
    load_key,
)
from node.logs import fields
from node.loop_watch import LoopWatch
from node.mempool import Accepted, CheckResult, Mempool, MempoolFull
from node.mempool_journal import MempoolJournal
from node.mempool_recheck import BlockRecheck
from node.network_time import NetworkTime
from node.p2p import P2PNetwork
from node.p2p.limits import P2PLimits
from node.router import Router
from node.rpc import websocket
from node.rpc.comet import methods as comet
from node.rpc.rest import routes as rest
from node.rpc.server import build_app, start_server
from node.services import EventBus, NodeServices, TxGossip
from node.sign_state_recovery import load_sign_state_at_start
from node.signer import SignStateFile, forget_signatures_if_asked
from node.state_store import leveldb_options, state_limits
from node.statesync.wiring import attach_snapshots
from node.storage import LevelDBStore
from node.verify_pool import SignatureVerifier, resolve_threads
from node.wal import WriteAheadLog

log = logging.getLogger("depochain.node")

STATUS_INTERVAL_S = 1.0
PENDING_ON_CONNECT_BYTES = 8 * 1024 * 1024
"""Most bytes of waiting txs sent to a peer as it connects (well within its send queue)."""
MEMPOOL_JOURNAL_FILE = "mempool_journal.log"
RESTORED_GOSSIP_WAIT_S = 60.0
"""How long a restarted node waits for a peer before it stops trying to gossip restored txs."""


@dataclass(frozen=True, slots=True)
class NodeHome:
    """Everything read from a home folder before anything is opened for writing."""

    path: Path
    config: NodeConfig
    genesis: ChainGenesis
    node_key: PrivateKey
    validator_key: PrivateKey | None

    @classmethod
    def load(cls, path: Path) -> NodeHome:
        config = load_config(path / CONFIG_FILE)
        genesis = load_genesis(path / GENESIS_FILE)
        if config.node.chain_id != genesis.chain_id:
            raise HomeError(
                f"config chain_id {config.node.chain_id!r} differs from the genesis "
                f"chain_id {genesis.chain_id!r}"
            )
        validate_frame_fits_block(config, genesis.params)
        validator_path = path / VALIDATOR_KEY_FILE
        return cls(
            path=path,
            config=config,
            genesis=genesis,
            node_key=load_key(path / NODE_KEY_FILE),
            validator_key=load_key(validator_path) if validator_path.exists() else None,
        )

    @property
    def data_path(self) -> Path:
        return self.config.get_data_path(self.path)

    def compute_params(self) -> ConsensusParams:
        """Timeouts and the empty-block policy are this node's own choice (its config); block
        and evidence limits decide validity, so every validator takes them from genesis."""
        agreed = self.genesis.params
        return dataclasses.replace(
            self.config.consensus.to_params(),
            block_txs_max=agreed.block_txs_max,
            block_bytes_max=agreed.block_bytes_max,
            evidence_max=agreed.evidence_max,
            evidence_age_max_heights=agreed.evidence_age_max_heights,
            timestamp_precision_ms=agreed.timestamp_precision_ms,
            message_delay_ms=agreed.message_delay_ms,
        )


class Node:
    """The assembled parts of one node; :meth:`run` drives them until cancelled."""

    def __init__(
        self,
        home: NodeHome,
        *,
        clock: Clock | None = None,
        failpoints: Failpoints = Failpoints.NONE,
    ) -> None:
        self.home = home
        system = SystemClock() if clock is None else clock
        # Every wall-time reading of the node follows the network's clock (node.network_time).
        deadband = home.genesis.params.timestamp_precision_ms // 2
        self.network_time = NetworkTime(system, deadband)
        self.clock: Clock = self.network_time
        self.failpoints = failpoints  # TEST-ONLY crash switches: NONE on a real node
        data = home.data_path
        data.mkdir(parents=True, exist_ok=True)
        wal_path = home.config.get_wal_path(home.path)
        self._forgotten = forget_signatures_if_asked(  # a TEST-ONLY failpoint: False in use
            home.config.get_sign_state_path(home.path), wal_path, failpoints
        )
        self.journal = MempoolJournal(data / MEMPOOL_JOURNAL_FILE)  # opened once restored
        threads = resolve_threads(home.config.mempool.verify_threads)  # started on first use
        self.verifier = SignatureVerifier(
            threads,
            lambda raw: sha256(raw) in self.mempool,
            lambda tx: check_submitter(self.chain.state, tx, True) is None,
        )
        self.store = LevelDBStore(data / STORE_DIR, options=leveldb_options(home.config))
        try:
            self.wal = WriteAheadLog(wal_path, failpoints=failpoints)
        except BaseException:
            self.store.close()
            raise
        try:
            self._open_rest(home)
        except BaseException:
            self.close()  # a refused start must not keep the WAL's and LevelDB's locks
            raise

    def _open_rest(self, home: NodeHome) -> None:
        config = home.config
        self.chain = Chain(
            home.genesis, self.store, config.storage.state_versions_kept, state_limits(config)
        )
        self.sign_state_file = SignStateFile(
            config.get_sign_state_path(home.path), failpoints=self.failpoints
        )
        self.mempool = self._build_mempool(config)
        self.chain.known_verdict = self.mempool.verdict
        self.replica = Replica(
            ChainId(home.genesis.chain_id),
            home.validator_key,
            home.compute_params(),
            self.chain.compute_chain_state(),
            self._load_sign_state(),
        )
        self.bus = EventBus()
        self.loop_watch = LoopWatch()
        self.driver = Driver(
            replica=self.replica,
            chain=self.chain,
            mempool=self.mempool,
            wal=self.wal,
            sign_state_file=self.sign_state_file if home.validator_key is not None else None,
            network=_NullNetwork(),
            clock=self.clock,
            recheck=None,  # the recheck after a block is the listener below: only what it changed
            failpoints=self.failpoints,
            loop_watch=self.loop_watch,
        )
        self.block_recheck = BlockRecheck(self.mempool, self._recheck)
        self.driver.add_commit_listener(self.block_recheck.on_commit)
        self.driver.add_commit_listener(self.bus.publish)
        self.router = Router(
            chain=self.chain,
            mempool=self.mempool,
            driver=self.driver,
            on_txs_added=self.driver.notify_txs_changed,
            clock=self.clock,
            frame_bytes_max=config.p2p.frame_bytes_max,
            verifier=self.verifier,
        )
        self.network = self._build_network()
        self.driver.network = self.network
        self.router.network = self.network
        self.router.network_time = self.network_time
        self.gossip = TxGossip(self.network.broadcast, config.p2p.frame_bytes_max)
        self._restore_acknowledged_txs()
        self.driver.add_commit_listener(self._compact_journal)
        self.disk = DiskSpaceGuard(home.data_path, home.config.storage.free_bytes_min)
        pool = home.config.mempool
        self.backlog = (  # backlog_ms = 0: no gate at all
            BacklogGate(pool.backlog_ms, pool.backlog_txs_min) if pool.backlog_ms > 0 else None
        )
        if self.backlog is not None:
            self.driver.add_commit_listener(self.backlog.on_commit)
        self.services = self._build_services()
        self.snapshot_writer = attach_snapshots(
            config, home.data_path, self.chain, self.router,
            self.driver.add_commit_listener, self.failpoints,
        )  # fmt: skip

    def _build_mempool(self, config: NodeConfig) -> Mempool:
        m = config.mempool
        return Mempool(
            m.txs_max,
            m.bytes_max,
            m.tx_bytes_max,
            make_checker(
                lambda: self.chain.state, self._tip_time_ms, m.nonce_window, self.verifier.take
            ),
            submitter_txs_max=m.submitter_txs_max,
            submitter_bytes_max=m.submitter_bytes_max,
            ttl_s=m.ttl_s,
            now_s=self.clock.monotonic_s,
        )

    def _load_sign_state(self) -> SignState | None:
        """Before the replica exists: a lost file is rebuilt from the WAL or stops the start."""
        key = self.home.validator_key
        if key is None or self._forgotten:
            return None
        return load_sign_state_at_start(
            self.sign_state_file,
            self.wal,
            self.chain.height,
            ChainId(self.home.genesis.chain_id),
            key.public_key,
        )

    def _restore_acknowledged_txs(self) -> None:
        """Admit again the txs this node acknowledged before it stopped (crash or not) and
        that are not committed yet; they are gossiped again once a peer is connected."""
        restored: list[tuple[Hash32, bytes]] = []
        for raw in self.journal.load():
            tx_hash = sha256(raw)
            if self.store.get_tx_location(tx_hash) is not None:
                continue
            try:
                outcome = self.mempool.add(raw)
            except MempoolFull:
                log.error("mempool journal: mempool full; %d acknowledged txs restored of more",
                          len(restored))  # fmt: skip
                break
            if isinstance(outcome, Accepted):
                restored.append((tx_hash, raw))
        self.journal.open(restored)
        self._restored = [tx_hash for tx_hash, _ in restored]
        if restored:
            log.info("mempool journal: %d acknowledged txs restored", len(restored))

    async def _gossip_restored_txs(self) -> None:
        """Gossip the restored txs once a peer is connected (sent at start, they would reach
        nobody); those committed meanwhile are skipped."""
        deadline = asyncio.get_running_loop().time() + RESTORED_GOSSIP_WAIT_S
        while self._restored and not self.network.connected_peers():
            if asyncio.get_running_loop().time() > deadline:
                return  # alone: this node proposes them itself when it can
            await asyncio.sleep(0.1)
        for tx_hash in self._restored:
            raw = self.mempool.get(tx_hash)
            if raw is not None:
                self.gossip.queue(raw)
        self._restored = []

    def _compact_journal(self, _: CommittedBlock) -> None:
        self.journal.compact_if_grown(self.mempool.__contains__)

    def _tip_time_ms(self) -> int:
        return self.chain.tip_time_ms

    def _recheck(self, raw: bytes) -> CheckResult:
        # Signatures were verified on admission; the recheck re-runs only the state checks.
        window = self.home.config.mempool.nonce_window
        state, tip = self.chain.state, self._tip_time_ms()
        return check_tx(raw, state, tip, verify_signatures=False, nonce_window=window)

    def _build_network(self) -> P2PNetwork:
        p2p = self.home.config.p2p
        peers = {peer.public_key: (peer.host, peer.port) for peer in p2p.get_peers()}
        limits = P2PLimits(
            frame_body_bytes_max=p2p.frame_bytes_max, queue_messages_max=p2p.send_queue_size
        )
        return P2PNetwork(
            ChainId(self.home.genesis.chain_id),
            self.home.node_key,
            p2p.listen_host,
            p2p.listen_port,
            peers,
            set(peers),
            self.router.on_message,
            limits=limits,
            on_connected=self._send_status_to,
        )

    def _send_status_to(self, peer: bytes) -> None:
        """A peer just (re)connected: tell it our height now, so a node back from a partition
        starts syncing at once rather than at the next announcement; and send it the txs waiting
        here (those admitted while it was cut off were gossiped to nobody)."""
        self.network.send(peer, encode_gossip(StatusPayload(self.chain.height)))
        pending = self.mempool.reap(self.home.config.mempool.txs_max, PENDING_ON_CONNECT_BYTES)
        self.gossip.send_pending_to(lambda payload: self.network.send(peer, payload), pending)

    def _build_services(self) -> NodeServices:
        validator_key = self.home.validator_key
        return NodeServices(
            config=self.home.config,
            genesis=self.home.genesis,
            chain=self.chain,
            mempool=self.mempool,
            node_key=self.home.node_key,
            validator_public_key=None if validator_key is None else validator_key.public_key,
            bus=self.bus,
            gossip=self.gossip,
            on_txs_added=self.driver.notify_txs_changed,
            get_consensus_state=self._get_consensus_state,
            get_peers=self._get_peers,
            is_catching_up=lambda: self.router.is_catching_up,
            render_metrics=lambda: metrics.render(metrics.collect(self._read_metrics())),
            started_at_s=self.clock.now_ms() / 1000,
            journal=self.journal,
            disk=self.disk,
            backlog=self.backlog,
            verifier=self.verifier,
        )

    def _read_metrics(self) -> metrics.NodeSnapshot:
        """The parts' own counters at this scrape (node.metrics only formats them)."""
        mempool, network = self.mempool.stats(), self.network.stats()
        router, driver, watch = self.router.stats, self.driver.stats, self.loop_watch
        return metrics.NodeSnapshot(
            height=self.chain.height,
            consensus_height=self.replica.height,
            consensus_round=self.replica.round,
            consensus_step=int(self.replica.step),
            is_catching_up=self.router.is_catching_up,
            peer_height_max=self.router.max_peer_height,
            mempool_txs=mempool.size,
            mempool_bytes=mempool.size_bytes,
            mempool_accepted=mempool.accepted_total,
            mempool_rejected=mempool.rejected_total,
            mempool_full=mempool.full_total,
            mempool_recheck_rejected=mempool.recheck_rejected_total,
            mempool_submitter_limited=mempool.submitter_limited_total,
            mempool_expired=mempool.expired_total,
            peers_connected=len(self.network.connected_peers()),
            p2p_failures=dict(network.failures),
            p2p_disconnects=dict(network.disconnects),
            p2p_send_dropped={
                key: peer.messages_dropped for key, peer in self.network.peer_stats().items()
            },
            peer_bad_messages=router.bad_messages,
            sync_requests=router.sync_requests,
            blocks_synced=router.blocks_synced,
            consensus_events=dict(driver.by_kind),
            consensus_peer_events_dropped=driver.peer_events_dropped,
            blocks_committed=driver.blocks_committed,
            last_commit_s=driver.last_commit_s,
            wal_bytes=self.wal.size_bytes(),
            consensus_inputs_rejected=dict(driver.rejected),
            mempool_journal_syncs=self.journal.syncs,
            clock_correction_ms=self.network_time.offset_ms,
            disk_free_bytes=self.disk.free_bytes,
            disk_refused=self.disk.refused_total,
            loop_lag_buckets=dict(watch.lag.cumulative()),
            loop_lag_sum_s=watch.lag.total_s,
            loop_lag_max_s=watch.lag.max_s,
            loop_stretches={
                stage: (s.count, s.total_s, s.max_s) for stage, s in watch.stretches.items()
            },
        )

    def _get_consensus_state(self) -> dict[str, Any]:
        return {
            "height": self.replica.height,
            "round": self.replica.round,
            "step": self.replica.step.name,
        }

    def _get_peers(self) -> list[dict[str, Any]]:
        heights = self.router.peer_heights
        return [
            {"public_key": key.hex(), "height": heights.get(key, 0)}
            for key in sorted(self.network.connected_peers())
        ]

    def build_rpc_app(self) -> web.Application:
        """The RPC server's application: JSON-RPC, websocket, REST API and explorer."""
        return build_app(
            self.services, [comet.install, websocket.install, rest.install, install_explorer]
        )

    async def run(self) -> None:
        rpc = self.home.config.rpc
        app = self.build_rpc_app()
        rpc_server = self._running_rpc(app, rpc.listen_host, rpc.listen_port)
        async with self._running_network(), rpc_server:
            log.info(
                "node %s started: chain %s at height %d; rpc http://%s:%d, p2p %s:%d",
                self.home.config.node.moniker,
                self.home.genesis.chain_id,
                self.chain.height,
                rpc.listen_host,
                rpc.listen_port,
                *self.network.listen_address,
                extra=fields("node_started", height=self.chain.height),
            )
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.driver.run(), name="driver")
                tasks.create_task(self.loop_watch.run(), name="loop-watch")
                tasks.create_task(self._announce_status(), name="status")
                tasks.create_task(self._gossip_restored_txs(), name="restored-gossip")

    @contextlib.asynccontextmanager
    async def _running_network(self) -> AsyncIterator[None]:
        await self.network.start()
        try:
            yield
        finally:
            self.gossip.close()
            await self.network.stop()

    @contextlib.asynccontextmanager
    async def _running_rpc(self, app: Any, host: str, port: int) -> AsyncIterator[None]:
        runner = await start_server(app, host, port)
        try:
            yield
        finally:
            await runner.cleanup()

    async def _announce_status(self) -> None:
        while True:
            await asyncio.sleep(STATUS_INTERVAL_S)
            status = StatusPayload(self.chain.height, self.network_time.system_ms())
            self.network.broadcast(encode_gossip(status))
            self.router.maybe_request_blocks()

    def close(self) -> None:
        writer = getattr(self, "snapshot_writer", None)
        if writer is not None:
            writer.close()  # its thread reads the store
        self.verifier.close()
        self.journal.close()
        self.wal.close()
        self.store.close()


class _NullNetwork:
    """Stands in until the real network is built (the driver and network need each other)."""

    def broadcast(self, payload: bytes) -> int:
        return 0

    def send(self, public_key: bytes, payload: bytes) -> bool:
        return False
