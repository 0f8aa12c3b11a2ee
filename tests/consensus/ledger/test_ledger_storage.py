"""The ledger state round-trips through the real LevelDB store: commit each block's
``state_changes`` (block 1 also carries the genesis KV), reopen,
``State.from_kv(store.iter_state())``, and continue identically."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

from consensus.crypto import sha256
from consensus.ledger import BlockResult, State, encode_receipts, execute_block
from consensus.ledger.txs import Freeze, Mint, Transfer
from node.storage import BlockWrite, LevelDBStore

from .world import GENESIS_TIME_MS, TxFactory, genesis_state


def _write(
    height: int, raws: list[bytes], changes: Mapping[bytes, bytes | None], result: BlockResult
) -> BlockWrite:
    return BlockWrite(
        height=height,
        block=b"".join(raws),
        certificate=b"\x90",
        results=encode_receipts(result.receipts),
        tx_hashes=[sha256(raw) for raw in raws],
        state_changes=changes,
        app_hash=result.app_hash,
    )


def test_state_survives_a_restart_through_leveldb(tmp_path: pathlib.Path) -> None:
    genesis, f = genesis_state(), TxFactory()
    blocks = [
        [f.raw("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 10))],
        [f.raw("BANKA", Mint("BANKA/bob", "BANKA:USD", 5, "f")), b"junk"],
        [
            f.raw("BANKA/bob", Transfer("BANKA/alice", "BANKA:USD", 10_005))
        ],  # bob's balance -> 0: deleted
        [f.raw("REG", Freeze("BANKA/alice", False, "BANKA:USD", 3, "court"))],
    ]
    state = genesis
    with LevelDBStore(tmp_path / "db") as store:
        for height, raws in enumerate(blocks, start=1):
            result = execute_block(state, raws, height, GENESIS_TIME_MS + height)
            changes = dict(result.state_changes)
            if height == 1:  # the store starts empty: the first block also writes genesis
                changes = {**dict(genesis.items()), **changes}
            store.commit_block(_write(height, raws, changes, result))
            state = result.state

    with LevelDBStore(tmp_path / "db", create=False) as reopened:
        rebuilt = State.from_kv(reopened.iter_state())
        assert rebuilt.to_kv() == state.to_kv()
        assert rebuilt.app_hash == state.app_hash == reopened.get_app_hash(len(blocks))
        assert rebuilt.height == len(blocks)
    raw = f.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))
    a = execute_block(state, [raw], 5, GENESIS_TIME_MS + 5)
    b = execute_block(rebuilt, [raw], 5, GENESIS_TIME_MS + 5)
    assert a.app_hash == b.app_hash and a.receipts == b.receipts
