"""The headers of the last blocks that leader skipping reads, wherever this node keeps them.

Round 0's proposer of height ``h + 1`` depends on the last ``WINDOW_MAX`` committed blocks
(:mod:`consensus.leader`): who proposed them and whose precommits their headers carry. A node
that started from genesis has them all in its block store. A node that joined by state sync at
height ``S`` stores blocks from ``S`` only, so the snapshot's anchor also brings the headers of
the ``WINDOW_MAX - 1`` blocks before ``S``; they are proved by the parent-hash chain down from the
certified block ``S`` (nothing else is needed: a header's hash covers everything in it), and
kept in one metadata record. Without them the joiner would name the plain rotation's proposer
for ``W`` heights while everyone else skips.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus import codec
from consensus.blocks import Block, Header
from consensus.leader import WINDOW_MAX
from node.errors import NodeError
from node.storage import Store
from node.storage.install import WINDOW_HEADERS_META


class WindowHeadersError(NodeError, ValueError):
    """Window headers that do not chain down from the block they came with."""


def encode_headers(headers: Sequence[Header]) -> bytes:
    return codec.encode([h.to_wire() for h in headers])


def decode_headers(raw: bytes) -> tuple[Header, ...]:
    """CodecError (a ValueError) if ``raw`` is not a list of headers."""
    return codec.expect_list_of(codec.decode(raw), "headers", Header.from_wire, WINDOW_MAX)


def get_window_first_height(height: int) -> int:
    """The lowest height of the window that ends with block ``height`` (its last
    ``WINDOW_MAX`` blocks)."""
    return max(1, height - WINDOW_MAX + 1)


def read_headers(store: Store, first: int, last: int, base_height: int) -> list[Header] | None:
    """Headers ``first .. last`` from the block store, or from the record below the base
    height; None if this node lacks any of them."""
    below = _read_record(store) if first < base_height else {}
    headers = []
    for height in range(first, last + 1):
        if height >= base_height:
            raw = store.get_block(height)
            header = None if raw is None else Block.decode(raw).header
        else:
            header = below.get(height)
        if header is None:
            return None
        headers.append(header)
    return headers


def _read_record(store: Store) -> dict[int, Header]:
    raw = store.get_meta(WINDOW_HEADERS_META)
    return {} if raw is None else {h.height: h for h in decode_headers(raw)}


def verify_window_headers(headers: Sequence[Header], block: Block) -> None:
    """``headers`` are exactly the window below ``block`` (heights from
    :func:`get_window_first_height` to ``block.height - 1``), each the parent of the next and
    the last ``block``'s parent."""
    first = get_window_first_height(block.height)
    expected = list(range(first, block.height)) if block.height > 1 else []
    if [h.height for h in headers] != expected:
        raise WindowHeadersError(f"window headers of heights {first}..{block.height - 1} needed")
    children = [*headers[1:], block.header]
    for header, child in zip(headers, children, strict=True):
        if header.hash != child.parent_hash:
            raise WindowHeadersError(f"header {header.height} is not block {child.height}'s parent")
