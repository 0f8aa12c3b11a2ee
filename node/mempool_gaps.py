"""A full mempool still takes the transaction that fills its submitter's nonce gap.

A batch answered in pieces (a block may commit between its transactions) can leave nonce n
refused as "full" while n+1.. were admitted; once the pool is full of such gapped transactions
no block can take any of them, and the submitter's retry of n is refused as "full" too. So a
full pool takes a transaction below its submitter's pending nonces in place of that submitter's
highest ones (never another submitter's): these functions decide, the mempool carries it out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from consensus.codec import CodecError
from consensus.ledger import decode_tx
from consensus.types import Hash32


def claims_a_gap(raw: bytes, nonces_of: Callable[[str], Mapping[int, Hash32]]) -> bool:
    """Whether ``raw`` names a nonce below its submitter's pending ones (decoded only: no
    signature is checked for a tx a full pool would refuse anyway)."""
    try:
        unsigned = decode_tx(raw).unsigned
    except CodecError:
        return False
    pending = nonces_of(unsigned.submitter)
    return bool(pending) and unsigned.nonce < max(pending) and unsigned.nonce not in pending


def choose_gap_room(
    pending: Mapping[int, Hash32],
    nonce: int,
    size_of: Callable[[Hash32], int],
    room: Callable[[int, int], bool],
) -> list[Hash32] | None:
    """The submitter's highest pending txs to drop so a tx of ``nonce`` fits (``room(txs,
    bytes)`` says whether it fits once that many txs and bytes are freed), or None if even
    all of those above ``nonce`` would not make room (then nothing is dropped)."""
    if nonce in pending:
        return None
    chosen: list[Hash32] = []
    freed = 0
    for higher in sorted((n for n in pending if n > nonce), reverse=True):
        if room(len(chosen), freed):
            break
        chosen.append(pending[higher])
        freed += size_of(pending[higher])
    return chosen if room(len(chosen), freed) else None
