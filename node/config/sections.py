"""Node configuration, part 2: one frozen dataclass per TOML section, and the whole config.

Every key is declared once here, with its type, default and a one-line doc (the doc also becomes
the comment in a written file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.params import BLOCK_BYTES_HARD_MAX, BLOCK_TXS_HARD_MAX, ConsensusParams
from node.config.checks import (
    PORT_MAX,
    SIGN_STATE_FILE,
    PeerAddress,
    check_chain_id,
    check_cors_origins,
    check_host,
    check_hosts_allowed,
    check_log_format,
    check_log_level,
    check_moniker,
    check_non_empty,
    check_peers,
    in_range,
    key,
    parse_peer_address,
    required,
)
from node.storage.options import MAX_OPEN_FILES_MIN, MIB

_MIB = 1024 * 1024
_BYTES = in_range(1, 1 << 40)
_COUNT = in_range(1, 10_000_000)
_TIMEOUT = in_range(1, 3_600_000)


@dataclass(frozen=True, slots=True)
class NodeSection:
    chain_id: str = required("network identifier, the same on every node", check_chain_id)
    moniker: str = key("node", "human-readable name of this node (logs, status)", check_moniker)
    home: str = key(
        ".", "home folder for keys and data; relative paths resolve against it", check_non_empty
    )
    log_level: str = key("info", "one of debug, info, warning, error", check_log_level)
    log_format: str = key(
        "text", "text (for people) or json (one object a line, for pipelines)", check_log_format
    )
    log_file: str = key(
        "", "write logs to this file, rotated by size (relative to home); empty = stderr"
    )
    log_file_bytes_max: int = key(
        64 * _MIB, "size at which the log file is rotated", in_range(4096, 1 << 40)
    )
    log_file_backups: int = key(5, "rotated log files kept (node.log.1 ...)", in_range(0, 1000))


@dataclass(frozen=True, slots=True)
class P2PSection:
    listen_host: str = key("0.0.0.0", "address the peer listener binds", check_host)
    listen_port: int = key(26656, "TCP port of the peer listener", in_range(0, PORT_MAX))
    persistent_peers: tuple[str, ...] = key(
        (), "peers to dial and keep connected, each pubkeyhex@host:port", check_peers
    )
    frame_bytes_max: int = key(
        8 * _MIB, "largest P2P frame accepted; must fit a full block", _BYTES
    )
    send_queue_size: int = key(1024, "messages queued per peer before it counts as slow", _COUNT)

    def get_peers(self) -> tuple[PeerAddress, ...]:
        return tuple(parse_peer_address(text) for text in self.persistent_peers)


@dataclass(frozen=True, slots=True)
class RpcSection:
    listen_host: str = key(
        "127.0.0.1", "address the RPC binds; keep 127.0.0.1 unless a proxy guards it", check_host
    )
    listen_port: int = key(26657, "TCP port of the HTTP/JSON-RPC server", in_range(0, PORT_MAX))
    body_bytes_max: int = key(2 * _MIB, "largest request body accepted", _BYTES)
    cors_origins: tuple[str, ...] = key(
        (), "browser origins allowed by CORS ('*' = any); empty = none", check_cors_origins
    )
    admin_enabled: bool = key(False, "serve admin routes (unsafe on a shared network)")
    hosts_allowed: tuple[str, ...] = key(
        (),
        "Host header names served besides localhost, IP addresses and listen_host ('*' = any)",
        check_hosts_allowed,
    )
    response_bytes_max: int = key(
        16 * _MIB, "largest response body; a batch's answers count together", _BYTES
    )
    request_blocks_max: int = key(
        1000, "blocks or block results one request may decode (a batch's calls together)", _COUNT
    )
    request_rows_max: int = key(
        20_000, "transactions one request may examine or answer (a batch's calls together)", _COUNT
    )
    read_threads: int = key(
        0,
        "threads running heavy reads off the consensus loop; 0 = 1 on a host of 2 cores or "
        "fewer, else 2",
        in_range(0, 64),
    )
    reads_queued_max: int = key(
        64, "heavy reads waiting for a thread before more are refused as busy", _COUNT
    )
    reads_client_queued_max: int = key(
        16, "heavy reads one client (remote address) may have waiting", _COUNT
    )
    reads_cpu_percent: int = key(
        50,
        "most of its time a read thread may be busy (it rests after each read)",
        in_range(1, 100),
    )

    def get_read_threads(self) -> int:
        """``read_threads``, with 0 resolved for this host (a small host keeps a core free)."""
        if self.read_threads:
            return self.read_threads
        return 1 if (os.cpu_count() or 1) <= 2 else 2


@dataclass(frozen=True, slots=True)
class MempoolSection:
    txs_max: int = key(5000, "most transactions held at once", _COUNT)
    bytes_max: int = key(64 * _MIB, "most bytes of transactions held at once", _BYTES)
    tx_bytes_max: int = key(
        8 * 1024, "largest single transaction accepted (the ledger caps it at 8 KiB)", _BYTES
    )
    nonce_window: int = key(
        256, "a tx's nonce may be at most this far past its submitter's next one", _COUNT
    )
    submitter_txs_max: int = key(256, "most transactions held for one submitter", _COUNT)
    submitter_bytes_max: int = key(
        2 * _MIB, "most bytes of transactions held for one submitter", _BYTES
    )
    backlog_ms: int = key(
        1000,
        "client txs get 'try later' once this many ms of commits wait (0 = only the bounds above)",
        in_range(0, 600_000),
    )
    backlog_txs_min: int = key(
        1000, "the backlog limit is never below this many txs (a quiet chain takes a burst)", _COUNT
    )
    ttl_s: int = key(
        600, "seconds a transaction may wait before it is dropped", in_range(1, 30 * 86_400)
    )
    verify_threads: int = key(
        -1,
        "threads checking signatures at admission (-1 = cores - 1, at most 4; 0 or 1 = none)",
        in_range(-1, 64),
    )


@dataclass(frozen=True, slots=True)
class ConsensusSection:
    timeout_propose_ms: int = key(3000, "wait for a proposal in round 0", _TIMEOUT)
    timeout_prevote_ms: int = key(1000, "wait for more prevotes after +2/3 any", _TIMEOUT)
    timeout_precommit_ms: int = key(1000, "wait for more precommits after +2/3 any", _TIMEOUT)
    timeout_delta_ms: int = key(500, "added to each timeout per round", in_range(0, 3_600_000))
    timeout_max_ms: int = key(60_000, "cap on any round timeout", _TIMEOUT)
    timeout_commit_ms: int = key(
        1000, "pause after a commit before the next height", in_range(0, 3_600_000)
    )
    timeout_propose_absent_ms: int = key(
        200, "propose timeout for a proposer that missed its last turn (leader failover)", _TIMEOUT
    )
    create_empty_blocks: bool = key(True, "make blocks without transactions")
    empty_block_interval_ms: int = key(
        0,
        "with create_empty_blocks, least gap between empty blocks (0 = none)",
        in_range(0, 86_400_000),
    )
    block_txs_max: int = key(
        2000, "most transactions in one block", in_range(1, BLOCK_TXS_HARD_MAX)
    )
    block_bytes_max: int = key(
        4 * _MIB, "largest encoded block", in_range(1024, BLOCK_BYTES_HARD_MAX)
    )

    def to_params(self) -> ConsensusParams:
        """The replica's parameters (evidence bounds keep their defaults)."""
        return ConsensusParams(
            timeout_propose_ms=self.timeout_propose_ms,
            timeout_prevote_ms=self.timeout_prevote_ms,
            timeout_precommit_ms=self.timeout_precommit_ms,
            timeout_delta_ms=self.timeout_delta_ms,
            timeout_max_ms=self.timeout_max_ms,
            timeout_commit_ms=self.timeout_commit_ms,
            timeout_propose_absent_ms=self.timeout_propose_absent_ms,
            block_txs_max=self.block_txs_max,
            block_bytes_max=self.block_bytes_max,
            create_empty_blocks=self.create_empty_blocks,
            empty_block_interval_ms=self.empty_block_interval_ms,
        )


@dataclass(frozen=True, slots=True)
class StorageSection:
    data_dir: str = key(
        "data", "LevelDB, WAL and signer state; relative to [node].home", check_non_empty
    )
    free_bytes_min: int = key(
        256 * _MIB,
        "below this much free disk the node refuses new transactions (0 = never)",
        in_range(0, 1 << 50),
    )
    state_versions_kept: int = key(
        100,
        "heights whose state tree stays on disk for proofs; older versions are pruned",
        in_range(1, 10_000_000),
    )
    state_cache_bytes: int = key(
        32 * _MIB,
        "ledger records of the committed state kept in memory (raw; the rest is read from disk)",
        in_range(0, 1 << 40),
    )
    state_decoded_records: int = key(
        1 << 15,
        "decoded ledger records memoised, per record kind (accounts, balances, nonces, ...)",
        in_range(1, 1 << 24),
    )
    tree_cache_nodes: int = key(
        1 << 17,
        "decoded state tree nodes kept in memory (the hot top of the tree; ~400 bytes each)",
        in_range(1, 1 << 24),
    )
    leveldb_max_open_files: int = key(
        MAX_OPEN_FILES_MIN,
        "LevelDB tables kept open and mapped (each up to leveldb_max_file_bytes, or a memtable)",
        in_range(MAX_OPEN_FILES_MIN, 50_000),
    )
    leveldb_max_file_bytes: int = key(
        MIB, "size LevelDB writes its table files up to", in_range(MIB, 1 << 30)
    )
    leveldb_write_buffer_bytes: int = key(
        32 * MIB, "LevelDB memtable (up to two in memory)", in_range(64 * 1024, 1 << 30)
    )
    leveldb_block_cache_bytes: int = key(
        8 * MIB, "LevelDB cache of table blocks read without a mapping", in_range(0, 1 << 40)
    )


def _check_trust_hash(value: str) -> str | None:
    if value == "":
        return None
    try:
        ok = len(bytes.fromhex(value)) == 32
    except ValueError:
        ok = False
    return None if ok else "must be empty or the 64 hex digits of a block hash"


@dataclass(frozen=True, slots=True)
class StateSyncSection:
    enable: bool = key(False, "an empty node joins from a peer's snapshot, then block-syncs")
    snapshot_interval: int = key(
        0, "take a snapshot of the state every this many heights (0 = none)", in_range(0, 1 << 40)
    )
    snapshots_kept: int = key(
        2, "snapshots kept on disk (older ones are deleted)", in_range(1, 100)
    )
    chunk_bytes: int = key(
        1 * _MIB, "largest snapshot chunk; must be below [p2p].frame_bytes_max", _BYTES
    )
    trust_height: int = key(
        0, "height of a block the operator trusts (0 = verify from genesis)", in_range(0, 1 << 62)
    )
    trust_hash: str = key("", "hex hash of the block at trust_height", _check_trust_hash)
    discovery_time_s: int = key(
        3, "how long to gather snapshot offers before choosing one", in_range(1, 3600)
    )
    restore_timeout_s: int = key(
        600, "give up state sync (the node exits) after this long", in_range(1, 1 << 30)
    )


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The whole node configuration, one field per TOML section."""

    node: NodeSection
    p2p: P2PSection = field(default_factory=P2PSection)
    rpc: RpcSection = field(default_factory=RpcSection)
    mempool: MempoolSection = field(default_factory=MempoolSection)
    consensus: ConsensusSection = field(default_factory=ConsensusSection)
    storage: StorageSection = field(default_factory=StorageSection)
    statesync: StateSyncSection = field(default_factory=StateSyncSection)

    def get_home_path(self, base: Path | None = None) -> Path:
        """``[node].home``; a relative one is taken from ``base`` (default: the working dir)."""
        home = Path(os.path.expanduser(self.node.home))
        return home if home.is_absolute() or base is None else base / home

    def get_data_path(self, base: Path | None = None) -> Path:
        """``[storage].data_dir``; a relative one lives under the home folder."""
        data = Path(os.path.expanduser(self.storage.data_dir))
        return data if data.is_absolute() else self.get_home_path(base) / data

    def get_wal_path(self, base: Path | None = None) -> Path:
        """Folder of the consensus WAL (``node.wal.WriteAheadLog``)."""
        return self.get_data_path(base) / "wal"

    def get_sign_state_path(self, base: Path | None = None) -> Path:
        """File of the last-signed state (``node.signer.SignStateFile``)."""
        return self.get_data_path(base) / SIGN_STATE_FILE


SECTIONS: dict[str, type[Any]] = {
    "node": NodeSection,
    "p2p": P2PSection,
    "rpc": RpcSection,
    "mempool": MempoolSection,
    "consensus": ConsensusSection,
    "storage": StorageSection,
    "statesync": StateSyncSection,
}
