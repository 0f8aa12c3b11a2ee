"""The network envelope of consensus messages: ``[tag, body]`` in canonical msgpack.

Everything the replicas gossip (proposals, votes, evidence) travels through
:func:`encode_message` / :func:`decode_message`, bounded in size; the decoder raises only
``CodecError``.
"""

from __future__ import annotations

import enum

from consensus import codec
from consensus.messages import MESSAGE_BYTES_MAX, DuplicateVoteEvidence, Vote
from consensus.proposal import Proposal

Message = Proposal | Vote | DuplicateVoteEvidence


class MessageTag(enum.IntEnum):
    PROPOSAL = 1
    VOTE = 2
    EVIDENCE = 3


_TAGS: dict[type, MessageTag] = {
    Proposal: MessageTag.PROPOSAL,
    Vote: MessageTag.VOTE,
    DuplicateVoteEvidence: MessageTag.EVIDENCE,
}


def encode_message(message: Message) -> bytes:
    """``[tag, body]`` in canonical msgpack."""
    return codec.encode([int(_TAGS[type(message)]), message.to_wire()])


def decode_message(data: bytes, max_bytes: int = MESSAGE_BYTES_MAX) -> Message:
    """Strict inverse of :func:`encode_message`; raises only ``CodecError``."""
    tag, body = codec.expect_fields(codec.decode(data, max_bytes), "message", 2)
    kind = codec.expect_int(tag, "message_tag", 1, len(MessageTag))
    if kind == MessageTag.PROPOSAL:
        return Proposal.from_wire(body)
    if kind == MessageTag.VOTE:
        return Vote.from_wire(body)
    return DuplicateVoteEvidence.from_wire(body)
