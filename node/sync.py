"""Block sync bookkeeping: what height each peer has shown, which request is outstanding, and
how much one answer may carry. Pure of I/O: the router sends and delivers what this decides.

Peer heights are claims, trusted only as far as they are proven:

- a claim comes from the peer's own status message (it is an authenticated, allowlisted node)
  or from a consensus message whose signature the router verified; never from an unverified
  vote, so a junk vote at height 10^6 changes nothing;
- a claim expires unless repeated (status arrives every second), and a newer status replaces
  an older one, so a restarted peer's lower height counts;
- a peer that is asked for blocks it claims and does not deliver the first of them in time (or
  answers with none) is not believed for a while: its claims cannot keep ``catching_up`` true.

Requests: one at a time, to one peer, for a range. An answer counts only from the peer asked,
and only its blocks of the asked range, consecutive from its start; the next request starts
after the last block delivered (once the chain has executed it). Answers are capped in bytes
(below the frame limit of both sides, which the request carries) and always hold at least one
block: a full block fits in a frame by configuration (``[p2p].frame_bytes_max``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from node.gossip import SYNC_BLOCKS_MAX, BlocksRequest

PEER_HEIGHT_TTL_S = 5.0
"""A claim not repeated for this long is forgotten (status messages come every second)."""
UNPROVEN_DISTRUST_S = 15.0
"""How long a peer that failed to deliver blocks it claimed is not believed."""
SYNC_REQUEST_TIMEOUT_S = 3.0
"""An unanswered request is given up after this (and the peer distrusted)."""
BEHIND_BY_ONE_GRACE_S = 1.0
"""One height behind is normal for a moment (the commit's votes are on their way)."""
RESPONSE_ENVELOPE_BYTES = 1024
"""Room in a frame for the response's envelope beyond its blocks."""
PAIR_OVERHEAD_BYTES = 16
"""Encoding overhead of one (block, certificate) pair in a response."""


@dataclass(frozen=True, slots=True)
class Claim:
    height: int
    seen_at_s: float


@dataclass(frozen=True, slots=True)
class PendingRequest:
    peer: bytes
    start: int
    end: int
    sent_at_s: float


class SyncState:
    """Peers' proven-enough heights and the one outstanding block request."""

    def __init__(self, frame_bytes_max: int) -> None:
        self.frame_bytes_max = frame_bytes_max
        self._claims: dict[bytes, Claim] = {}
        self._distrusted_until: dict[bytes, float] = {}
        self.request: PendingRequest | None = None
        self._delivered_up_to = 0
        self._delivered_at_s = 0.0
        self._behind_since_s: float | None = None

    # -- claims ---------------------------------------------------------------------------------

    def on_claim(self, peer: bytes, height: int, now_s: float, *, is_status: bool) -> None:
        """``peer`` showed ``height``: by its status (replaces its claim) or by a verified
        consensus message (can only raise it)."""
        old = self._claims.get(peer)
        if not is_status and old is not None and now_s - old.seen_at_s < PEER_HEIGHT_TTL_S:
            height = max(height, old.height)
        self._claims[peer] = Claim(height, now_s)

    def get_heights(self, now_s: float) -> dict[bytes, int]:
        """Fresh claims of peers currently believed."""
        return {
            peer: claim.height
            for peer, claim in self._claims.items()
            if now_s - claim.seen_at_s < PEER_HEIGHT_TTL_S and not self._is_distrusted(peer, now_s)
        }

    def _is_distrusted(self, peer: bytes, now_s: float) -> bool:
        until = self._distrusted_until.get(peer)
        if until is None:
            return False
        if now_s >= until:
            del self._distrusted_until[peer]
            return False
        return True

    def distrust(self, peer: bytes, now_s: float) -> None:
        self._distrusted_until[peer] = now_s + UNPROVEN_DISTRUST_S
        self._claims.pop(peer, None)

    # -- requests -------------------------------------------------------------------------------

    def get_next_request(
        self, our_height: int, now_s: float, rotation: int
    ) -> tuple[bytes, BlocksRequest] | None:
        """The request to send now (and to whom), or None; records it as outstanding."""
        self._expire_request(now_s)
        heights = self.get_heights(now_s)
        target = max(heights.values(), default=0)
        if target <= our_height:
            self._behind_since_s = None
            return None
        if self._behind_since_s is None:
            self._behind_since_s = now_s
        if target == our_height + 1 and now_s - self._behind_since_s < BEHIND_BY_ONE_GRACE_S:
            return None
        if self.request is not None or self._is_executing(our_height, now_s):
            return None
        start = our_height + 1
        peers = sorted(peer for peer, height in heights.items() if height >= start)
        peer = peers[rotation % len(peers)]  # spread the load across the peers that have it
        count = min(SYNC_BLOCKS_MAX, heights[peer] - start + 1)
        self.request = PendingRequest(peer, start, start + count - 1, now_s)
        return peer, BlocksRequest(start, count, self.frame_bytes_max)

    def _expire_request(self, now_s: float) -> None:
        request = self.request
        if request is not None and now_s - request.sent_at_s >= SYNC_REQUEST_TIMEOUT_S:
            self.request = None
            self.distrust(request.peer, now_s)

    def _is_executing(self, our_height: int, now_s: float) -> bool:
        """Blocks delivered by the last answer are still being executed."""
        return (
            self._delivered_up_to > our_height
            and now_s - self._delivered_at_s < SYNC_REQUEST_TIMEOUT_S
        )

    def cancel_request(self) -> None:
        """The request could not be sent."""
        self.request = None

    def is_answer_expected_from(self, peer: bytes) -> bool:
        return self.request is not None and self.request.peer == peer

    def take_answer(self, peer: bytes, heights: list[int], now_s: float) -> int:
        """``peer`` answered with blocks of ``heights``: how many of them (from the first) to
        use, 0 if none. Only the asked peer's blocks of the asked range count, consecutive from
        its start; a peer that answers with none of them is distrusted."""
        request = self.request
        if request is None or peer != request.peer:
            return 0
        self.request = None
        used = 0
        for index, height in enumerate(heights):
            if height != request.start + index or height > request.end:
                break
            used = index + 1
        if used == 0:
            self.distrust(peer, now_s)
            return 0
        self._delivered_up_to = request.start + used - 1
        self._delivered_at_s = now_s
        return used


def select_response_blocks(
    pairs: Iterable[tuple[bytes, bytes]], request: BlocksRequest, frame_bytes_max: int
) -> list[tuple[bytes, bytes]]:
    """The blocks of one answer: as many as fit below both sides' frame limits, at least one
    (a single block too large for a frame is the caller's to report)."""
    limit = frame_bytes_max if request.bytes_max == 0 else min(request.bytes_max, frame_bytes_max)
    budget = limit - RESPONSE_ENVELOPE_BYTES
    chosen: list[tuple[bytes, bytes]] = []
    size = 0
    for block, certificate in pairs:
        cost = len(block) + len(certificate) + PAIR_OVERHEAD_BYTES
        if chosen and size + cost > budget:
            break
        chosen.append((block, certificate))
        size += cost
    return chosen
