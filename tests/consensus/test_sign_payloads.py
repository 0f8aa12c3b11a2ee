"""The signed payloads of votes and proposals, pinned byte for byte.

Every validator must put the same fields in the same order: a change that is consistent
within one build (say height and round swapped) still verifies its own signatures, so only
bytes written down independently of the code catch it. The expected bytes are spelled out by
hand from the msgpack format (fixarray 0x9N, positive fixint, bin8 0xc4 LEN, nil 0xc0, and
negative fixint 0xff for -1).
"""

from __future__ import annotations

from consensus.messages import VoteType, compute_vote_sign_payload
from consensus.proposal import compute_proposal_sign_payload

BLOCK_HASH = bytes(range(32))


def test_vote_payload_is_type_height_round_block_hash() -> None:
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, 7, 3, BLOCK_HASH)
    assert payload == bytes([0x94, 0x02, 0x07, 0x03, 0xC4, 0x20]) + BLOCK_HASH


def test_nil_prevote_payload() -> None:
    payload = compute_vote_sign_payload(VoteType.PREVOTE, 9, 0, None)
    assert payload == bytes([0x94, 0x01, 0x09, 0x00, 0xC0])


def test_proposal_payload_is_height_round_pol_round_block_hash() -> None:
    assert compute_proposal_sign_payload(5, 2, -1, BLOCK_HASH) == (
        bytes([0x94, 0x05, 0x02, 0xFF, 0xC4, 0x20]) + BLOCK_HASH
    )
    assert compute_proposal_sign_payload(5, 2, 1, BLOCK_HASH)[:4] == bytes([0x94, 0x05, 0x02, 0x01])
