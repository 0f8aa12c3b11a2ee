"""Loopback micro-benchmark of the P2P transport: handshakes per second and payload throughput.

Run: ``.venv/bin/python -m node.bench.p2p``. Numbers are for information (they depend on the
machine); no test asserts on them.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from consensus.crypto import PrivateKey
from consensus.types import ChainId
from node.p2p.limits import P2PLimits
from node.p2p.network import P2PNetwork

CHAIN = ChainId("depochain-bench")


async def measure_handshakes(count: int) -> float:
    """Mean seconds for connect + handshake + teardown, sequentially."""
    a_key, b_key = PrivateKey(b"\x01" * 32), PrivateKey(b"\x02" * 32)
    allowed = {a_key.public_key, b_key.public_key}

    async def ignore(sender: bytes, payload: bytes) -> None:
        return None

    b = P2PNetwork(CHAIN, b_key, "127.0.0.1", 0, {}, allowed, ignore)
    await b.start()
    started = time.perf_counter()
    try:
        for _ in range(count):
            a = P2PNetwork(
                CHAIN, a_key, "127.0.0.1", 0, {b_key.public_key: b.listen_address}, allowed, ignore
            )
            await a.start()
            await a.wait_for_peers([b_key.public_key], 10_000)
            await a.stop()
    finally:
        await b.stop()
    return (time.perf_counter() - started) / count


async def measure_throughput(payload_bytes: int, count: int) -> tuple[float, float]:
    """(messages per second, MiB per second) from one node to another, delivery included."""
    a_key, b_key = PrivateKey(b"\x01" * 32), PrivateKey(b"\x02" * 32)
    allowed = {a_key.public_key, b_key.public_key}
    done = asyncio.Event()
    received = 0

    async def count_it(sender: bytes, payload: bytes) -> None:
        nonlocal received
        received += 1
        if received == count:
            done.set()

    async def ignore(sender: bytes, payload: bytes) -> None:
        return None

    limits = P2PLimits(queue_messages_max=count, queue_bytes_max=max(64 << 20, 2 * payload_bytes))
    b = P2PNetwork(CHAIN, b_key, "127.0.0.1", 0, {}, allowed, count_it, limits=limits)
    await b.start()
    a = P2PNetwork(
        CHAIN,
        a_key,
        "127.0.0.1",
        0,
        {b_key.public_key: b.listen_address},
        allowed,
        ignore,
        limits=limits,
    )
    await a.start()
    try:
        await a.wait_for_peers([b_key.public_key], 10_000)
        payload = b"\x42" * payload_bytes
        started = time.perf_counter()
        for _ in range(count):
            a.send(b_key.public_key, payload)
            while a.peer_stats()[b_key.public_key].queued_bytes > (32 << 20) - payload_bytes:
                await asyncio.sleep(0.001)  # stay under the queue bound: measure, don't drop
        async with asyncio.timeout(120):
            await done.wait()
        elapsed = time.perf_counter() - started
    finally:
        await a.stop()
        await b.stop()
    return count / elapsed, count * payload_bytes / elapsed / (1 << 20)


async def main_async(args: argparse.Namespace) -> None:
    mean_s = await measure_handshakes(args.handshakes)
    print(f"handshake (connect+auth+close), mean of {args.handshakes}: {mean_s * 1000:.2f} ms")
    for size, count in ((256, 20_000), (16 * 1024, 5_000), (1 << 20, 100), (4 << 20, 25)):
        per_s, mib_s = await measure_throughput(size, count)
        print(f"payload {size:>8} B x {count:>6}: {per_s:>9.0f} msg/s  {mib_s:>7.1f} MiB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handshakes", type=int, default=50)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
