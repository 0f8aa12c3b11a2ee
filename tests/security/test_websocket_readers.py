"""Websocket readers against a real 4-node cluster (real processes, sockets and LevelDB).

Issue 9.7: a block with more than 256 matching events cut off even a fast reader ("slow
consumer", 1008), the outbox was bounded by count and not bytes, and every connection encoded its
own copy of every event (10 clients that never read took a node from 95 MB to 602 MB).

One scenario builds the load: with two validators stopped (no quorum) node 0's mempool takes
10,000 signed transfers through the REST API; the validators come back and the chain commits
them in blocks of at most 5,000 (``block_txs_max``), so at least one block holds 5,000 txs. On
node 0, while this happens: one fast reader (subscribed to every Tx and NewBlock event) and 20
readers that never read (a tiny receive buffer, five NewBlock subscriptions each); on node 1, one
Tx reader alone. The tests check the promises one by one; the shared-encoding test counts on
node 1 with its ``/metrics`` counters.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from consensus.crypto import PrivateKey
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.types import ChainId
from node.config import NodeConfig
from node.home import load_key
from node.rpc.ws_fanout import CLOSE_SLOW_CONSUMER, OUTBOX_BYTES_MAX
from tests.integration.harness import Cluster
from tests.integration.node_process import RpcError
from tests.security.raw_websocket import Closed, RawWebSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TXS_LOADED = 10_000
BLOCK_TXS_MAX = 5_000
BATCH_TXS = 100
SLOW_READERS = 20
SLOW_QUERIES = (
    "tm.event='NewBlock'",
    "tm.event='NewBlock' AND block.height>0",
    "tm.event='NewBlock' AND block.height>1",
    "tm.event='NewBlock' AND block.height>2",
    "tm.event='NewBlock' AND block.height>3",
)
"""Five subscriptions to every NewBlock: about 17 MB of events per 5,000-tx block in only five
messages, so only a bound by bytes (not by count) cuts off a reader that takes none."""
TINY_RECEIVE_BUFFER_BYTES = 4096
MEMORY_GROWTH_MAX_BYTES = 192 * 1024 * 1024
"""Node 0's peak resident memory may grow by this much from the loaded mempool to the end (two
5,000-tx blocks proposed, executed, stored and published to every reader). Twenty non-readers
holding their own copies up to the outbox bound would add up to 20 x 16 MiB on top (the code
before the shared encoding grew by 726 MiB). The honest growth is +123-127 MiB on this machine
under load, with and without this release's changes (it was just under the old 120 MiB bound
when the machine was quiet), so the bound leaves room for that and none for per-reader copies."""
BIG_BLOCK_TXS_MIN = BLOCK_TXS_MAX * 9 // 10
FAST_PENDING_PEAK_BLOCK_SHARE = 0.9
"""The one reader's pending bytes must stay under this share of a block's Tx events. A
publisher that queued a whole block before its writer ran would reach the whole block (100 %
and more); with publishing yielding, the peak is how far the reader (in the pytest process)
lags the publisher, which depends on how the two processes are scheduled: 39 KB on a quiet
machine and with three busy loops beside it, 1.4-1.9 MB of a ~5 MB block seen under CI load,
once 3.96 MB of 6.1 MB (65 %, a 17-minute CI run on a slow day). Absolute bounds of 1 MiB and
then half a block failed CI for no fault of the node's; 90 % still fails a whole block."""
SCENARIO_DEADLINE_S = 300.0
SETTLE_DEADLINE_S = 60.0
BLOCKS_AFTER = 3
HTTP_TIMEOUT_S = 60.0
CONNECTIONS = "depochain_websocket_connections"
STOPPED = (2, 3)


def _raise_mempool_limit(config: NodeConfig) -> NodeConfig:
    # Each demo customer has TXS_LOADED / 8 txs in flight: lift the per-submitter share and
    # the nonce window (admission's defaults are sized for many submitters, not eight).
    mempool = replace(
        config.mempool,
        txs_max=2 * TXS_LOADED,
        submitter_txs_max=TXS_LOADED,
        nonce_window=TXS_LOADED,
        backlog_ms=0,  # the load fills the pools while the chain is halted, on purpose
    )
    return replace(config, mempool=mempool)


def _raise_block_limit(cluster: Cluster) -> None:
    """Blocks of up to BLOCK_TXS_MAX txs: a validity rule, so it is set in the genesis every node
    holds (the same bytes everywhere, before any node starts)."""
    paths = [cluster.home / "genesis.json"] + [n.home / "genesis.json" for n in cluster.info.nodes]
    for path in paths:
        text = path.read_text()
        assert text.count('"block_txs_max": 2000') == 1, path
        path.write_text(text.replace('"block_txs_max": 2000', f'"block_txs_max": {BLOCK_TXS_MAX}'))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("wsreaders") / "net")
    cluster.edit_configs(_raise_mempool_limit)
    _raise_block_limit(cluster)
    with cluster.running(height=2):
        yield cluster


# ---------------------------------------------------------------------------------------------
# helpers: the node over HTTP, its memory, its metrics


def ws_url(cluster: Cluster, node: int) -> str:
    return cluster.url(node).replace("http://", "ws://") + "/websocket"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
        return json.loads(response.read())


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
        return json.loads(response.read())


def read_metrics(cluster: Cluster, node: int) -> dict[str, float]:
    with urllib.request.urlopen(cluster.url(node) + "/metrics", timeout=HTTP_TIMEOUT_S) as r:
        lines = r.read().decode().splitlines()
    return {
        name: float(value)
        for line in lines
        if line and not line.startswith("#")
        for name, value in [line.rsplit(" ", 1)]
    }


def read_metrics_or_none(cluster: Cluster, node: int) -> dict[str, float]:
    """The node's metrics, or {} if it does not answer (a stalled node is reported, not raised)."""
    try:
        return read_metrics(cluster, node)
    except (OSError, ValueError):
        return {}


def read_memory_bytes(cluster: Cluster, node: int, field_name: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of the node's process, from /proc."""
    status = Path(f"/proc/{cluster.processes[node].pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field_name} not in /proc status")


# ---------------------------------------------------------------------------------------------
# the load: 10,000 signed transfers between the localnet's demo customers


def build_transfers(cluster: Cluster, count: int) -> list[str]:
    """``count`` base64 transfers of 1 unit, spread over every demo customer, nonces in order."""
    customers = [a for a in cluster.endpoints()["accounts"] if not a["id"].startswith("CB/")]
    payers: list[tuple[dict[str, Any], PrivateKey, str, int]] = []
    for account in customers:
        bank = account["id"].split("/")[0] + "/"
        payee = next(
            a["id"] for a in customers if a["id"] != account["id"] and a["id"].startswith(bank)
        )
        nonce = get_json(f"{cluster.url(0)}/api/v1/nonce?submitter={account['id']}")["next_nonce"]
        payers.append((account, load_key(cluster.home / account["key_file"]), payee, nonce))
    out: list[str] = []
    for index in range(count):
        account, key, payee, first_nonce = payers[index % len(payers)]
        nonce = first_nonce + index // len(payers)
        unsigned = UnsignedTx(
            chain_id=ChainId(cluster.info.chain_id),
            submitter=account["id"],
            nonce=nonce,
            idempotency_key=f"ws-load-{nonce}",
            valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**9),
            memo="",
            body=Transfer(payee, account["instrument"], 1),
        )
        out.append(base64.b64encode(sign_tx(unsigned, [key]).encode()).decode())
    return out


def submit_all(cluster: Cluster, txs: list[str]) -> None:
    url = f"{cluster.url(0)}/api/v1/txs"
    for start in range(0, len(txs), BATCH_TXS):
        answer = post_json(url, {"txs": txs[start : start + BATCH_TXS]})
        codes = Counter(result["status_code"] for result in answer["results"])
        assert codes == {202: len(answer["results"])}, answer["results"][:3]


# ---------------------------------------------------------------------------------------------
# the readers


@dataclass
class FastReader:
    """Reads everything as it comes; counts Tx events and block sizes per height."""

    queries: tuple[tuple[str, str], ...] = (
        ("tx", "tm.event='Tx'"),
        ("block", "tm.event='NewBlock'"),
    )
    tx_events: Counter[int] = field(default_factory=Counter)
    tx_bytes: Counter[int] = field(default_factory=Counter)
    block_txs: dict[int, int] = field(default_factory=dict)
    close_code: int | None = None
    closed_reason: str = ""

    @property
    def txs_seen(self) -> int:
        return sum(self.tx_events.values())

    async def run(self, url: str, subscribed: asyncio.Event) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, max_msg_size=0) as ws,
        ):
            for request_id, query in self.queries:
                await ws.send_json(
                    {"jsonrpc": "2.0", "id": request_id, "method": "subscribe",
                     "params": {"query": query}}
                )  # fmt: skip
            answers = 0
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                answers += self._take(json.loads(message.data), len(message.data))
                if answers == len(self.queries):
                    subscribed.set()
            self.close_code, self.closed_reason = ws.close_code, str(ws.exception() or "")

    def _take(self, message: dict[str, Any], size: int) -> int:
        result = message.get("result") or {}
        if "data" not in result:
            return 1  # a subscribe answer
        value = result["data"]["value"]
        if message["id"] == "tx":
            height = int(value["TxResult"]["height"])
            self.tx_events[height] += 1
            self.tx_bytes[height] += size
        else:
            block = value["block"]
            self.block_txs[int(block["header"]["height"])] = len(block["data"]["txs"])
        return 0


def open_slow_reader(cluster: Cluster) -> RawWebSocket:
    rpc = cluster.node(0).rpc_url.removeprefix("http://")
    host, port = rpc.split(":")
    reader = RawWebSocket(host, int(port), TINY_RECEIVE_BUFFER_BYTES, timeout_s=60.0)
    for index, query in enumerate(SLOW_QUERIES):
        reader.send_text(
            json.dumps({"jsonrpc": "2.0", "id": index, "method": "subscribe",
                        "params": {"query": query}})
        )  # fmt: skip
    for _ in SLOW_QUERIES:
        _, payload = reader.read_frame()
        assert json.loads(payload)["result"] == {}, payload
    return reader  # from here on it reads nothing


# ---------------------------------------------------------------------------------------------
# the scenario, run once for the module


@dataclass
class Observed:
    fast: FastReader
    slow_closes: list[Closed]
    memory_before_bytes: int
    memory_peak_bytes: int
    metrics: dict[str, float]
    height_at_cut: int
    """Node 0's height once every non-reader had been cut off and drained."""
    height_after: int
    alone: FastReader
    """A Tx reader on node 1, the only websocket client there."""
    alone_metrics: dict[str, float]


@pytest.fixture(scope="module")
def observed(cluster: Cluster) -> Observed:
    txs = build_transfers(cluster, TXS_LOADED)
    slow: list[RawWebSocket] = []
    try:
        return asyncio.run(_run_scenario(cluster, txs, slow))
    finally:
        for reader in slow:
            reader.close()


async def _run_scenario(cluster: Cluster, txs: list[str], slow: list[RawWebSocket]) -> Observed:
    """Readers on, quorum off, 10,000 txs in, non-readers on (so the big blocks are the first
    thing they fail to read), quorum back; then drain the non-readers and watch the chain."""
    fast, alone = FastReader(), FastReader(queries=(("tx", "tm.event='Tx'"),))
    subscribed, alone_subscribed = asyncio.Event(), asyncio.Event()
    reading = asyncio.create_task(fast.run(ws_url(cluster, 0), subscribed))
    alone_reading = asyncio.create_task(alone.run(ws_url(cluster, 1), alone_subscribed))
    await asyncio.wait_for(subscribed.wait(), HTTP_TIMEOUT_S)
    await asyncio.wait_for(alone_subscribed.wait(), HTTP_TIMEOUT_S)
    for node in STOPPED:
        await asyncio.to_thread(cluster.kill, node)
    await asyncio.to_thread(submit_all, cluster, txs)
    slow.extend([await asyncio.to_thread(open_slow_reader, cluster) for _ in range(SLOW_READERS)])
    memory_before = read_memory_bytes(cluster, 0, "VmRSS")  # the 10,000 txs pending already
    for node in STOPPED:
        await asyncio.to_thread(cluster.start, node)
    fast_done = asyncio.Event()
    draining = asyncio.create_task(_drain_once_cut_off(cluster, slow, fast_done))
    with contextlib.suppress(TimeoutError):  # what was seen by then is judged by the tests
        async with asyncio.timeout(SCENARIO_DEADLINE_S):
            while fast.txs_seen < TXS_LOADED and not reading.done():
                await asyncio.sleep(0.2)
            while alone.txs_seen < TXS_LOADED and not alone_reading.done():
                await asyncio.sleep(0.2)
    fast_done.set()
    closes = await draining
    alone_metrics = await asyncio.to_thread(read_metrics_or_none, cluster, 1)
    memory_peak = read_memory_bytes(cluster, 0, "VmHWM")
    metrics = await asyncio.to_thread(_wait_metrics_settled, cluster)
    height_at_cut = await asyncio.to_thread(get_height_or_none, cluster)
    height_after = await asyncio.to_thread(_wait_blocks, cluster, height_at_cut + BLOCKS_AFTER)
    for task in (reading, alone_reading):
        task.cancel()
    await asyncio.gather(reading, alone_reading, return_exceptions=True)
    return Observed(
        fast, closes, memory_before, memory_peak, metrics, height_at_cut, height_after,
        alone, alone_metrics,
    )  # fmt: skip


def _wait_metrics_settled(cluster: Cluster) -> dict[str, float]:
    """Node 0's metrics once the cut-off clients' sockets are gone (they answered the close)."""
    deadline = time.monotonic() + SETTLE_DEADLINE_S
    metrics = read_metrics_or_none(cluster, 0)
    while metrics.get(CONNECTIONS, 0) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
        metrics = read_metrics_or_none(cluster, 0)
    return metrics


def _wait_blocks(cluster: Cluster, height: int) -> int:
    """The height node 0 reaches, waiting up to a deadline for ``height`` (never raises)."""
    try:
        return cluster.wait_height(0, height, timeout_s=SETTLE_DEADLINE_S)
    except TimeoutError:
        return get_height_or_none(cluster)


def get_height_or_none(cluster: Cluster) -> int:
    """Node 0's height, or -1 if it does not answer."""
    try:
        return cluster.height(0)
    except (OSError, ValueError, RpcError):
        return -1


async def _drain_once_cut_off(
    cluster: Cluster, slow: list[RawWebSocket], fast_done: asyncio.Event
) -> list[Closed]:
    """Start reading the non-readers once node 0 says it cut them all off (or, should it never
    say so, once the fast readers are done), so they reach their close frame well within the
    time the node gives them to."""
    while not fast_done.is_set():
        metrics = await asyncio.to_thread(read_metrics_or_none, cluster, 0)
        if metrics.get("depochain_websocket_slow_consumers_total", 0) >= len(slow):
            break
        await asyncio.sleep(0.2)
    return await asyncio.to_thread(_drain_all, slow)


def _drain_all(slow: list[RawWebSocket]) -> list[Closed]:
    with ThreadPoolExecutor(len(slow)) as pool:
        return list(pool.map(lambda reader: reader.read_until_closed(60.0), slow))


# ---------------------------------------------------------------------------------------------
# the promises


def test_fast_reader_receives_every_event_of_a_5000_tx_block(observed: Observed) -> None:
    fast = observed.fast
    assert fast.close_code is None, (fast.close_code, fast.closed_reason)
    # A block near the cap is the case to exercise. Which node proposes first after the
    # quorum returns is timing: a restarted node may propose before the pending txs reached
    # it (blocks of 100 and 4,900 were seen in CI), so "near" and not "exactly" the cap.
    big = [height for height, count in fast.block_txs.items() if count >= BIG_BLOCK_TXS_MIN]
    assert big, fast.block_txs
    for height, count in fast.block_txs.items():
        assert fast.tx_events[height] == count, (height, count, fast.tx_events[height])
    assert fast.txs_seen == TXS_LOADED


def test_publishing_yields_so_a_fast_reader_never_holds_a_whole_block(observed: Observed) -> None:
    """Node 1 queues ~5 MB of Tx events per 5,000-tx block to its one reader. Publishing yields
    every few events and the writer drains in between, so the reader's pending bytes stay well
    under a block's worth (a publisher that queued a whole block in one go would reach it)."""
    assert observed.alone.close_code is None and observed.alone.txs_seen == TXS_LOADED
    peak = observed.alone_metrics.get("depochain_websocket_pending_bytes_peak", 0)
    block_bytes = max(observed.alone.tx_bytes.values())
    print(f"node 1: its one reader's pending bytes peaked at {peak:.0f} of a {block_bytes} B block")
    assert 0 < peak < FAST_PENDING_PEAK_BLOCK_SHARE * block_bytes, (peak, block_bytes)


def test_readers_that_stop_reading_are_cut_off_with_1008(observed: Observed) -> None:
    for closed in observed.slow_closes:
        assert closed.code == CLOSE_SLOW_CONSUMER, closed
        assert closed.reason == (
            f"slow consumer: more than {OUTBOX_BYTES_MAX} bytes of events not read"
        ), closed
    assert observed.metrics.get("depochain_websocket_slow_consumers_total", 0) >= SLOW_READERS
    assert observed.metrics.get(CONNECTIONS) == 1  # the fast reader


def test_non_readers_do_not_multiply_node_memory(observed: Observed) -> None:
    growth = observed.memory_peak_bytes - observed.memory_before_bytes
    before_mib, growth_mib = observed.memory_before_bytes / 2**20, growth / 2**20
    print(f"node 0: {before_mib:.0f} MiB before, peak +{growth_mib:.0f} MiB")
    assert growth < MEMORY_GROWTH_MAX_BYTES, f"peak grew by {growth_mib:.0f} MiB"


def test_consensus_keeps_making_blocks(observed: Observed) -> None:
    assert observed.height_at_cut > 0, "node 0 did not answer once the non-readers were cut off"
    assert observed.height_after >= observed.height_at_cut + BLOCKS_AFTER


# ---------------------------------------------------------------------------------------------
# shared encoding, counted by the node itself


SHARING_CLIENTS = 4
SHARING_QUERIES = ("tm.event='NewBlock'", "tm.event='NewBlock' AND block.height>0")
SHARING_BLOCKS_MIN = 3


def test_subscribers_share_one_encoding_of_each_event(cluster: Cluster) -> None:
    """Between two scrapes, every NewBlock event is encoded once and queued to all 8
    subscriptions (4 clients x 2 queries): messages queued == 8 x events encoded."""
    before, after = asyncio.run(_count_sharing(cluster, node=1))
    encoded = (
        after["depochain_websocket_events_encoded_total"]
        - before["depochain_websocket_events_encoded_total"]
    )
    queued = (
        after["depochain_websocket_messages_queued_total"]
        - before["depochain_websocket_messages_queued_total"]
    )
    assert encoded >= SHARING_BLOCKS_MIN, (encoded, queued)
    assert queued == SHARING_CLIENTS * len(SHARING_QUERIES) * encoded, (encoded, queued)


async def _count_sharing(cluster: Cluster, node: int) -> tuple[dict[str, float], dict[str, float]]:
    received = [0] * SHARING_CLIENTS
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(ws_url(cluster, node)) for _ in range(SHARING_CLIENTS)]
        for ws in sockets:
            for request_id, query in enumerate(SHARING_QUERIES):
                await ws.send_json(
                    {"jsonrpc": "2.0", "id": request_id, "method": "subscribe",
                     "params": {"query": query}}
                )  # fmt: skip
            for _ in SHARING_QUERIES:
                assert (await ws.receive_json(timeout=HTTP_TIMEOUT_S))["result"] == {}
        before = await asyncio.to_thread(read_metrics, cluster, node)
        async with asyncio.timeout(HTTP_TIMEOUT_S):
            while min(received) < SHARING_BLOCKS_MIN * len(SHARING_QUERIES):
                for index, ws in enumerate(sockets):
                    message = await ws.receive_json()
                    assert message["result"]["data"]["type"] == "tendermint/event/NewBlock"
                    received[index] += 1
        after = await asyncio.to_thread(read_metrics, cluster, node)
        for ws in sockets:
            await ws.close()
    return before, after
