"""The joining node's P2P conversation: send a request to one peer and wait for ITS answer.

An answer counts only if it comes from the peer that was asked and matches the question (same
kind, height and chunk index); anything else — an answer nobody asked for, one from another
peer, a late one after the timeout — is dropped and counted. Offers of snapshots are gathered
from every peer during discovery. Everything else peers send (consensus, status, txs) is
ignored: this node has no chain yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from consensus.codec import CodecError
from node.gossip import decode_gossip, encode_gossip
from node.statesync.messages import (
    AnchorRequest,
    AnchorResponse,
    ChunkRequest,
    ChunkResponse,
    SnapshotsRequest,
    SnapshotsResponse,
)

log = logging.getLogger("depochain.statesync")

Question = tuple[bytes, str, int, int]
"""(peer, kind, height, index) of an outstanding request."""


class Asker:
    """Requests to peers and their answers; ``send`` is the network's."""

    def __init__(self, send: Callable[[bytes, bytes], bool], broadcast: Callable[[bytes], int]):
        self._send = send
        self._broadcast = broadcast
        self._waiting: dict[Question, asyncio.Future[AnchorResponse | ChunkResponse]] = {}
        self.offers: dict[bytes, tuple[bytes, ...]] = {}
        """Each peer's latest list of encoded manifests."""
        self.unsolicited = 0
        self.undecodable = 0

    async def on_message(self, sender: bytes, payload: bytes) -> None:
        try:
            message = decode_gossip(payload)
        except CodecError:
            self.undecodable += 1
            return
        if isinstance(message, SnapshotsResponse):
            self.offers[sender] = message.manifests
        elif isinstance(message, AnchorResponse):
            self._deliver((sender, "anchor", message.height, 0), message)
        elif isinstance(message, ChunkResponse):
            self._deliver((sender, "chunk", message.height, message.index), message)

    def _deliver(self, question: Question, answer: AnchorResponse | ChunkResponse) -> None:
        future = self._waiting.pop(question, None)
        if future is None or future.done():
            self.unsolicited += 1
            return
        future.set_result(answer)

    def ask_snapshots(self) -> int:
        """Ask every connected peer for its snapshots; how many were asked."""
        return self._broadcast(encode_gossip(SnapshotsRequest()))

    async def ask_anchor(self, peer: bytes, height: int, timeout_s: float) -> AnchorResponse | None:
        answer = await self._ask(peer, ("anchor", height, 0), AnchorRequest(height), timeout_s)
        return answer if isinstance(answer, AnchorResponse) else None

    async def ask_chunk(
        self, peer: bytes, height: int, index: int, timeout_s: float
    ) -> ChunkResponse | None:
        request = ChunkRequest(height, index)
        answer = await self._ask(peer, ("chunk", height, index), request, timeout_s)
        return answer if isinstance(answer, ChunkResponse) else None

    async def _ask(
        self,
        peer: bytes,
        what: tuple[str, int, int],
        request: AnchorRequest | ChunkRequest,
        timeout_s: float,
    ) -> AnchorResponse | ChunkResponse | None:
        question = (peer, *what)
        future: asyncio.Future[AnchorResponse | ChunkResponse]
        future = asyncio.get_running_loop().create_future()
        self._waiting[question] = future
        try:
            if not self._send(peer, encode_gossip(request)):
                return None
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(question, None)
