"""Byzantine behaviours: how a faulty validator's outgoing traffic differs from an honest one's.

A Byzantine node (except SILENT) runs a real replica, so it follows the protocol closely enough
to be dangerous; this module rewrites what that replica sends. Forged messages are signed with
the validator's key directly (bypassing ``safety.py``, which an attacker would not run). The
honest replicas' own safety module is never touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from consensus import codec
from consensus.blocks import Block
from consensus.crypto import PrivateKey, SignPurpose, merkle_root
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.simulation.faults import Behaviour
from consensus.simulation.network import NodeId
from consensus.simulation.prng import Prng
from consensus.types import (
    ChainId,
    Hash32,
    Height,
    Round,
    Signature,
    TimestampMs,
    ValidatorIndex,
)
from consensus.wire import Message, encode_message

REPLAY_MEMORY_MAX = 256
"""A replayer remembers this many past messages (bounded like everything else)."""


def sign_vote(
    key: PrivateKey,
    chain_id: ChainId,
    vote_type: VoteType,
    height: int,
    round_: int,
    block_hash: Hash32 | None,
    index: int,
) -> Vote:
    """A vote a Byzantine key signs for whatever it likes (no safety guard in the way)."""
    payload = compute_vote_sign_payload(vote_type, height, round_, block_hash)
    signature = key.sign(SignPurpose.VOTE, chain_id, payload)
    return Vote(
        vote_type,
        Height(height),
        Round(round_),
        block_hash,
        ValidatorIndex(index),
        key.public_key,
        signature,
    )


def forge_vote(key: PrivateKey, chain_id: ChainId, vote: Vote, block_hash: Hash32 | None) -> Vote:
    """The same vote slot signed for a different block: a double vote."""
    payload = compute_vote_sign_payload(vote.type, vote.height, vote.round, block_hash)
    signature = key.sign(SignPurpose.VOTE, chain_id, payload)
    return dataclasses.replace(vote, block_hash=block_hash, signature=signature)


def forge_block(block: Block) -> Block:
    """A well-formed block for the same slot with different contents (drop a tx, shift time)."""
    txs = block.txs[:-1] if block.txs else block.txs
    header = dataclasses.replace(
        block.header, time_ms=TimestampMs(block.header.time_ms + 1), txs_root=merkle_root(txs)
    )
    return dataclasses.replace(block, header=header, txs=txs)


def forge_proposal(
    key: PrivateKey, chain_id: ChainId, proposal: Proposal, pol_round: int | None = None
) -> Proposal:
    """A second, conflicting proposal for the same (height, round), optionally claiming another
    proof-of-lock round (-1: a fresh block, as if the proposer had never seen a polka)."""
    block = forge_block(proposal.block)
    pol = proposal.pol_round if pol_round is None else pol_round
    payload = compute_proposal_sign_payload(proposal.height, proposal.round, pol, block.hash)
    signature = key.sign(SignPurpose.PROPOSAL, chain_id, payload)
    return dataclasses.replace(proposal, block=block, pol_round=pol, signature=signature)


def corrupt(message: Message, prng: Prng) -> bytes:
    """A message whose signature does not cover its content, or plain garbage."""
    choice = prng.below(4)
    if choice == 0 and isinstance(message, Vote):
        other = None if message.block_hash is not None else Hash32(prng.bytes(32))
        return encode_message(dataclasses.replace(message, block_hash=other))
    if choice == 1 and isinstance(message, Vote | Proposal):
        flipped = bytearray(message.signature)
        flipped[prng.below(len(flipped))] ^= 1 << prng.below(8)
        return encode_message(dataclasses.replace(message, signature=Signature(bytes(flipped))))
    encoded = encode_message(message)
    if choice == 2:
        return encoded[: prng.below(len(encoded))]
    return codec.encode([prng.between(0, 5), prng.bytes(prng.below(64))])


class ByzantineOutbox:
    """Rewrites one Byzantine node's outgoing messages according to its behaviour."""

    __slots__ = ("_chain_id", "_key", "_memory", "_prng", "behaviour")

    def __init__(self, behaviour: Behaviour, key: PrivateKey, chain_id: ChainId, prng: Prng):
        self.behaviour = behaviour
        self._key = key
        self._chain_id = chain_id
        self._prng = prng
        self._memory: list[bytes] = []

    def route(self, message: Message, peers: Sequence[NodeId]) -> list[tuple[NodeId, bytes]]:
        """Who gets which bytes when this node's replica broadcasts ``message`` to ``peers``."""
        honest = encode_message(message)
        behaviour = self.behaviour
        if behaviour is Behaviour.SILENT:
            return []
        if behaviour is Behaviour.EQUIVOCATING_PROPOSER and isinstance(message, Proposal):
            return self._split(peers, honest, encode_message(self._forge_proposal(message)))
        if behaviour is Behaviour.DOUBLE_VOTER and isinstance(message, Vote):
            return self._split(peers, honest, encode_message(self._forge_vote(message)))
        sends = [(peer, honest) for peer in peers]
        if behaviour is Behaviour.INVALID_SIGNATURES:
            sends.extend((peer, corrupt(message, self._prng)) for peer in peers)
        if behaviour is Behaviour.ROUND_RUSHER and isinstance(message, Vote):
            rushed = encode_message(self._forge_future_vote(message))
            sends.extend((peer, rushed) for peer in peers)
        return sends

    def remember(self, payload: bytes) -> None:
        """A replayer records traffic it sees, to send it again later when it is stale."""
        if self.behaviour is not Behaviour.REPLAYER:
            return
        if len(self._memory) >= REPLAY_MEMORY_MAX:
            self._memory[self._prng.below(REPLAY_MEMORY_MAX)] = payload
        else:
            self._memory.append(payload)

    def get_replays(self, peers: Sequence[NodeId], count: int) -> list[tuple[NodeId, bytes]]:
        if self.behaviour is not Behaviour.REPLAYER or not self._memory or not peers:
            return []
        return [(self._prng.choice(peers), self._prng.choice(self._memory)) for _ in range(count)]

    def _split(
        self, peers: Sequence[NodeId], first: bytes, second: bytes
    ) -> list[tuple[NodeId, bytes]]:
        order = self._prng.shuffled(peers)
        cut = self._prng.between(0, len(order))
        return [(peer, first if i < cut else second) for i, peer in enumerate(order)]

    def _forge_proposal(self, proposal: Proposal) -> Proposal:
        pol_round = -1 if proposal.pol_round >= 0 and self._prng.chance_ppm(500_000) else None
        return forge_proposal(self._key, self._chain_id, proposal, pol_round)

    def _forge_future_vote(self, vote: Vote) -> Vote:
        ahead = Round(vote.round + self._prng.between(1, 3))
        block_hash = None if self._prng.chance_ppm(500_000) else Hash32(self._prng.bytes(32))
        payload = compute_vote_sign_payload(vote.type, vote.height, ahead, block_hash)
        signature = self._key.sign(SignPurpose.VOTE, self._chain_id, payload)
        return dataclasses.replace(vote, round=ahead, block_hash=block_hash, signature=signature)

    def _forge_vote(self, vote: Vote) -> Vote:
        other: Hash32 | None = None
        if vote.block_hash is None:
            other = Hash32(self._prng.bytes(32))
        return forge_vote(self._key, self._chain_id, vote, other)
