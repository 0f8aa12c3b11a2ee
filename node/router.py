"""Routes what peers send: consensus messages to the driver, transactions to the mempool, and
block sync requests and answers between the chain and the peers.

Sync: every node announces its committed height (on each commit and every second). A node that
sees a peer two or more heights ahead — or one height ahead for longer than a second, which
means it missed the votes — asks that peer for the blocks with their commit certificates and
hands them to the replica, which verifies each certificate against the validator set before
committing. A peer's garbage is dropped and counted, never trusted, never fatal.
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
from node.chain import Chain
from node.clock import Clock
from node.driver import Driver, Network
from node.gossip import (
    SYNC_BLOCKS_MAX,
    BlocksRequest,
    BlocksResponse,
    ConsensusPayload,
    StatusPayload,
    TxBatch,
    decode_gossip,
    encode_gossip,
)
from node.logs import fields
from node.mempool import Accepted, Mempool, MempoolFull
from node.network_time import NetworkTime

log = logging.getLogger("depochain.router")

SYNC_REQUEST_TIMEOUT_S = 3.0
"""An unanswered block request is sent again (possibly to another peer) after this."""
BEHIND_BY_ONE_GRACE_S = 1.0


@dataclass
class RouterStats:
    bad_messages: int = 0
    txs_received: int = 0
    txs_rejected_full: int = 0
    blocks_synced: int = 0
    sync_requests: int = 0
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
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.driver = driver
        self.network: Network | None = None
        self.clock = clock
        self.network_time: NetworkTime | None = None
        """Learns peers' clock offsets from their status messages (set by the node)."""
        self._on_txs_added = on_txs_added
        self.peer_heights: dict[bytes, int] = {}
        self._behind_since: float | None = None
        self._request_sent_at = 0.0
        self._requested_up_to = 0
        self.stats = RouterStats()

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
            self._on_txs(message)
        elif isinstance(message, StatusPayload):
            if message.time_ms is not None and self.network_time is not None:
                self.network_time.observe(sender, message.time_ms)
            self._on_status(sender, message.height)
        elif isinstance(message, BlocksRequest):
            self._on_blocks_request(sender, message)
        else:
            self._on_blocks_response(sender, message)

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
        height = getattr(message, "height", 0)
        if height > self.chain.height + 1:
            self._on_status(sender, height - 1)

    def _on_txs(self, batch: TxBatch) -> None:
        added = 0
        for raw in batch.txs:
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

    def _on_status(self, sender: bytes, height: int) -> None:
        self.peer_heights[sender] = max(height, self.peer_heights.get(sender, 0))
        self.maybe_request_blocks()

    def maybe_request_blocks(self) -> None:
        ours = self.chain.height
        target = self.max_peer_height
        if target <= ours:
            self._behind_since = None
            return
        moment = self.clock.monotonic_s()
        if self._behind_since is None:
            self._behind_since = moment
        if target == ours + 1 and moment - self._behind_since < BEHIND_BY_ONE_GRACE_S:
            return
        waiting = self._requested_up_to > ours
        if waiting and moment - self._request_sent_at < SYNC_REQUEST_TIMEOUT_S:
            return
        self._send_request(ours + 1, target, moment)

    def _send_request(self, start: int, target: int, moment: float) -> None:
        if self.network is None:
            return
        count = min(SYNC_BLOCKS_MAX, target - start + 1)
        peers = sorted(key for key, h in self.peer_heights.items() if h >= start)
        if not peers:
            return
        peer = peers[int(moment) % len(peers)]  # spread load across the peers that have it
        if self.network.send(peer, encode_gossip(BlocksRequest(start, count))):
            self._request_sent_at = moment
            self._requested_up_to = start + count - 1
            self.stats.sync_requests += 1
            if target - start > 1:
                log.info(
                    "sync: requesting blocks %d..%d of %d",
                    start,
                    start + count - 1,
                    target,
                    extra=fields("sync_requested", height=target, peer=peer),
                )

    def _on_blocks_request(self, sender: bytes, request: BlocksRequest) -> None:
        if self.network is None:
            return
        pairs = tuple(self.chain.iter_blocks(request.from_height, request.count))
        if pairs:
            self.network.send(sender, encode_gossip(BlocksResponse(pairs)))

    def _on_blocks_response(self, sender: bytes, response: BlocksResponse) -> None:
        # Only answers to our outstanding request are used: unsolicited blocks could otherwise
        # queue work without bound.
        wanted_up_to = self._requested_up_to
        for block_raw, cert_raw in response.blocks:
            try:
                block = Block.decode(block_raw)
                certificate = CommitCertificate.decode(cert_raw)
            except CodecError as exc:
                self._count_bad(sender, f"bad synced block: {exc}")
                return
            if not self.chain.height < block.height <= wanted_up_to:
                continue
            self.stats.blocks_synced += 1
            received = CommittedBlockReceived(block, certificate, self.clock.now_ms())
            self.driver.deliver_internal(received)
        self._requested_up_to = 0
