"""Node wire formats: the gossip envelope and WAL event records round-trip and reject garbage."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.codec import CodecError, encode
from consensus.crypto import PrivateKey, SignPurpose
from consensus.events import TimeoutElapsed, VoteReceived
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.round_step import Timer
from consensus.types import ChainId, Hash32, Height, Round, ValidatorIndex
from node.gossip import (
    SYNC_BLOCKS_MAX,
    TX_BATCH_MAX,
    BlocksRequest,
    BlocksResponse,
    ConsensusPayload,
    StatusPayload,
    TxBatch,
    decode_gossip,
    encode_gossip,
)
from node.statesync.messages import AnchorResponse
from node.wal_events import decode_event, encode_event, is_logged

CHAIN = ChainId("depochain-test")
KEY = PrivateKey(bytes([7]) * 32)


def make_vote(height: int = 3, round_: int = 1) -> Vote:
    block_hash = Hash32(bytes([9]) * 32)
    payload = compute_vote_sign_payload(VoteType.PREVOTE, Height(height), Round(round_), block_hash)
    signature = KEY.sign(SignPurpose.VOTE, CHAIN, payload)
    return Vote(
        VoteType.PREVOTE,
        Height(height),
        Round(round_),
        block_hash,
        ValidatorIndex(0),
        KEY.public_key,
        signature,
    )


@pytest.mark.parametrize(
    "payload",
    [
        TxBatch((b"a", b"bc")),
        StatusPayload(42),
        BlocksRequest(5, 3),
        BlocksRequest(5, 3, 4 << 20),
        BlocksResponse(((b"block", b"cert"),)),
        # the longest frame: a state sync anchor with the leader window's headers
        AnchorResponse(7, b"block", b"cert", b"results", b"header", b"cert 8", b"set", b"window"),
    ],
)
def test_gossip_round_trip(payload: object) -> None:
    assert decode_gossip(encode_gossip(payload)) == payload  # type: ignore[arg-type]


def test_consensus_payload_round_trip() -> None:
    vote = make_vote()
    decoded = decode_gossip(encode_gossip(ConsensusPayload(vote)))
    assert isinstance(decoded, ConsensusPayload)
    assert decoded.message == vote


@pytest.mark.parametrize(
    "bad",
    [
        [99, b"x"],
        [2],
        [2, [b"t"] * (TX_BATCH_MAX + 1)],
        [4, 1, SYNC_BLOCKS_MAX + 1],
        [4, 1, 0],
        [5, [[b"only-one"]]],
        [1, b"\x00garbage"],
        "not a list",
    ],
)
def test_gossip_rejects_malformed(bad: object) -> None:
    with pytest.raises(CodecError):
        decode_gossip(encode(bad))


@given(st.binary(max_size=300))
def test_gossip_garbage_raises_only_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode_gossip(data)


def test_wal_events_round_trip() -> None:
    for event in (
        VoteReceived(make_vote()),
        TimeoutElapsed(Height(4), Round(2), Timer.PREVOTE_WAIT),
    ):
        assert is_logged(event)
        assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize("bad", [[], [9, 1], [4, 1, 2, 999], [2, "vote"]])
def test_wal_events_reject_unknown_records(bad: object) -> None:
    with pytest.raises(CodecError):
        decode_event(encode(bad))
