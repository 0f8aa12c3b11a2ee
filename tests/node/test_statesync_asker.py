"""The joining node's requests over real P2P connections: an answer counts only from the peer
asked and only for the question asked."""

from __future__ import annotations

import asyncio

from node.gossip import decode_gossip, encode_gossip
from node.statesync.asker import Asker
from node.statesync.messages import ChunkRequest, ChunkResponse
from tests.node.test_p2p_network import Node, make_key, run, running, wait_until

HEIGHT = 10


def _connected_trio() -> tuple[Node, Node, Node, Asker]:
    keys = [make_key(40 + i) for i in range(3)]
    pubs = {key.public_key for key in keys}
    joiner_key, honest_key, other_key = keys
    holder: list[Asker] = []

    async def on_joiner_message(sender: bytes, payload: bytes) -> None:
        await holder[0].on_message(sender, payload)

    joiner = Node(joiner_key, pubs, on_message=on_joiner_message)
    honest = Node(honest_key, pubs)
    other = Node(other_key, pubs)
    holder.append(Asker(joiner.net.send, joiner.net.broadcast))
    return joiner, honest, other, holder[0]


async def _connect(joiner: Node, *peers: Node) -> None:
    for peer in peers:
        joiner.net.add_peer(peer.pub, *peer.addr)
    await wait_until(lambda: len(joiner.net.connected_peers()) == len(peers))


def test_a_chunk_counts_only_from_the_peer_asked() -> None:
    joiner, honest, other, asker = _connected_trio()

    async def scenario() -> None:
        async with running(joiner, honest, other):
            await _connect(joiner, honest, other)
            asking = asyncio.create_task(asker.ask_chunk(honest.pub, HEIGHT, 0, 10.0))
            await wait_until(lambda: bool(honest.payloads_from(joiner.pub)))
            request = decode_gossip(honest.payloads_from(joiner.pub)[0])
            assert request == ChunkRequest(HEIGHT, 0)
            # Another peer answers first, with the very chunk asked for: not counted.
            other.net.send(joiner.pub, encode_gossip(ChunkResponse(HEIGHT, 0, b"forged")))
            await wait_until(lambda: asker.unsolicited == 1)
            assert not asking.done()
            honest.net.send(joiner.pub, encode_gossip(ChunkResponse(HEIGHT, 0, b"true")))
            answer = await asking
            assert answer == ChunkResponse(HEIGHT, 0, b"true")

    run(scenario())


def test_an_answer_to_another_question_does_not_count() -> None:
    joiner, honest, other, asker = _connected_trio()

    async def scenario() -> None:
        async with running(joiner, honest, other):
            await _connect(joiner, honest)
            asking = asyncio.create_task(asker.ask_chunk(honest.pub, HEIGHT, 0, 2.0))
            await wait_until(lambda: bool(honest.payloads_from(joiner.pub)))
            honest.net.send(joiner.pub, encode_gossip(ChunkResponse(HEIGHT, 1, b"chunk 1")))
            honest.net.send(joiner.pub, encode_gossip(ChunkResponse(HEIGHT + 1, 0, b"later")))
            assert await asking is None  # timed out: neither was the chunk asked for
            assert asker.unsolicited == 2

    run(scenario())
