"""Vectors of the P2P handshake: every byte each side puts on the wire, for fixed static
(Ed25519) and ephemeral (X25519) keys, and the session keys both derive.

The transcript is recorded from the real ``perform_handshake`` on both ends of a TCP connection
on 127.0.0.1, through a relay that records each direction; after the handshake each side sends
one MESSAGE frame, so the first frame under the session keys is pinned too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import nacl.bindings
import nacl.public

from consensus import codec, crypto
from consensus.crypto import SignPurpose
from node.p2p.frames import HEADER, FrameKind, read_frame, write_frame
from node.p2p.handshake import (
    HELLO_LEN,
    MAGIC,
    compute_auth_message,
    compute_session_keys,
    perform_handshake,
)

from .jsonform import Json, enum_table
from .store import make_document, make_vector
from .world import CHAIN_ID, SEED_DOMAIN, key, key_json

DIALER, LISTENER = "BANKA-validator", "BANKB-validator"
PAYLOADS = {DIALER: b"first frame from the dialer", LISTENER: b"first frame from the listener"}
TIMEOUT_S = 30.0
BODY_BYTES_MAX = 1 << 16


def ephemeral_secret(label: str) -> bytes:
    """A fixed X25519 secret key (RFC 7748 clamps it): sha256("depochain/vectors/" + label)."""
    return crypto.sha256(SEED_DOMAIN + label.encode())


@dataclass(frozen=True, slots=True)
class Capture:
    """What a handshake put on the wire, per direction, and what each side ended up with."""

    sent: dict[str, bytes]
    peer_key: dict[str, bytes]
    received: dict[str, tuple[FrameKind, bytes]]


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sink: bytearray
) -> None:
    try:
        while chunk := await reader.read(65536):
            sink += chunk
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.close()


async def _side(
    name: str,
    peer: str,
    secret: bytes,
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> tuple[bytes, tuple[FrameKind, bytes]]:
    """One end: handshake, send our first frame, read the peer's. Returns (peer key, frame)."""
    reader, writer = streams
    peer_key = key(peer).public_key
    session = await perform_handshake(
        reader,
        writer,
        node_key=key(name),
        chain_id=CHAIN_ID,
        expected_peer_key=peer_key if name == DIALER else None,
        is_allowed=lambda candidate: candidate == peer_key,
        body_bytes_max=BODY_BYTES_MAX,
        timeout_s=TIMEOUT_S,
        ephemeral_key=nacl.public.PrivateKey(secret),
    )
    await write_frame(writer, session.sealer, FrameKind.MESSAGE, PAYLOADS[name], TIMEOUT_S)
    frame = await read_frame(reader, session.opener, TIMEOUT_S)
    return session.peer_key, frame


async def _record_handshake(secrets: dict[str, bytes]) -> Capture:
    listener_done: asyncio.Future[tuple[bytes, tuple[FrameKind, bytes]]]
    listener_done = asyncio.get_running_loop().create_future()
    sent = {DIALER: bytearray(), LISTENER: bytearray()}
    pumps: list[asyncio.Task[None]] = []

    async def on_listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            listener_done.set_result(
                await _side(LISTENER, DIALER, secrets[LISTENER], (reader, writer))
            )
        except Exception as exc:  # handed to the awaiting dialer side, which re-raises it
            listener_done.set_exception(exc)
        finally:
            writer.close()

    async def on_relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*listener_addr)
        pumps.append(asyncio.create_task(_pump(reader, up_writer, sent[DIALER])))
        pumps.append(asyncio.create_task(_pump(up_reader, writer, sent[LISTENER])))

    listener = await asyncio.start_server(on_listener, "127.0.0.1", 0)
    relay = await asyncio.start_server(on_relay, "127.0.0.1", 0)
    listener_addr = listener.sockets[0].getsockname()[:2]
    streams = await asyncio.open_connection(*relay.sockets[0].getsockname()[:2])
    try:
        dialer_result = await _side(DIALER, LISTENER, secrets[DIALER], streams)
        listener_result = await asyncio.wait_for(listener_done, TIMEOUT_S)
    finally:
        streams[1].close()
        await asyncio.wait_for(asyncio.gather(*pumps, return_exceptions=True), TIMEOUT_S)
        for server in (relay, listener):
            server.close()
            await server.wait_closed()
    return Capture(
        sent={name: bytes(data) for name, data in sent.items()},
        peer_key={DIALER: dialer_result[0], LISTENER: listener_result[0]},
        received={DIALER: dialer_result[1], LISTENER: listener_result[1]},
    )


def record_handshake(secrets: dict[str, bytes]) -> Capture:
    return asyncio.run(asyncio.wait_for(_record_handshake(secrets), 2 * TIMEOUT_S))


def split_wire(sent: bytes) -> list[bytes]:
    """Hello, then each frame (4-byte big-endian length + ciphertext)."""
    parts, rest = [sent[:HELLO_LEN]], sent[HELLO_LEN:]
    while rest:
        (length,) = HEADER.unpack(rest[: HEADER.size])
        end = HEADER.size + length
        parts.append(rest[:end])
        rest = rest[end:]
    return parts


def _side_expected(name: str, peer: str, secrets: dict[str, bytes], capture: Capture) -> Json:
    ours = nacl.public.PrivateKey(secrets[name])
    ephemeral_public = bytes(ours.public_key)
    peer_public = bytes(nacl.public.PrivateKey(secrets[peer]).public_key)
    keys = compute_session_keys(secrets[name], ephemeral_public, peer_public)
    auth = compute_auth_message(key(name), CHAIN_ID, keys.challenge)
    hello, auth_frame, message_frame = split_wire(capture.sent[name])
    assert capture.peer_key[peer] == key(name).public_key, "the peer did not authenticate us"
    assert capture.received[peer] == (FrameKind.MESSAGE, PAYLOADS[name])
    return {
        "ephemeral_public": ephemeral_public.hex(),
        "hello": hello.hex(),
        "send_key": keys.send_key.hex(),
        "recv_key": keys.recv_key.hex(),
        "challenge": keys.challenge.hex(),
        "auth_sign_bytes": crypto.compute_sign_bytes(
            SignPurpose.P2P_HANDSHAKE, CHAIN_ID, keys.challenge
        ).hex(),
        "auth_message": codec.encode(auth.to_wire()).hex(),
        "auth_frame": auth_frame.hex(),
        "message_frame": message_frame.hex(),
        "wire": capture.sent[name].hex(),
    }


def handshake_vector(name: str, text: str, secrets: dict[str, bytes]) -> Json:
    capture = record_handshake(secrets)
    shared = nacl.bindings.crypto_scalarmult(secrets[DIALER], bytes(
        nacl.public.PrivateKey(secrets[LISTENER]).public_key))  # fmt: skip
    inputs = {
        "chain_id": CHAIN_ID,
        "magic": MAGIC.hex(),
        "dialer": {"static_key": key_json(DIALER), "ephemeral_secret": secrets[DIALER].hex(),
                   "first_payload": PAYLOADS[DIALER].hex()},
        "listener": {"static_key": key_json(LISTENER), "ephemeral_secret": secrets[LISTENER].hex(),
                     "first_payload": PAYLOADS[LISTENER].hex()},
    }  # fmt: skip
    expected = {
        "shared_secret": shared.hex(),
        "dialer": _side_expected(DIALER, LISTENER, secrets, capture),
        "listener": _side_expected(LISTENER, DIALER, secrets, capture),
    }
    return make_vector(name, text, inputs, expected)


def handshake_document() -> Json:
    one, two = ephemeral_secret("ephemeral-1"), ephemeral_secret("ephemeral-2")
    low, high = sorted((one, two), key=lambda s: bytes(nacl.public.PrivateKey(s).public_key))
    vectors = [
        handshake_vector(
            "dialer_has_lower_ephemeral",
            "the dialer's ephemeral public sorts first: it sends with the lo->hi key",
            {DIALER: low, LISTENER: high},
        ),
        handshake_vector(
            "dialer_has_higher_ephemeral",
            "the same keys with the ephemerals swapped: the dialer sends with the hi->lo key",
            {DIALER: high, LISTENER: low},
        ),
    ]
    return make_document(
        "P2P handshake, both sides. Each sends hello = magic || ephemeral X25519 public key, then "
        "its auth frame; then each sends one MESSAGE frame. Keys: HKDF-SHA256(ikm = X25519 shared "
        "secret, salt = sha256('depochain/p2p/v1/transcript' || lo || hi) over the two ephemeral "
        "publics sorted, info = 'depochain/p2p/v1/keys+challenge', 96 bytes) = lo->hi key, hi->lo "
        "key, challenge. Frame = 4-byte big-endian length || ChaCha20-Poly1305-IETF(key, nonce = "
        "4 zero bytes || 64-bit little-endian frame counter, aad = the length header, plaintext = "
        "kind byte || body). Auth body = encoding of [public_key, signature of the challenge's "
        "sign-bytes, chain_id].",
        vectors,
        enums=enum_table(FrameKind, SignPurpose),
        layouts={"auth_message": ["public_key", "signature", "chain_id"]},
    )
