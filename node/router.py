"""Routes what peers send: consensus messages to the driver, transactions to the mempool, and
block sync requests and answers between the chain and the peers.

Sync: every node announces its committed height (on each commit and every second). A node that
sees a peer two or more heights ahead — or one height ahead for longer than a second, which
means it missed the votes — asks that peer for the blocks with their commit certificates and
hands them to the replica, which verifies each certificate against the validator set before
committing. :mod:`node.sync` keeps the peers' heights (only from their status or from
consensus messages whose signature verifies), the one outstanding request, and the byte cap of
an answer. A peer's garbage is dropped and counted, never trusted, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus.blocks import Block
from consensus.codec import CodecError
from consensus.events import (
    CommittedBlockReceived,
    EvidenceReceived,
    ProposalReceived,
    VoteReceived,
)
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote
from consensus.proposal import Proposal
from consensus.replica import RejectedInput, Replica
from consensus.replica.validation import validate_proposal_signed, validate_vote_signed
from node.chain import Chain
from node.clock import Clock
from node.driver import Driver, Network
from node.gossip import (
    BlocksRequest,
    BlocksResponse,
    ConsensusPayload,
    StatusPayload,
    TxBatch,
    decode_gossip,
    encode_gossip,
)
from node.logs import fields
from node.loop_slices import LoopSlice
from node.mempool import Accepted, Mempool, MempoolFull
from node.network_time import NetworkTime
from node.statesync.messages import StateSyncPayload
from node.statesync.serve import SnapshotServer
from node.sync import SyncState, select_response_blocks
from node.verify_pool import SignatureVerifier

log = logging.getLogger("depochain.router")

DEFAULT_FRAME_BYTES_MAX = 8 * 1024 * 1024


@dataclass
class RouterStats:
    bad_messages: int = 0
    txs_received: int = 0
    txs_rejected_full: int = 0
    blocks_synced: int = 0
    sync_requests: int = 0
    unsolicited_responses: int = 0
    by_peer_bad: dict[str, int] = field(default_factory=dict)


class Router:
    """The node's side of every peer conversation."""

    def __init__(
        self,
        *,
        chain: Chain,
        mempool: Mempool,
        driver: Driver,
        on_txs_added: Callable[[], None],
        clock: Clock,
        frame_bytes_max: int = DEFAULT_FRAME_BYTES_MAX,
        verifier: SignatureVerifier | None = None,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.driver = driver
        self.network: Network | None = None
        self.clock = clock
        self.network_time: NetworkTime | None = None
        """Learns peers' clock offsets from their status messages (set by the node)."""
        self._on_txs_added = on_txs_added
        self.verifier = SignatureVerifier(1) if verifier is None else verifier
        self.sync = SyncState(frame_bytes_max)
        self.snapshots: SnapshotServer | None = None
        """Answers peers' state sync requests (set by the node)."""
        self.stats = RouterStats()
        driver.add_commit_listener(lambda _: self.maybe_request_blocks())

    @property
    def peer_heights(self) -> dict[bytes, int]:
        """Heights the peers have shown and are still believed (see :mod:`node.sync`)."""
        return self.sync.get_heights(self.clock.monotonic_s())

    @property
    def max_peer_height(self) -> int:
        return max(self.peer_heights.values(), default=0)

    @property
    def is_catching_up(self) -> bool:
        return self.max_peer_height > self.chain.height + 1

    async def on_message(self, sender: bytes, payload: bytes) -> None:
        try:
            message = decode_gossip(payload)
        except CodecError as exc:
            self._count_bad(sender, f"undecodable message: {exc}")
            return
        if isinstance(message, ConsensusPayload):
            self._on_consensus(sender, message)
        elif isinstance(message, TxBatch):
            async with self.verifier.prepared(message.txs):  # then admitted in order
                await self._on_txs(message)
        elif isinstance(message, StatusPayload):
            if message.time_ms is not None and self.network_time is not None:
                self.network_time.observe(sender, message.time_ms)
            self._on_status(sender, message.height, is_status=True)
        elif isinstance(message, BlocksRequest):
            self._on_blocks_request(sender, message)
        elif isinstance(message, BlocksResponse):
            self._on_blocks_response(sender, message)
        else:
            self._on_statesync(sender, message)

    def _count_bad(self, sender: bytes, reason: str) -> None:
        self.stats.bad_messages += 1
        peer = sender.hex()[:16]
        self.stats.by_peer_bad[peer] = self.stats.by_peer_bad.get(peer, 0) + 1
        log.debug("peer %s: %s", peer, reason)

    def _on_consensus(self, sender: bytes, payload: ConsensusPayload) -> None:
        message = payload.message
        now = self.clock.now_ms()
        if isinstance(message, Proposal):
            self.driver.deliver_from_peer(ProposalReceived(message, now))
        elif isinstance(message, Vote):
            self.driver.deliver_from_peer(VoteReceived(message, now))
        elif isinstance(message, DuplicateVoteEvidence):
            self.driver.deliver_from_peer(EvidenceReceived(message, now))
        if isinstance(message, Proposal | Vote) and message.height > self.chain.height + 1:
            self._on_future_message(sender, message)

    def _on_future_message(self, sender: bytes, message: Proposal | Vote) -> None:
        """A signed message of a later height shows that the chain got that far, but only if
        its signature verifies: a junk vote at height 10^6 must not make us "catching up"."""
        if is_signed_by_a_known_validator(message, self.driver.replica):
            self._on_status(sender, message.height - 1, is_status=False)
        else:
            self._count_bad(sender, f"unverifiable message at height {message.height}")

    async def _on_txs(self, batch: TxBatch) -> None:
        """Admit a batch in order, a slice at a time (``node.loop_slices``: a 2,000-tx batch
        must not hold consensus and the RPC)."""
        added = 0
        pacer = LoopSlice()
        for raw in batch.txs:
            await pacer.pause_if_due()
            self.stats.txs_received += 1
            try:
                outcome = self.mempool.add(raw)
            except MempoolFull:
                self.stats.txs_rejected_full += 1
                continue
            added += isinstance(outcome, Accepted)
        if added:
            self._on_txs_added()

    # -- block sync ----------------------------------------------------------------------------

    def _on_status(self, sender: bytes, height: int, *, is_status: bool) -> None:
        self.sync.on_claim(sender, height, self.clock.monotonic_s(), is_status=is_status)
        self.maybe_request_blocks()

    def maybe_request_blocks(self) -> None:
        if self.network is None:
            return
        moment = self.clock.monotonic_s()
        ours = self.chain.height
        chosen = self.sync.get_next_request(ours, moment, int(moment))
        if chosen is None:
            return
        peer, request = chosen
        if not self.network.send(peer, encode_gossip(request)):
            self.sync.cancel_request()
            return
        self.stats.sync_requests += 1
        last = request.from_height + request.count - 1
        if last > request.from_height:
            log.info(
                "sync: requesting blocks %d..%d",
                request.from_height,
                last,
                extra=fields("sync_requested", height=last, peer=peer),
            )

    def _on_blocks_request(self, sender: bytes, request: BlocksRequest) -> None:
        if self.network is None:
            return
        pairs = self.chain.iter_blocks(request.from_height, request.count)
        chosen = select_response_blocks(pairs, request, self.sync.frame_bytes_max)
        if not chosen:
            return
        payload = encode_gossip(BlocksResponse(tuple(chosen)))
        try:
            self.network.send(sender, payload)
        except ValueError:
            # Cannot happen with a valid config (a full block fits a frame); say so loudly
            # rather than let the peer retry a range nobody can send.
            log.error(
                "sync: block %d (%d bytes with its certificate) does not fit in a P2P frame; "
                "[p2p].frame_bytes_max must exceed the genesis block_bytes_max",
                request.from_height,
                len(payload),
            )

    def _on_blocks_response(self, sender: bytes, response: BlocksResponse) -> None:
        # Only the asked peer's answer counts, and only its blocks of the asked range:
        # anything else could queue work without bound or cancel the request in flight.
        if not self.sync.is_answer_expected_from(sender):
            self.stats.unsolicited_responses += 1
            self._count_bad(sender, "blocks response nobody asked it for")
            return
        decoded: list[tuple[Block, CommitCertificate]] = []
        for block_raw, cert_raw in response.blocks:
            try:
                decoded.append((Block.decode(block_raw), CommitCertificate.decode(cert_raw)))
            except CodecError as exc:
                self._count_bad(sender, f"bad synced block: {exc}")
                break
        moment = self.clock.monotonic_s()
        used = self.sync.take_answer(sender, [block.height for block, _ in decoded], moment)
        for block, certificate in decoded[:used]:
            self.stats.blocks_synced += 1
            received = CommittedBlockReceived(block, certificate, self.clock.now_ms())
            self.driver.deliver_internal(received)

    def _on_statesync(self, sender: bytes, message: StateSyncPayload) -> None:
        """Snapshot requests are answered (:mod:`node.statesync.serve`); a running node asks
        for nothing, so a snapshot answer here is unsolicited."""
        answer = None if self.snapshots is None else self.snapshots.answer(sender, message)
        if answer is not None and self.network is not None:
            try:
                self.network.send(sender, encode_gossip(answer))
            except ValueError:
                log.error("statesync: an answer does not fit in a P2P frame (%s)", type(answer))


def is_signed_by_a_known_validator(message: Proposal | Vote, replica: Replica) -> bool:
    """Whether ``message`` verifies against the latest validator set the replica knows (sets
    of heights beyond it are unknown; a changed set can only make us miss a hint)."""
    height = replica.height
    validator_set = replica.get_validator_set(height + 1) or replica.get_validator_set(height)
    try:
        if isinstance(message, Proposal):
            # Whom round 0 skips at a far height is unknown here: any validator may have it.
            validate_proposal_signed(message, validator_set, replica.chain_id, None)
        else:
            validate_vote_signed(message, validator_set, replica.chain_id)
    except RejectedInput:
        return False
    return True
