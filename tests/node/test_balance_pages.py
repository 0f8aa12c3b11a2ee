"""The paging behind the proof of liabilities, on real trees: the node's page walk
(``first_keys``) finds exactly the next keys of a range, and slices cut where it says tile the
range, so verifying every page proves the whole list of an instrument's balances and nothing
of another instrument's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consensus.ledger.commitment import instrument_balances_range
from consensus.merkle import NodeCache, StateTree, build_tree, prove_range, verify_range
from node.rpc.rest.proofs import first_keys

INSTRUMENTS = ("A:USD", "A:US", "B:USD")
"""``A:US`` is a byte prefix of ``A:USD``: their balances must not mix."""

accounts = st.text(alphabet="ab/\x01", min_size=1, max_size=4)
balances = st.sets(st.tuples(st.sampled_from(INSTRUMENTS), accounts), max_size=40)
others = st.sets(st.binary(min_size=1, max_size=4), max_size=20)


def make_items(chosen: set[tuple[str, str]], extra: set[bytes]) -> dict[bytes, bytes]:
    items = {b"B" + iid.encode() + b"\x00" + acct.encode(): acct.encode() for iid, acct in chosen}
    items.update({key: b"x" for key in extra if not key.startswith(b"B")})
    return items


@given(balances, others, st.binary(max_size=3), st.binary(max_size=3), st.integers(1, 8))
def test_first_keys_are_the_next_keys_of_the_range(
    chosen: set[tuple[str, str]], extra: set[bytes], lo: bytes, hi: bytes, count: int
) -> None:
    items = make_items(chosen, extra)
    tree = build_tree(sorted(items.items()), 1)
    expected = [key for key in sorted(items) if lo <= key < hi][:count]
    assert first_keys(tree, lo, hi, count) == expected


@given(balances, others, st.sampled_from(INSTRUMENTS), st.integers(1, 5))
def test_pages_tile_the_instrument_range(
    chosen: set[tuple[str, str]], extra: set[bytes], instrument: str, limit: int
) -> None:
    items = make_items(chosen, extra)
    tree = build_tree(sorted(items.items()), 1)
    range_lo, range_hi = instrument_balances_range(instrument)
    lo, proven = range_lo, []
    while True:  # the node's cut (as in ProofRoutes.list_balances), then the client's check
        keys = first_keys(tree, lo, range_hi, limit + 1)
        hi = keys[limit] if len(keys) > limit else range_hi
        page = verify_range(tree.root_hash, lo, hi, prove_range(tree, lo, hi))
        assert len(page) == min(len(keys), limit)
        proven += page
        if hi == range_hi:
            break
        lo = hi
    holders = sorted(acct for iid, acct in chosen if iid == instrument)
    assert [value.decode() for _, value in proven] == holders


def test_a_page_loads_the_paths_to_it_not_the_range() -> None:
    """A page deep inside a large instrument costs about its own size times the depth, so
    paging 100,000 balances stays cheap per request."""
    items = {b"B" + b"A:USD\x00" + f"BANKA/c{i:05d}".encode(): b"v" for i in range(4096)}
    stored = build_tree(sorted(items.items()), 1).unpersisted()
    loaded: list[bytes] = []

    class CountingReader:
        def get(self, key: bytes) -> bytes | None:
            loaded.append(key)
            return stored.get(key)

    tree = StateTree.open(CountingReader(), 1, NodeCache())
    lo = b"BA:USD\x00BANKA/c03000"
    keys = first_keys(tree, lo, b"BA:USD\x01", 10)
    assert [key[-5:] for key in keys] == [f"{3000 + i:05d}".encode() for i in range(10)]
    assert len(loaded) <= 10 * 2 * 14  # 8,191 nodes in the tree; depth about 13
