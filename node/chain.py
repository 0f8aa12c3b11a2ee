"""The committed chain on this node: ledger state, block store and the path from a decided block
to a durable, executed one.

``commit`` is the only writer: it executes a block with the pure ledger, then writes block,
certificate, receipts, tx index, state changes and app hash in ONE synced LevelDB batch. Its
heavy middle step (``execute_and_store``) may run in a worker thread, one block at a time,
while readers on the event loop keep the previous tip (``publish_stored`` then moves it). The
genesis state is not a block, so block 1's batch also carries every genesis key: from then on the
store alone holds the state. The committed ``State`` reads it from disk (a snapshot of the
committed height through a bounded cache, ``node.state_store``): memory does not grow with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import msgpack

from consensus.blocks import GENESIS_PARENT_HASH, Block, Header, compute_results_hash
from consensus.crypto import sha256
from consensus.leader import advance_window, rebuild_window
from consensus.ledger import (
    BlockResult,
    Receipt,
    State,
    build_genesis_state,
    decode_receipts,
    execute_block,
    get_validators,
)
from consensus.ledger.admission import LedgerTxsRule, VerdictLookup
from consensus.ledger.commitment import compute_receipts_hash
from consensus.ledger.events import encode_each
from consensus.messages import CommitCertificate
from consensus.replica import ChainState
from consensus.types import Hash32, Height, TimestampMs
from consensus.validators import ValidatorSet
from node.errors import NodeError
from node.home import ChainGenesis
from node.leader_window import get_window_first_height, read_headers
from node.state_store import CachedStateBase, StateCache, StateLimits
from node.state_tree import (
    ensure_recursion_headroom,
    open_state_tree,
    prune_state_tree,
)
from node.storage import BlockWrite, Store
from node.storage.install import get_base_height, is_install_interrupted
from node.validator_history import ValidatorHistory

GENESIS_HASH_META = "genesis_hash"
STATE_VERSIONS_KEPT = 100


class ChainMismatchError(NodeError):
    """The data folder belongs to another chain, or the store and the ledger disagree."""


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """What a commit produced, for the mempool, the RPC event bus and the replica."""

    block: Block
    certificate: CommitCertificate
    receipts: tuple[Receipt, ...]
    tx_hashes: tuple[Hash32, ...]
    app_hash: Hash32
    results_hash: Hash32
    """Root of ``receipts``: the next header's ``last_results_hash``."""
    next_validators: ValidatorSet
    """The validator set of height ``block.height + 2`` (BlockExecuted carries it)."""


@dataclass(frozen=True, slots=True)
class TxVerdicts:
    """What a commit knows of a block's txs before executing it: their hashes, the signature
    verdicts already computed, and the state they were collected on."""

    state: State
    tx_hashes: tuple[Hash32, ...]
    verdicts: Mapping[Hash32, bool]


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block executed and durably stored that is not yet the chain's tip in memory."""

    block: Block
    certificate: CommitCertificate
    result: BlockResult
    tx_hashes: tuple[Hash32, ...]
    state: State
    """The state after the block, its tree read from the store."""
    results_hash: Hash32
    """Root of the block's receipts (computed in the worker, from the bytes stored)."""


class Chain:
    """Ledger state and block store of one node, kept in step."""

    def __init__(
        self,
        genesis: ChainGenesis,
        store: Store,
        state_versions_kept: int = STATE_VERSIONS_KEPT,
        limits: StateLimits | None = None,
    ) -> None:
        ensure_recursion_headroom()  # before any tree work, genesis included
        self.genesis = genesis
        self.store = store
        self.state_versions_kept = state_versions_kept
        self.limits = limits = StateLimits() if limits is None else limits
        self.node_cache = limits.make_node_cache()
        self.state_cache = StateCache(limits.state_cache_bytes)
        self._genesis_state: State | None = None
        """Genesis, in memory until block 1 stores it (not built at all once it is stored)."""
        if store.latest_height() == 0:
            self._genesis_state = build_genesis_state(genesis.ledger)
            self._genesis_state.memo.limit = limits.state_decoded_records
        self._check_genesis_matches()
        if is_install_interrupted(store):
            raise ChainMismatchError(
                "a state sync install was interrupted: start again with [statesync].enable"
            )
        self.state = self._load_state()
        self._validate_tip()
        self.last_results_hash = self._load_results_hash(self.height)
        """Results root of the last committed block (the next header carries it)."""
        self.validator_history = ValidatorHistory(store, genesis.params.evidence_age_max_heights)
        self._record_validator_sets()
        self._leader_window = rebuild_window(self._get_window_headers(), self._find_validators)
        """What the last blocks show present (leader skipping): rebuilt once, then advanced by
        each commit (``compute_chain_state`` runs per block in benches: it must stay cheap)."""
        tip = self.get_block(self.height) if self.height else None
        self.tip_time_ms = tip.header.time_ms if tip else genesis.ledger.genesis_time_ms
        """Time of the last committed block (read on every CheckTx, so kept, not decoded)."""
        self.known_verdict: VerdictLookup = lambda _tx_hash: None
        """Signature verdicts computed at admission (the node sets the mempool's)."""
        self._txs_rule: LedgerTxsRule | None = None

    @property
    def txs_rule(self) -> LedgerTxsRule:
        """The ledger's rule for the txs of the next block (the replica's valid(v) uses it)."""
        rule = self._txs_rule
        if rule is None or rule.state is not self.state:
            rule = self._txs_rule = LedgerTxsRule(self.state, self.known_verdict)
        return rule

    # -- start-up ------------------------------------------------------------------------------

    def _check_genesis_matches(self) -> None:
        expected = self.genesis.compute_hash()
        stored = self.store.get_meta(GENESIS_HASH_META)
        if stored is None:
            self.store.put_meta(GENESIS_HASH_META, expected)
        elif stored != expected:
            raise ChainMismatchError(
                "the data folder was written for a different genesis file; "
                "use a fresh data folder or the genesis it was created with"
            )

    def _load_state(self) -> State:
        height = self.store.latest_height()
        if height == 0:
            assert self._genesis_state is not None
            return self._genesis_state
        try:
            tree = open_state_tree(self.store, height, self.node_cache)
        except LookupError as exc:
            raise ChainMismatchError(f"the store lacks the state tree of height {height}") from exc
        self.state_cache.advance(height, {})
        base = CachedStateBase(self.store.state_snapshot(), self.state_cache, height)
        state = State.on_base(base, tree, self.limits.state_decoded_records)
        if tree.root_hash != state.app_hash:
            raise ChainMismatchError(f"state tree root of height {height} is not the app hash")
        return state

    def _on_disk(self, state: State, height: int, changes: Mapping[bytes, bytes | None]) -> State:
        """``state``, just stored as ``height`` by a write of ``changes``, read from disk."""
        self.state_cache.advance(height, changes)
        base = CachedStateBase(self.store.state_snapshot(), self.state_cache, height)
        tree = open_state_tree(self.store, height, self.node_cache)
        return state.rebased(base).with_tree(tree)

    def _load_results_hash(self, height: int) -> Hash32:
        receipts = self.get_receipts(height) if height else ()
        if receipts is None:
            raise ChainMismatchError(f"the store lacks the receipts of height {height}")
        return compute_receipts_hash(receipts)

    def _validate_tip(self) -> None:
        height = self.store.latest_height()
        if self.state.height != height:
            raise ChainMismatchError(f"ledger state at {self.state.height}, blocks at {height}")
        if height and self.store.get_app_hash(height) != self.state.app_hash:
            raise ChainMismatchError(f"app hash of height {height} differs from the ledger's")

    # -- reads ---------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        return self.store.latest_height()

    @property
    def base_height(self) -> int:
        """Lowest stored block: 1, or the height state sync installed a snapshot at."""
        return get_base_height(self.store)

    def get_block(self, height: int) -> Block | None:
        raw = self.store.get_block(height)
        return None if raw is None else Block.decode(raw)

    def get_certificate(self, height: int) -> CommitCertificate | None:
        raw = self.store.get_certificate(height)
        return None if raw is None else CommitCertificate.decode(raw)

    def get_receipts(self, height: int) -> tuple[Receipt, ...] | None:
        raw = self.store.get_results(height)
        return None if raw is None else decode_receipts(raw)

    def get_validators(self, height: int) -> ValidatorSet:
        """The set that signs ``height`` (known from the committed height to height + 2)."""
        return ValidatorSet.of(get_validators(self.state, height))

    def compute_chain_state(self) -> ChainState:
        """What a new replica needs to continue after the last committed block."""
        height = self.height
        block = self.get_block(height) if height else None
        heights = (height, height + 1, height + 2) if height else (1, 2)
        sets = {h: self.get_validators(h) for h in heights}
        window = self.genesis.params.evidence_age_max_heights
        for older in range(max(1, height - window), height):
            known = self.validator_history.get(older)
            if known is not None:
                sets[older] = known  # lets the replica verify evidence from those heights
        if height > 1 and height - 1 not in sets:  # e.g. just after state sync
            # The ledger keeps the sets of its trust window: the replica needs this one to
            # verify the certificate the next block carries.
            previous = self._find_validators(height - 1)
            if previous is not None:
                sets[height - 1] = previous
        return ChainState(
            height=Height(height),
            last_block_hash=block.hash if block else GENESIS_PARENT_HASH,
            last_commit=self.get_certificate(height) if height else None,
            last_block_time_ms=TimestampMs(
                block.header.time_ms if block else self.genesis.ledger.genesis_time_ms
            ),
            app_hash=self.state.app_hash,
            validator_sets=sets,
            txs_rule=self.txs_rule,
            last_results_hash=self.last_results_hash,
            leader_window=self._leader_window,
        )

    def _get_window_headers(self) -> list[Header]:
        """Headers of the last ``WINDOW_MAX`` blocks, from the block store or, below a state
        sync's base height, from the headers its anchor brought (:mod:`node.leader_window`).
        A store without those (installed before they were kept) starts the window at its base:
        round 0 then keeps the plain rotation for ``W`` heights."""
        height = self.height
        first, base = get_window_first_height(height), self.base_height
        headers = read_headers(self.store, first, height, base) if height else []
        if headers is None:
            headers = read_headers(self.store, max(first, base), height, base)
        if headers is None:
            raise ChainMismatchError(f"the store lacks a block of heights {first}..{height}")
        return headers

    def _find_validators(self, height: int) -> ValidatorSet | None:
        """The set of ``height`` if this node still knows it (history or ledger)."""
        known = self.validator_history.get(height)
        if known is not None:
            return known
        try:
            return self.get_validators(height)
        except LookupError:
            return None

    def _record_validator_sets(self) -> None:
        height = self.height
        heights = (height, height + 1, height + 2) if height else (1, 2)
        sets = {h: self.get_validators(h) for h in heights}
        self.validator_history.record(sets, height)

    # -- the one writer ------------------------------------------------------------------------

    def commit(
        self,
        block: Block,
        certificate: CommitCertificate,
        get_verdict: Callable[[Hash32], bool | None] = lambda _tx_hash: None,
    ) -> CommittedBlock:
        """Execute and store ``block``. ``get_verdict`` gives signature verdicts already known
        (the mempool's), so the block verifies only the signatures nobody checked yet.

        The three steps below in a row; the driver runs the middle one in a worker thread."""
        verdicts = self.collect_verdicts(block, get_verdict)
        return self.publish_stored(self.execute_and_store(block, certificate, verdicts))

    def collect_verdicts(
        self, block: Block, get_verdict: Callable[[Hash32], bool | None]
    ) -> TxVerdicts:
        """Step 1, on the caller's thread (it reads the mempool): the signature verdicts known
        for ``block``'s txs, from admission or from the replica's valid(v)."""
        tx_hashes = tuple(sha256(raw) for raw in block.txs)
        rule = self.txs_rule  # knows the verdicts valid(v) computed for this block's txs
        verdicts: dict[Hash32, bool] = {}
        for tx_hash in tx_hashes:
            verdict = get_verdict(tx_hash)
            verdict = rule.verdict(tx_hash) if verdict is None else verdict
            if verdict is not None:
                verdicts[tx_hash] = verdict
        return TxVerdicts(self.state, tx_hashes, verdicts)

    def execute_and_store(
        self, block: Block, certificate: CommitCertificate, known: TxVerdicts
    ) -> StoredBlock:
        """Step 2, the heavy one, safe in a worker thread (one at a time): execute ``block``
        over the state ``known`` was collected on and write it durably (one synced batch).
        It changes nothing the chain's readers see in memory except the store's height, which
        moves first: the block is durable, its state comes with step 3."""
        height = block.height
        if height != self.height + 1 or known.state is not self.state:
            raise ChainMismatchError(f"commit of block {height} on top of {self.height}")
        state, tx_hashes = known.state, known.tx_hashes
        result = execute_block(state, block.txs, height, block.header.time_ms, known.verdicts)
        encoded_receipts = encode_each(result.receipts)
        write = self._build_write(block, certificate, result, tx_hashes, encoded_receipts)
        self.store.commit_block(write)
        stored_state = self._on_disk(result.state, height, write.state_changes)
        self._genesis_state = None  # stored with block 1
        prune_state_tree(self.store, height, self.state_versions_kept)
        results_hash = compute_results_hash(encoded_receipts)
        return StoredBlock(block, certificate, result, tx_hashes, stored_state, results_hash)

    def publish_stored(self, stored: StoredBlock) -> CommittedBlock:
        """Step 3, on the thread that owns the chain: the stored block becomes the tip."""
        block, result = stored.block, stored.result
        if stored.block.height != self.state.height + 1:
            raise ChainMismatchError(f"block {block.height} published on {self.state.height}")
        self.state = stored.state
        self.tip_time_ms = block.header.time_ms
        self.last_results_hash = stored.results_hash
        self._record_validator_sets()
        self._leader_window = advance_window(
            self._leader_window, block.header, self._find_validators(block.height - 1)
        )
        return CommittedBlock(
            block=block,
            certificate=stored.certificate,
            receipts=result.receipts,
            tx_hashes=stored.tx_hashes,
            app_hash=result.app_hash,
            results_hash=self.last_results_hash,
            next_validators=ValidatorSet.of(get_validators(result.state, block.height + 2)),
        )

    def _build_write(
        self,
        block: Block,
        certificate: CommitCertificate,
        result: BlockResult,
        tx_hashes: tuple[Hash32, ...],
        encoded_receipts: list[bytes],
    ) -> BlockWrite:
        changes: Mapping[bytes, bytes | None] = result.state_changes
        tree_writes = result.tree_writes
        if block.height == 1:  # genesis is not a block: its state and tree go with block 1
            assert self._genesis_state is not None
            changes = {**dict(self._genesis_state.items()), **changes}
            tree_writes = {**self._genesis_state.tree.unpersisted(), **tree_writes}
        return BlockWrite(
            height=block.height,
            block=block.encode(),
            certificate=certificate.encode(),
            results=join_encoded_list(encoded_receipts),
            tx_hashes=tx_hashes,
            state_changes=changes,
            app_hash=result.app_hash,
            tree_writes=tree_writes,
        )

    def iter_blocks(self, start: int, count: int) -> Iterator[tuple[bytes, bytes]]:
        """Encoded (block, certificate) pairs from ``start`` for block sync, at most ``count``."""
        for height in range(start, min(start + count, self.height + 1)):
            block, cert = self.store.get_block(height), self.store.get_certificate(height)
            if block is None or cert is None:
                return
            yield block, cert


def join_encoded_list(encoded: list[bytes]) -> bytes:
    """The canonical encoding of a list whose items are already canonically encoded: the list's
    msgpack header, then the items' bytes (what ``codec.encode`` gives for the decoded list,
    as ``encode_receipts`` does). Lets a block's receipts be encoded once, for both the stored
    results and the results root, instead of twice."""
    header: bytes = msgpack.Packer().pack_array_header(len(encoded))
    return header + b"".join(encoded)
