"""The JSON-RPC ``status`` over a real in-memory chain: polled many times per block, it decodes
the first and latest blocks and looks up the validator set once per height, and still shows a
new block as soon as it is committed."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, cast

import pytest

from consensus.crypto import PrivateKey
from node.chain import Chain
from node.config import NodeConfig
from node.config.sections import NodeSection
from node.rpc.comet.methods import CometRoutes
from node.rpc.reads import ReadPool
from node.services import NodeServices
from tests.node.test_comet_shapes_index import _chain, _commit, _transfer


def _routes(chain: Chain, pool: ReadPool) -> CometRoutes:
    validator = chain.get_validators(1).validators[0].public_key
    services = type(
        "S",
        (),
        {
            "chain": chain,
            "config": NodeConfig(node=NodeSection(chain_id=chain.genesis.ledger.chain_id)),
            "genesis": chain.genesis,
            "node_key": PrivateKey(bytes(range(32))),
            "validator_public_key": validator,
            "is_catching_up": lambda: False,
        },
    )
    return CometRoutes(cast(NodeServices, services), pool)


def _status_three_times_a_height(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    reads: Counter[str] = Counter()
    get_block, get_validators = Chain.get_block, Chain.get_validators

    def counted_block(self: Chain, height: int) -> Any:
        reads["block"] += 1
        return get_block(self, height)

    def counted_validators(self: Chain, height: int) -> Any:
        reads["validators"] += 1
        return get_validators(self, height)

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pool = ReadPool(2, 8)
        try:
            routes = _routes(chain, pool)
            monkeypatch.setattr(Chain, "get_block", counted_block)
            monkeypatch.setattr(Chain, "get_validators", counted_validators)
            before = [await routes.status() for _ in range(3)]
            counted = reads.copy()
            _commit(chain, (_transfer("BANKA/alice", "BANKA/bob", 1, 2),))
            reads.clear()
            reads.update(counted)  # the commit's own reads are not the status's
            after = [await routes.status() for _ in range(3)]
            monkeypatch.undo()
            fresh = await _routes(chain, pool).status()
            assert after[-1] == fresh  # the memo answers what a first call answers
            return before, after
        finally:
            pool.close()

    before, after = asyncio.run(main())
    return before, after, reads


def test_status_reads_blocks_once_per_height_and_follows_commits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = _chain()
    _commit(chain, (_transfer("BANKA/alice", "BANKA/bob", 1, 1),))
    before, after, reads = _status_three_times_a_height(chain, monkeypatch)
    assert before[0] == before[1] == before[2]
    assert before[0]["sync_info"]["latest_block_height"] == "1"
    assert after[0]["sync_info"]["latest_block_height"] == "2"
    latest = chain.get_block(2)
    assert latest is not None
    assert after[0]["sync_info"]["latest_block_hash"] == latest.hash.hex().upper()
    assert after[0]["sync_info"]["latest_app_hash"] == chain.state.app_hash.hex().upper()
    assert after[0]["validator_info"]["voting_power"] != "0"
    assert reads == {"block": 4, "validators": 2}  # first + latest, and one set, per height
