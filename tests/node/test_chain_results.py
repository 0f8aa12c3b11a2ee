"""A block's receipts are encoded once at commit, for both the stored results and the results
root: the stored bytes must be exactly ``encode_receipts`` of the receipts, and the root the
next header carries exactly ``compute_receipts_hash`` of them, also after a reopen."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.ledger import encode_receipts
from consensus.ledger.commitment import compute_receipts_hash
from consensus.ledger.txs import Transfer
from consensus.types import Height
from node.chain import Chain, join_encoded_list
from node.storage import LevelDBStore
from tests.consensus.ledger import world
from tests.node.ledger_blocks import PAYERS, _certify, _make_block, make_genesis

leaf = (
    st.none() | st.booleans() | st.integers(0, 2**40) | st.binary(max_size=8) | st.text(max_size=8)
)
values = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


@given(st.lists(values, max_size=40))
def test_joined_items_are_the_encoded_list(items: list[codec.Value]) -> None:
    assert join_encoded_list([codec.encode(item) for item in items]) == codec.encode(items)


def test_joined_lists_at_the_header_size_boundaries() -> None:
    for count in (0, 15, 16, 65_535, 65_536):
        items = [[index % 7, b"r"] for index in range(count)]
        assert join_encoded_list([codec.encode(i) for i in items]) == codec.encode(items)


def test_stored_results_and_results_root_match_the_receipts(tmp_path: Path) -> None:
    factory = world.TxFactory()
    store = LevelDBStore(tmp_path / "store")
    chain = Chain(make_genesis(), store)
    for height in (1, 2):
        txs = tuple(  # the last transfer is far beyond the payer's balance: a failed receipt
            factory.raw(payer, Transfer(PAYERS[1 - i % 2], "BANKA:USD", amount))
            for i, (payer, amount) in enumerate(
                [(PAYERS[0], 5), (PAYERS[1], 7), (PAYERS[0], 10**15)]
            )
        )
        block = _make_block(chain, Height(height), txs)
        committed = chain.commit(block, _certify(chain, block))
        assert not committed.receipts[-1].is_ok and committed.receipts[0].is_ok
        assert store.get_results(height) == encode_receipts(committed.receipts)
        assert committed.results_hash == compute_receipts_hash(committed.receipts)
        assert chain.last_results_hash == committed.results_hash
    store.close()
    reopened_store = LevelDBStore(tmp_path / "store")
    try:
        reopened = Chain(make_genesis(), reopened_store)
        assert reopened.last_results_hash == chain.last_results_hash
    finally:
        reopened_store.close()
