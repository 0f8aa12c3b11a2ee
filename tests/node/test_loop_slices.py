"""A batch of transactions is admitted a slice at a time: the event loop (consensus, P2P, the
RPC's ``/health``) gets turns while a 600-tx gossip batch is admitted, and the batch is
admitted exactly as before, in order. Real assembled nodes (LevelDB, mempool, RPC on a socket)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from consensus.ledger.txs import Transfer
from node.gossip import TxBatch, encode_gossip
from node.loop_slices import LoopSlice
from tests.consensus.ledger.world import TxFactory
from tests.node.loop_turns import count_loop_turns
from tests.node.test_verify_pool import PAYEE, SUBMITTERS, pool_of, serving_nodes

NONCES = 200  # per submitter: within the nonce window (256)


def build_batch(factory: TxFactory) -> list[bytes]:
    return [
        factory.raw(s, Transfer(PAYEE[s], s.split("/")[0] + ":USD", 1), nonce=n)
        for n in range(1, NONCES + 1)
        for s in SUBMITTERS
    ]


def test_a_gossip_batch_lets_the_loop_run(tmp_path: Path) -> None:
    factory = TxFactory()
    batch = build_batch(factory)

    async def scenario() -> None:
        async with serving_nodes(tmp_path) as nodes:
            (inline, _), _ = nodes  # signatures checked on the loop: no thread to wait for
            payload = encode_gossip(TxBatch(tuple(batch)))
            turns = await count_loop_turns(
                functools.partial(inline.router.on_message, b"peer", payload)
            )
            assert turns >= 3, f"the loop got {turns} turns during a {len(batch)}-tx batch"
            expected = {s: list(range(1, NONCES + 1)) for s in SUBMITTERS}
            assert pool_of(inline) == expected

    asyncio.run(scenario())


def test_a_slice_yields_only_once_its_time_is_up() -> None:
    async def scenario() -> tuple[int, int]:
        every, never = LoopSlice(0.0), LoopSlice(3600.0)
        for _ in range(5):
            await every.pause_if_due()
            await never.pause_if_due()
        return every.yields, never.yields

    assert asyncio.run(scenario()) == (5, 0)
