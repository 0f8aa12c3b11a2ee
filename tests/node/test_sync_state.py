"""node.sync and the byte caps of gossip: what a peer can make us believe about heights, which
answers count, and how much one frame carries (sync answers, tx batches)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.gossip import (
    TX_BATCH_MAX,
    BlocksRequest,
    BlocksResponse,
    TxBatch,
    encode_gossip,
    split_tx_batches,
)
from node.sync import (
    PEER_HEIGHT_TTL_S,
    SYNC_REQUEST_TIMEOUT_S,
    UNPROVEN_DISTRUST_S,
    SyncState,
    select_response_blocks,
)

A, B = b"a" * 32, b"b" * 32
FRAME = 1 << 20


def test_a_claim_expires_unless_repeated() -> None:
    sync = SyncState(FRAME)
    sync.on_claim(A, 50, 0.0, is_status=True)
    assert sync.get_heights(1.0) == {A: 50}
    assert sync.get_heights(PEER_HEIGHT_TTL_S + 0.1) == {}


def test_a_status_replaces_an_older_higher_claim() -> None:
    sync = SyncState(FRAME)
    sync.on_claim(A, 50, 0.0, is_status=False)
    sync.on_claim(A, 7, 1.0, is_status=True)
    assert sync.get_heights(1.0) == {A: 7}


def test_a_peer_that_does_not_deliver_what_it_claims_is_not_believed_for_a_while() -> None:
    sync = SyncState(FRAME)
    sync.on_claim(A, 1_000_000, 0.0, is_status=True)
    chosen = sync.get_next_request(10, 0.0, 0)
    assert chosen is not None and chosen[0] == A
    sync.on_claim(A, 1_000_000, SYNC_REQUEST_TIMEOUT_S, is_status=True)  # repeated, unproven
    assert sync.get_next_request(10, SYNC_REQUEST_TIMEOUT_S, 0) is None  # request expired
    assert sync.get_heights(SYNC_REQUEST_TIMEOUT_S + 1) == {}
    later = SYNC_REQUEST_TIMEOUT_S + UNPROVEN_DISTRUST_S + 1
    sync.on_claim(A, 12, later, is_status=True)
    assert sync.get_heights(later) == {A: 12}


def test_only_the_asked_peer_and_the_asked_range_count() -> None:
    sync = SyncState(FRAME)
    sync.on_claim(A, 30, 0.0, is_status=True)
    peer, request = sync.get_next_request(10, 0.0, 0) or (b"", None)
    assert peer == A and request == BlocksRequest(11, 20, FRAME)
    assert not sync.is_answer_expected_from(B)
    assert sync.take_answer(B, [11, 12], 0.5) == 0
    assert sync.is_answer_expected_from(A)  # B's answer did not cancel A's request
    assert sync.take_answer(A, [11, 12, 14], 0.5) == 2  # stops at the gap
    assert sync.request is None


def test_the_next_request_starts_after_what_was_delivered_once_it_is_executed() -> None:
    sync = SyncState(FRAME)
    sync.on_claim(A, 30, 0.0, is_status=True)
    assert sync.get_next_request(10, 0.0, 0) is not None
    assert sync.take_answer(A, [11, 12, 13], 0.1) == 3
    assert sync.get_next_request(11, 0.2, 0) is None  # 12 and 13 still being executed
    chosen = sync.get_next_request(13, 0.3, 0)
    assert chosen is not None and chosen[1].from_height == 14


def test_an_empty_answer_distrusts_the_peer() -> None:
    sync = SyncState(FRAME)
    sync.on_claim(A, 30, 0.0, is_status=True)
    assert sync.get_next_request(10, 0.0, 0) is not None
    assert sync.take_answer(A, [], 0.1) == 0
    assert sync.get_heights(0.2) == {}


@given(
    sizes=st.lists(st.integers(1, 300_000), min_size=1, max_size=20),
    requester_max=st.sampled_from([0, 200_000, 1 << 20]),
)
def test_an_answer_fits_both_frames_and_holds_at_least_one_block(
    sizes: list[int], requester_max: int
) -> None:
    frame = 512 * 1024
    pairs = [(b"x" * size, b"c" * 100) for size in sizes]
    chosen = select_response_blocks(iter(pairs), BlocksRequest(1, 20, requester_max), frame)
    assert chosen == pairs[: len(chosen)] and len(chosen) >= 1
    limit = min(frame, requester_max or frame)
    if len(chosen) > 1 or sizes[0] + 200 < limit:
        assert len(encode_gossip(BlocksResponse(tuple(chosen)))) <= limit


@given(
    sizes=st.lists(st.integers(1, 8 * 1024), max_size=3000),
    frame=st.integers(16 * 1024, 4 << 20),
)
def test_tx_batches_fit_a_frame_keep_order_and_lose_nothing(sizes: list[int], frame: int) -> None:
    txs = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    batches, too_large = split_tx_batches(txs, frame)
    assert too_large == 0 and [tx for batch in batches for tx in batch] == txs
    for batch in batches:
        assert len(batch) <= TX_BATCH_MAX
        assert len(encode_gossip(TxBatch(tuple(batch)))) <= frame
