"""P2PNetwork over real sockets on 127.0.0.1 (ephemeral ports): connectivity, authentication
refusals, hostile bytes, reconnection and the full-send-queue policy."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection

import pytest

from consensus import codec
from consensus.crypto import PrivateKey, SignPurpose
from consensus.types import ChainId, PublicKey
from node.p2p import P2PLimits, P2PNetwork
from node.p2p.frames import HEADER, FrameKind, FrameOpener, FrameSealer, read_frame
from node.p2p.handshake import (
    AuthMessage,
    compute_session_keys,
    exchange_hellos,
)
from node.p2p.peer import close_writer

CHAIN = ChainId("depochain-test")
FAST = P2PLimits(
    frame_body_bytes_max=64 * 1024,
    queue_bytes_max=1024 * 1024,
    handshake_timeout_ms=1_000,
    hello_timeout_ms=300,
    connect_timeout_ms=1_000,
    write_timeout_ms=2_000,
    keepalive_interval_ms=200,
    read_idle_timeout_ms=2_000,
    close_timeout_ms=500,
    reconnect_backoff_min_ms=20,
    reconnect_backoff_max_ms=200,
)
WAIT_S = 10.0


def make_key(i: int) -> PrivateKey:
    return PrivateKey(bytes([i]) * 32)


class Node:
    """A P2PNetwork plus an inbox of everything it received."""

    def __init__(
        self,
        key: PrivateKey,
        allowed: Collection[bytes],
        peers: dict[bytes, tuple[str, int]] | None = None,
        *,
        chain_id: ChainId = CHAIN,
        limits: P2PLimits = FAST,
        port: int = 0,
        on_message: Callable[[bytes, bytes], Awaitable[None]] | None = None,
    ) -> None:
        self.key = key
        self.pub = key.public_key
        self.received: list[tuple[bytes, bytes]] = []
        self.net = P2PNetwork(
            chain_id,
            key,
            "127.0.0.1",
            port,
            peers or {},
            allowed,
            on_message or self._record,
            limits=limits,
        )

    async def _record(self, sender: bytes, payload: bytes) -> None:
        self.received.append((sender, payload))

    @property
    def addr(self) -> tuple[str, int]:
        return self.net.listen_address

    def payloads_from(self, sender: bytes) -> list[bytes]:
        return [p for s, p in self.received if s == sender]


async def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Poll until ``predicate`` holds; fails the test (TimeoutError) if it never does."""
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(*nodes: Node) -> AsyncIterator[None]:
    try:
        for node in nodes:
            await node.net.start()
        yield
    finally:
        for node in nodes:
            await node.net.stop()


def run(coro: Awaitable[None]) -> None:
    """Run a scenario; afterwards no task may be left behind (stop() cancels everything)."""

    async def bounded() -> None:
        async with asyncio.timeout(60):
            await coro
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(bounded())


# -- raw clients that speak (parts of) the protocol, to play hostile peers ----------------------


async def raw_authenticate(
    addr: tuple[str, int],
    claimed: PrivateKey,
    signer: PrivateKey | None = None,
    chain_id: ChainId = CHAIN,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameSealer, FrameOpener]:
    """Handshake as ``claimed``'s key, signing with ``signer`` (default: the same key)."""
    import nacl.public

    reader, writer = await asyncio.open_connection(*addr)
    ephemeral = nacl.public.PrivateKey.generate()
    peer_ephemeral = await exchange_hellos(reader, writer, bytes(ephemeral.public_key))
    keys = compute_session_keys(bytes(ephemeral), bytes(ephemeral.public_key), peer_ephemeral)
    sealer, opener = FrameSealer(keys.send_key), FrameOpener(keys.recv_key, 1 << 20)
    signature = (signer or claimed).sign(SignPurpose.P2P_HANDSHAKE, chain_id, keys.challenge)
    auth = AuthMessage(claimed.public_key, signature, chain_id)
    writer.write(sealer.seal(FrameKind.AUTH, codec.encode(auth.to_wire())))
    await writer.drain()
    return reader, writer, sealer, opener


async def read_until_closed(reader: asyncio.StreamReader) -> None:
    """Drain the socket until the other side closes it (bounded by the caller's timeout)."""
    async with asyncio.timeout(WAIT_S):
        while await reader.read(65536):
            pass


async def assert_pair_works(a: Node, b: Node, tag: bytes) -> None:
    assert a.net.send(b.pub, tag + b"->")
    assert b.net.send(a.pub, tag + b"<-")
    await wait_until(lambda: tag + b"->" in b.payloads_from(a.pub))
    await wait_until(lambda: tag + b"<-" in a.payloads_from(b.pub))


# -- connectivity -------------------------------------------------------------------------------


def test_three_nodes_exchange_broadcast_and_direct_messages() -> None:
    async def scenario() -> None:
        keys = [make_key(i) for i in (1, 2, 3)]
        allowed = {k.public_key for k in keys}
        n1 = Node(keys[0], allowed)
        async with running(n1):
            n2 = Node(keys[1], allowed, {n1.pub: n1.addr})
            async with running(n2):
                n3 = Node(keys[2], allowed, {n1.pub: n1.addr, n2.pub: n2.addr})
                async with running(n3):
                    nodes = [n1, n2, n3]
                    for node in nodes:
                        others = [o.pub for o in nodes if o is not node]
                        await node.net.wait_for_peers(others, 10_000)
                        assert node.net.connected_peers() == frozenset(others)
                    for i, node in enumerate(nodes):
                        assert node.net.broadcast(b"hello from %d" % i) == 2
                    assert n1.net.send(n3.pub, b"direct 1->3")
                    assert n3.net.send(n2.pub, b"direct 3->2")

                    def all_delivered() -> bool:
                        return all(
                            b"hello from %d" % i in other.payloads_from(node.pub)
                            for i, node in enumerate(nodes)
                            for other in nodes
                            if other is not node
                        )

                    await wait_until(all_delivered)
                    await wait_until(lambda: b"direct 1->3" in n3.payloads_from(n1.pub))
                    await wait_until(lambda: b"direct 3->2" in n2.payloads_from(n3.pub))
                    assert b"direct 1->3" not in n2.payloads_from(n1.pub)
                    for node in nodes:
                        for stats in node.net.peer_stats().values():
                            assert stats.messages_dropped == 0
                            assert stats.handler_errors == 0

    run(scenario())


def test_many_messages_of_mixed_sizes_arrive_complete_and_in_order() -> None:
    async def scenario() -> None:
        ka, kb = make_key(1), make_key(2)
        allowed = {ka.public_key, kb.public_key}
        roomy = dataclasses.replace(FAST, queue_bytes_max=64 << 20)  # holds all: no drops
        b = Node(kb, allowed)
        async with running(b):
            a = Node(ka, allowed, {kb.public_key: b.addr}, limits=roomy)
            async with running(a):
                await a.net.wait_for_peers([b.pub], 10_000)
                sizes = [0, 1, 100, FAST.frame_body_bytes_max, 7, 40_000] * 50
                messages = [
                    i.to_bytes(4, "big") * (n // 4) + b"x" * (n % 4) for i, n in enumerate(sizes)
                ]
                for i, message in enumerate(messages):
                    assert a.net.send(b.pub, message)
                    if i % 16 == 0:
                        await asyncio.sleep(0)  # let some go out while others queue up
                await wait_until(lambda: len(b.received) == len(messages))
                assert b.payloads_from(a.pub) == messages

    run(scenario())


def test_send_to_unconnected_peer_returns_false_and_oversize_payload_is_rejected() -> None:
    async def scenario() -> None:
        a, b = make_key(1), make_key(2)
        node = Node(a, {a.public_key, b.public_key})
        async with running(node):
            assert node.net.send(b.public_key, b"x") is False
            assert node.net.broadcast(b"x") == 0
            with pytest.raises(ValueError):
                node.net.broadcast(b"\x00" * (FAST.frame_body_bytes_max + 1))

    run(scenario())


def is_one_shared_connection(a: Node, b: Node) -> bool:
    """Both ends hold a connection, and they agree on who dialled it (so it is the same one)."""
    sa, sb = a.net.peer_stats().get(b.pub), b.net.peer_stats().get(a.pub)
    return sa is not None and sb is not None and sa.is_outbound != sb.is_outbound


def test_both_sides_dialling_settle_on_one_shared_connection() -> None:
    async def scenario() -> None:
        for i in range(4):  # the race plays out differently each time
            ka, kb = make_key(10 + 2 * i), make_key(11 + 2 * i)
            allowed = {ka.public_key, kb.public_key}
            a, b = Node(ka, allowed), Node(kb, allowed)
            async with running(a, b):
                a.net.add_peer(b.pub, *b.addr)
                b.net.add_peer(a.pub, *a.addr)

                await wait_until(functools.partial(is_one_shared_connection, a, b))
                await assert_pair_works(a, b, b"pair %d" % i)
                assert len(a.net.connected_peers()) == len(b.net.connected_peers()) == 1

    run(scenario())


def test_peer_that_goes_away_and_comes_back_is_reconnected() -> None:
    async def scenario() -> None:
        ka, kb = make_key(1), make_key(2)
        allowed = {ka.public_key, kb.public_key}
        b = Node(kb, allowed)
        async with running(b):
            a = Node(ka, allowed, {b.pub: b.addr})
            async with running(a):
                await a.net.wait_for_peers([b.pub], 10_000)
                await assert_pair_works(a, b, b"before")
                port = b.addr[1]
                await b.net.stop()
                await wait_until(lambda: b.pub not in a.net.connected_peers())
                b2 = Node(kb, allowed, port=port)
                async with running(b2):
                    await a.net.wait_for_peers([b.pub], 10_000)
                    await assert_pair_works(a, b2, b"after")
                assert a.net.stats().connections_dialed >= 2

    run(scenario())


def test_a_connection_coming_up_wakes_the_dialers_waiting_out_a_backoff() -> None:
    # A's backoff towards B is far longer than the test's wait: only the wake-up that C's
    # connection brings (the network is back) can get A to B in time.
    async def scenario() -> None:
        ka, kb, kc = make_key(1), make_key(2), make_key(3)
        allowed = {ka.public_key, kb.public_key, kc.public_key}
        slow = dataclasses.replace(
            FAST, reconnect_backoff_min_ms=60_000, reconnect_backoff_max_ms=60_000
        )
        b = Node(kb, allowed)
        async with running(b):
            b_addr = b.addr
        a = Node(ka, allowed, {kb.public_key: b_addr}, limits=slow)
        async with running(a):
            await wait_until(lambda: a.net.stats().failures.get("dial_failed", 0) >= 1)
            b2, c = Node(kb, allowed, port=b_addr[1]), Node(kc, allowed, {ka.public_key: a.addr})
            async with running(b2), running(c):
                await a.net.wait_for_peers([kc.public_key], 10_000)
                await a.net.wait_for_peers([kb.public_key], 10_000)

    run(scenario())


# -- authentication refusals ----------------------------------------------------------------------


def test_unknown_key_is_refused_when_it_dials_us() -> None:
    async def scenario() -> None:
        ka, kx = make_key(1), make_key(9)
        a = Node(ka, {ka.public_key})  # x is not allowed
        async with running(a):
            x = Node(kx, {ka.public_key, kx.public_key}, {ka.public_key: a.addr})
            async with running(x):
                await wait_until(lambda: a.net.stats().failures.get("unknown_peer_key", 0) >= 2)
                assert a.net.connected_peers() == frozenset()
                assert x.received == [] and a.received == []

    run(scenario())


def test_dialled_address_answering_with_another_key_is_refused() -> None:
    async def scenario() -> None:
        ka, kb, kx = make_key(1), make_key(2), make_key(9)
        allowed = {ka.public_key, kb.public_key, kx.public_key}
        x = Node(kx, allowed)  # listens where a believes b is
        async with running(x):
            a = Node(ka, allowed, {kb.public_key: x.addr})
            async with running(a):
                await wait_until(lambda: a.net.stats().failures.get("unexpected_peer_key", 0) >= 2)
                assert a.net.connected_peers() == frozenset()

    run(scenario())


def test_dialling_an_unknown_node_is_refused_on_both_sides() -> None:
    async def scenario() -> None:
        ka, kb, kx = make_key(1), make_key(2), make_key(9)
        x = Node(kx, {kx.public_key})  # allows nobody; unknown to a
        async with running(x):
            a = Node(ka, {ka.public_key, kb.public_key}, {kb.public_key: x.addr})
            async with running(a):
                await wait_until(lambda: a.net.stats().failures.get("unexpected_peer_key", 0) >= 1)
                await wait_until(lambda: x.net.stats().failures.get("unknown_peer_key", 0) >= 1)
                assert a.net.connected_peers() == frozenset() == x.net.connected_peers()


def test_peer_claiming_a_key_it_cannot_sign_for_is_refused() -> None:
    async def scenario() -> None:
        ka, kb, kx = make_key(1), make_key(2), make_key(9)
        a = Node(ka, {ka.public_key, kb.public_key})
        async with running(a):
            reader, writer, _, _ = await raw_authenticate(a.addr, claimed=kb, signer=kx)
            await read_until_closed(reader)
            await close_writer(writer, 1.0)
            assert a.net.stats().failures.get("bad_signature") == 1
            assert a.net.connected_peers() == frozenset()

    run(scenario())


def test_wrong_chain_id_is_refused_on_both_sides() -> None:
    async def scenario() -> None:
        ka, kb = make_key(1), make_key(2)
        allowed = {ka.public_key, kb.public_key}
        a = Node(ka, allowed)
        async with running(a):
            b = Node(kb, allowed, {ka.public_key: a.addr}, chain_id=ChainId("other-chain"))
            async with running(b):
                await wait_until(lambda: a.net.stats().failures.get("wrong_chain_id", 0) >= 1)
                await wait_until(lambda: b.net.stats().failures.get("wrong_chain_id", 0) >= 1)
                assert a.net.connected_peers() == frozenset() == b.net.connected_peers()

    run(scenario())


# -- hostile bytes: the connection is dropped, the node keeps serving its other peers -----------


async def with_working_pair(attack: Callable[[Node], Awaitable[None]]) -> tuple[Node, Node]:
    """Run ``attack`` against node a while a and b stay connected; returns them (stopped)."""
    ka, kb, kc = make_key(1), make_key(2), make_key(3)
    allowed = {ka.public_key, kb.public_key, kc.public_key}
    a = Node(ka, allowed)
    async with running(a):
        b = Node(kb, allowed, {ka.public_key: a.addr})
        async with running(b):
            await a.net.wait_for_peers([b.pub], 10_000)
            await attack(a)
            await assert_pair_works(a, b, b"still serving")
    return a, b


def test_tampered_ciphertext_drops_the_connection() -> None:
    async def attack(a: Node) -> None:
        reader, writer, sealer, opener = await raw_authenticate(a.addr, claimed=make_key(3))
        kind, _ = await read_frame(reader, opener, 5.0)  # a's auth: we are accepted
        assert kind is FrameKind.AUTH
        await wait_until(lambda: make_key(3).public_key in a.net.connected_peers())
        frame = bytearray(sealer.seal(FrameKind.MESSAGE, b"pay 100 to mallory"))
        frame[HEADER.size + 3] ^= 0x01
        writer.write(bytes(frame))
        await read_until_closed(reader)
        await close_writer(writer, 1.0)
        await wait_until(lambda: a.net.stats().disconnects.get("decrypt_failed") == 1)
        assert a.payloads_from(make_key(3).public_key) == []

    run(_discard(with_working_pair(attack)))


def test_oversized_frame_drops_the_connection() -> None:
    async def attack(a: Node) -> None:
        reader, writer, _, _ = await raw_authenticate(a.addr, claimed=make_key(3))
        writer.write(HEADER.pack(FAST.frame_body_bytes_max + 1 + 16 + 1) + b"\x00" * 1024)
        await read_until_closed(reader)
        await close_writer(writer, 1.0)
        await wait_until(lambda: a.net.stats().disconnects.get("frame_too_large") == 1)

    run(_discard(with_working_pair(attack)))


def test_garbage_bytes_are_refused() -> None:
    async def attack(a: Node) -> None:
        reader, writer = await asyncio.open_connection(*a.addr)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(64))
        await read_until_closed(reader)
        await close_writer(writer, 1.0)
        assert a.net.stats().failures.get("bad_magic") == 1

    run(_discard(with_working_pair(attack)))


def test_peer_stalling_mid_handshake_is_dropped_after_the_timeout() -> None:
    async def attack(a: Node) -> None:
        silent_reader, silent_writer = await asyncio.open_connection(*a.addr)
        half_reader, half_writer = await asyncio.open_connection(*a.addr)
        # sends a valid hello, then never authenticates
        await exchange_hellos(half_reader, half_writer, make_key(7).public_key)
        await read_until_closed(silent_reader)
        await read_until_closed(half_reader)
        for writer in (silent_writer, half_writer):
            await close_writer(writer, 1.0)
        failures = a.net.stats().failures
        assert failures.get("hello_timeout") == 1 and failures.get("handshake_timeout") == 1

    run(_discard(with_working_pair(attack)))


async def _discard(coro: Awaitable[object]) -> None:
    await coro


def test_authenticated_peer_that_goes_silent_is_dropped_by_the_idle_timeout() -> None:
    async def attack(a: Node) -> None:
        reader, writer, _, _ = await raw_authenticate(a.addr, claimed=make_key(3))
        await read_until_closed(reader)  # we never send a keepalive
        await close_writer(writer, 1.0)
        assert a.net.stats().disconnects.get("read_timeout") == 1

    run(_discard(with_working_pair(attack)))


def test_handler_exception_is_counted_and_the_connection_stays_up() -> None:
    async def scenario() -> None:
        ka, kb = make_key(1), make_key(2)
        allowed = {ka.public_key, kb.public_key}
        seen: list[bytes] = []

        async def picky(sender: bytes, payload: bytes) -> None:
            if payload == b"boom":
                raise RuntimeError("handler bug")
            seen.append(payload)

        b = Node(kb, allowed, on_message=picky)
        async with running(b):
            a = Node(ka, allowed, {kb.public_key: b.addr})
            async with running(a):
                await a.net.wait_for_peers([b.pub], 10_000)
                a.net.send(b.pub, b"boom")
                a.net.send(b.pub, b"fine")
                await wait_until(lambda: seen == [b"fine"])
                assert b.net.peer_stats()[a.pub].handler_errors == 1
                assert b.net.stats().disconnects == {}

    run(scenario())


def test_when_pending_slots_are_full_the_oldest_silent_socket_makes_room() -> None:
    async def scenario() -> None:
        ka = make_key(1)
        # Silent sockets must outlive the test's steps on a loaded machine: no hello timeout.
        limits = dataclasses.replace(
            FAST, pending_handshakes_max=2, hello_timeout_ms=30_000, handshake_timeout_ms=30_000
        )
        a = Node(ka, {ka.public_key}, limits=limits)
        async with running(a):
            held = [await asyncio.open_connection(*a.addr) for _ in range(2)]
            await wait_until(lambda: a.net.stats().handshakes_pending == 2)
            newcomer = await asyncio.open_connection(*a.addr)
            await read_until_closed(held[0][0])  # the oldest silent one, well before a timeout
            assert a.net.stats().failures.get("pending_handshake_dropped_for_newcomer") == 1
            assert a.net.stats().handshakes_pending == 2
            for _, writer in (*held, newcomer):
                await close_writer(writer, 1.0)

    run(scenario())


def test_one_address_holds_at_most_its_share_of_pending_slots() -> None:
    async def scenario() -> None:
        ka = make_key(1)
        limits = dataclasses.replace(FAST, pending_handshakes_per_ip_max=2)
        a = Node(ka, {ka.public_key}, limits=limits)
        async with running(a):
            held = [await asyncio.open_connection(*a.addr) for _ in range(2)]
            for i, (reader, writer) in enumerate(held):
                await exchange_hellos(reader, writer, make_key(10 + i).public_key)
            await wait_until(lambda: a.net.stats().handshakes_pending == 2)
            reader, writer = await asyncio.open_connection(*a.addr)
            await read_until_closed(reader)
            assert a.net.stats().failures.get("too_many_pending_handshakes_from_ip") == 1
            assert a.net.stats().handshakes_pending == 2
            for _, held_writer in (*held, (reader, writer)):
                await close_writer(held_writer, 1.0)

    run(scenario())


def test_newer_connection_from_the_same_dialer_replaces_the_older() -> None:
    async def scenario() -> None:
        ka, kc = make_key(1), make_key(3)
        a = Node(ka, {ka.public_key, kc.public_key})
        async with running(a):
            old_reader, old_writer, _, old_opener = await raw_authenticate(a.addr, claimed=kc)
            await read_frame(old_reader, old_opener, 5.0)
            await wait_until(lambda: kc.public_key in a.net.connected_peers())
            reader, writer, sealer, opener = await raw_authenticate(a.addr, claimed=kc)
            await read_frame(reader, opener, 5.0)
            await read_until_closed(old_reader)  # a dropped the older one
            assert a.net.stats().disconnects == {"replaced_by_preferred_connection": 1}
            writer.write(sealer.seal(FrameKind.MESSAGE, b"on the new connection"))
            await wait_until(lambda: a.payloads_from(kc.public_key) == [b"on the new connection"])
            for w in (old_writer, writer):
                await close_writer(w, 1.0)

    run(scenario())


# -- send queue policy ------------------------------------------------------------------------


def test_full_send_queue_drops_the_oldest_and_counts_it() -> None:
    async def scenario() -> None:
        limits = dataclasses.replace(FAST, queue_messages_max=4)
        ka, kb = make_key(1), make_key(2)
        allowed = {ka.public_key, kb.public_key}
        b = Node(kb, allowed, limits=limits)
        async with running(b):
            a = Node(ka, allowed, {kb.public_key: b.addr}, limits=limits)
            async with running(a):
                await a.net.wait_for_peers([b.pub], 10_000)
                messages = [b"m%d" % i for i in range(10)]
                # no await in between: the writer cannot run, so the queue must overflow now
                assert all(a.net.send(b.pub, m) for m in messages)
                stats = a.net.peer_stats()[b.pub]
                assert stats.messages_dropped == 6
                assert stats.queued_messages == 4
                await wait_until(lambda: len(b.payloads_from(a.pub)) == 4)
                assert b.payloads_from(a.pub) == messages[6:]

    run(scenario())


def test_send_queue_is_bounded_by_bytes() -> None:
    async def scenario() -> None:
        limits = dataclasses.replace(FAST, frame_body_bytes_max=1000, queue_bytes_max=1000)
        ka, kb = make_key(1), make_key(2)
        allowed = {ka.public_key, kb.public_key}
        b = Node(kb, allowed, limits=limits)
        async with running(b):
            a = Node(ka, allowed, {kb.public_key: b.addr}, limits=limits)
            async with running(a):
                await a.net.wait_for_peers([b.pub], 10_000)
                big = [bytes([i]) * 400 for i in range(3)]
                for payload in big:
                    a.net.send(b.pub, payload)
                assert a.net.peer_stats()[b.pub].queued_bytes == 800
                assert a.net.peer_stats()[b.pub].messages_dropped == 1
                await wait_until(lambda: len(b.payloads_from(a.pub)) == 2)
                assert b.payloads_from(a.pub) == big[1:]

    run(scenario())


def test_stalled_receiver_never_blocks_the_sender_nor_other_peers() -> None:
    async def scenario() -> None:
        limits = dataclasses.replace(FAST, queue_messages_max=16)
        ka, kb, kc = make_key(1), make_key(2), make_key(3)
        allowed = {ka.public_key, kb.public_key, kc.public_key}
        never = asyncio.Event()

        async def stall(sender: bytes, payload: bytes) -> None:
            await never.wait()

        b = Node(kb, allowed, limits=limits, on_message=stall)
        c = Node(kc, allowed, limits=limits)
        async with running(b, c):
            a = Node(ka, allowed, {kb.public_key: b.addr, kc.public_key: c.addr}, limits=limits)
            async with running(a):
                await a.net.wait_for_peers([b.pub, c.pub], 10_000)
                payload = b"\xaa" * FAST.frame_body_bytes_max
                sent = 0

                def b_dropped() -> int:
                    stats = a.net.peer_stats().get(b.pub)
                    return 0 if stats is None else stats.messages_dropped

                async with asyncio.timeout(WAIT_S):
                    while b_dropped() == 0:
                        a.net.send(b.pub, payload)
                        sent += 1
                        stats = a.net.peer_stats().get(b.pub)
                        assert stats is None or stats.queued_messages <= 16
                        await asyncio.sleep(0)
                assert sent > 16
                await assert_pair_works(a, c, b"c is unaffected")

    run(scenario())


def test_both_ends_of_a_connection_close_on_data_left_unacknowledged() -> None:
    # A cut link (no RST, packets dropped) must end the connection within unacked_timeout_ms,
    # on the dialling and on the accepting side, so the heal is met by a fresh dial rather than
    # by TCP's retransmission backoff on the old socket.
    import socket

    if not hasattr(socket, "TCP_USER_TIMEOUT"):
        pytest.skip("TCP_USER_TIMEOUT is Linux-only")
    limits = dataclasses.replace(FAST, unacked_timeout_ms=1_234)

    def unacked_timeout_ms(node: Node, peer: bytes) -> int:
        sock = node.net._connections[PublicKey(peer)]._writer.get_extra_info("socket")
        return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))

    async def scenario() -> None:
        ka, kb = make_key(1), make_key(2)
        allowed = {ka.public_key, kb.public_key}
        b = Node(kb, allowed, limits=limits)
        async with running(b):
            a = Node(ka, allowed, {b.pub: b.addr}, limits=limits)
            async with running(a):
                await a.net.wait_for_peers([b.pub], 10_000)
                await wait_until(lambda: a.pub in b.net.connected_peers())
                assert unacked_timeout_ms(a, b.pub) == 1_234  # dialled
                assert unacked_timeout_ms(b, a.pub) == 1_234  # accepted

    run(scenario())
