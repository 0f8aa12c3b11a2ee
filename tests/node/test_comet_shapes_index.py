"""Unit tests of the CometBFT layer's pure parts: the query language, the event index over a
real (in-memory) chain, proof and event shapes, and the websocket connection's bounds."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.blocks import make_block
from consensus.crypto import (
    MerkleProof,
    merkle_proof,
    merkle_root,
    sha256,
    verify_merkle_proof,
)
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.messages import CommitCertificate
from consensus.types import ChainId, Hash32, Height, PublicKey, Round, TimestampMs
from node.chain import Chain
from node.home import ChainGenesis, genesis_to_json
from node.localnet import plan as localnet_plan
from node.rpc import websocket
from node.rpc.comet import index as comet_index
from node.rpc.comet import shapes as cj
from node.rpc.comet.index import EventIndex, from_position, to_position
from node.rpc.comet.query import Op, QueryError, parse_query
from node.rpc.jsonrpc import RPCError
from node.rpc.ws_fanout import FanoutStats, Outbox
from node.services import EventBus
from node.storage import MemoryStore

# -- query language ----------------------------------------------------------------------------


def test_query_parses_conditions_and_quoted_and() -> None:
    query = parse_query("tm.event='Tx' AND tx.height>=5 AND Transferred.memo='a AND b'")
    assert [(c.key, c.op) for c in query.conditions] == [
        ("tm.event", Op.EQ),
        ("tx.height", Op.GE),
        ("Transferred.memo", Op.EQ),
    ]
    assert query.event_type == "Tx"
    assert query.is_match({"tm.event": ["Tx"], "tx.height": ["7"], "Transferred.memo": ["a AND b"]})
    assert not query.is_match(
        {"tm.event": ["Tx"], "tx.height": ["4"], "Transferred.memo": ["a AND b"]}
    )


def test_query_operators() -> None:
    events = {"a.n": ["10"], "a.s": ["BANKA/alice"]}
    assert parse_query("a.n>9 AND a.n<11 AND a.n<=10 AND a.n=10").is_match(events)
    assert parse_query("a.s CONTAINS 'alice' AND a.s EXISTS").is_match(events)
    assert not parse_query("a.missing EXISTS").is_match(events)
    assert not parse_query("a.s>1").is_match(events)  # not a number: no match, no error


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "tm.event=NewBlock",
        "a.b >> 1",
        "a.b<'x'",
        "a.b CONTAINS 5",
        "x" * 600,
        " AND ".join(["a.b=1"] * 9),
        "a.b='unterminated",
    ],
)
def test_bad_queries_raise_query_error(text: str) -> None:
    with pytest.raises(QueryError):
        parse_query(text)


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    with contextlib.suppress(QueryError):
        parse_query(text)


# -- an index over a real chain ----------------------------------------------------------------

PLAN = localnet_plan.compute_plan(genesis_time_ms=1_700_000_000_000)
CHAIN_ID = ChainId(PLAN.chain_id)


def _chain() -> Chain:
    raw = genesis_to_json(PLAN.genesis, PLAN.params)
    return Chain(ChainGenesis(PLAN.genesis, PLAN.params, raw), MemoryStore())


def _transfer(payer: str, payee: str, amount: int, nonce: int) -> bytes:
    unsigned = UnsignedTx(
        CHAIN_ID,
        payer,
        nonce,
        f"k{nonce}-{amount}",
        ValidUntil(ValidUntilKind.HEIGHT, 10**6),
        "",
        Transfer(payee, f"{payer.split('/')[0]}:USD", amount),
    )
    return sign_tx(unsigned, [PLAN.account_keys[payer]]).encode()


def _commit(chain: Chain, txs: tuple[bytes, ...]) -> None:
    height = Height(chain.height + 1)
    parent = chain.get_block(chain.height)
    block = make_block(
        chain_id=CHAIN_ID,
        height=height,
        time_ms=TimestampMs(PLAN.genesis.genesis_time_ms + height),
        proposer=PublicKey(bytes(32)),
        parent_hash=parent.hash if parent else Hash32(bytes(32)),
        last_commit=chain.get_certificate(chain.height) if parent else None,
        app_hash=chain.state.app_hash,
        validators_hash=Hash32(bytes(32)),
        txs=txs,
    )
    certificate = CommitCertificate(height, Round(0), block.hash, ())
    chain.commit(block, certificate)


@pytest.fixture
def chain() -> Chain:
    chain = _chain()
    _commit(chain, (_transfer("BANKA/alice", "BANKA/bob", 5, 1),))
    _commit(chain, ())
    _commit(
        chain,
        (_transfer("BANKA/alice", "BANKA/bob", 7, 2), _transfer("BANKA/bob", "BANKA/alice", 9, 1)),
    )
    return chain


def _search(index: EventIndex, text: str) -> list[tuple[int, int]]:
    asyncio.run(index.catch_up())
    return [from_position(p) for p in index.search(parse_query(text))]


def test_index_answers_heights_attributes_hashes_and_residual_conditions(chain: Chain) -> None:
    index = EventIndex(chain)
    assert _search(index, "tx.height>=1") == [(1, 0), (3, 0), (3, 1)]
    assert _search(index, "tx.height=3") == [(3, 0), (3, 1)]
    assert _search(index, "tx.height>1 AND tx.height<3") == []
    assert _search(index, "Transferred.from_account='BANKA/alice'") == [(1, 0), (3, 0)]
    assert _search(index, "Transferred.from_account='BANKA/alice' AND tx.height=3") == [(3, 0)]
    assert _search(index, "Transferred.amount>6") == [(3, 0), (3, 1)]
    assert _search(index, "Transferred.amount=9") == [(3, 1)]
    block = chain.get_block(3)
    assert block is not None
    tx_hash = sha256(block.txs[1]).hex().upper()
    assert _search(index, f"tx.hash='{tx_hash}'") == [(3, 1)]
    assert _search(index, f"tx.hash='{tx_hash}' AND tx.height=1") == []
    assert _search(index, "tm.event='NewBlock'") == []
    assert index.get_block_height(block.hash) == 3


def test_index_follows_new_blocks_and_refuses_broad_unindexed_scans(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = EventIndex(chain)
    assert len(_search(index, "tx.height>=1")) == 3
    _commit(chain, (_transfer("BANKA/alice", "BANKA/bob", 1, 3),))
    assert _search(index, "tx.height=4") == [(4, 0)]
    monkeypatch.setattr(comet_index, "SCAN_MAX", 2)
    with pytest.raises(QueryError, match="more than 2 candidates"):
        _search(index, "Transferred.amount>0")


def test_index_evicts_the_oldest_transactions(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comet_index, "TXS_MAX", 2)
    index = EventIndex(chain)
    assert _search(index, "tx.height>=1") == [(3, 0), (3, 1)]
    assert index.first_height == 3
    assert _search(index, "Transferred.from_account='BANKA/alice'") == [(3, 0)]


def test_positions_round_trip() -> None:
    assert from_position(to_position(123_456, 9_999)) == (123_456, 9_999)


# -- shapes ---------------------------------------------------------------------------------------


def test_tx_proof_json_verifies_against_the_txs_root() -> None:
    txs = (b"a", b"bb", b"ccc")
    proof = merkle_proof(txs, 2)
    shaped = cj.tx_proof_json(b"\x01" * 32, txs[2], proof.index, proof.total, proof.aunts)
    assert shaped["proof"]["total"] == "3" and shaped["proof"]["index"] == "2"
    aunts = tuple(Hash32(base64.b64decode(a)) for a in shaped["proof"]["aunts"])
    assert verify_merkle_proof(merkle_root(txs), txs[2], MerkleProof(2, 3, aunts))


def test_time_and_address_shapes() -> None:
    assert cj.rfc3339(1_700_000_000_123) == "2023-11-14T22:13:20.123000000Z"
    assert cj.hex_upper(cj.address(b"\x00" * 32)) == sha256(b"\x00" * 32)[:20].hex().upper()
    assert cj.block_id_json(None) == {"hash": "", "parts": {"total": 0, "hash": ""}}


# -- websocket connection bounds ----------------------------------------------------------------


def _connection(hub: websocket.Hub | None = None) -> websocket.Connection:
    services = cast(Any, SimpleNamespace(bus=EventBus()))
    hub = hub or websocket.Hub.create(services)
    outbox = Outbox(hub.stats)
    return websocket.Connection(services, cast(Any, None), hub, cast(Any, None), outbox)


def test_connection_limits_subscriptions_per_client_and_per_node() -> None:
    async def run() -> None:
        connection = _connection()
        for n in range(websocket.SUBSCRIPTIONS_PER_CONNECTION_MAX):
            assert connection.subscribe(n, {"query": f"tx.height>{n}"}) == {}
        with pytest.raises(RPCError, match="max_subscriptions_per_client"):
            connection.subscribe("x", {"query": "tm.event='NewBlock'"})
        assert connection.hub.subscriptions == websocket.SUBSCRIPTIONS_PER_CONNECTION_MAX
        assert (
            len(connection.hub.fanout.subscriptions) == websocket.SUBSCRIPTIONS_PER_CONNECTION_MAX
        )
        connection.close_subscriptions()
        assert connection.hub.subscriptions == 0 and not connection.hub.fanout.subscriptions
        other = _connection()
        other.hub.subscriptions = websocket.SUBSCRIPTIONS_MAX
        with pytest.raises(RPCError, match="max_subscriptions 500"):
            other.subscribe(1, {"query": "tm.event='NewBlock'"})
        await connection.hub.fanout.stop()

    asyncio.run(run())


def test_a_slow_consumer_is_cut_off_by_bytes_and_its_queue_freed() -> None:
    async def run() -> None:
        outbox = Outbox(FanoutStats(), bytes_max=1000)
        body = b"x" * 300
        assert outbox.put(b"head", body) and outbox.put(b"head", body)
        assert outbox.put(b"head", body) and outbox.pending_bytes == 3 * 304
        assert not outbox.put(b"head", body)  # 1216 > 1000
        assert outbox.cut.is_set() and "1000 bytes" in (outbox.cut_reason or "")
        assert outbox.pending_bytes == 0 and not outbox.put(b"", b"y")

    asyncio.run(run())


def test_an_outbox_counts_every_message_not_only_their_number() -> None:
    async def run() -> None:
        outbox = Outbox(FanoutStats(), bytes_max=10_000)
        for _ in range(5_000):  # many small messages: fine by bytes
            assert outbox.put(b"", b"y")
        assert not outbox.put(b"", b"z" * 6_000)  # one big one past the bound
        assert outbox.cut_reason is not None

    asyncio.run(run())


def test_a_bus_overflow_cuts_off_every_client() -> None:
    async def run() -> None:
        first = _connection()
        second = _connection(first.hub)
        first.subscribe(1, {"query": "tm.event='NewBlock'"})
        second.subscribe(1, {"query": "tm.event='Tx'"})
        first.hub.fanout.on_bus_overflow()
        assert first.outbox.cut.is_set() and second.outbox.cut.is_set()
        assert first.outbox.cut_reason == "fell behind the committed blocks"
        await first.hub.fanout.stop()

    asyncio.run(run())
