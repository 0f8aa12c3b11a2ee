"""Encrypted, authenticated, length-limited frames over an asyncio stream.

Wire format of one frame: a 4-byte big-endian length ``n``, then ``n`` bytes of
ChaCha20-Poly1305 (IETF) ciphertext with its 16-byte tag. The length header is the associated
data, so it cannot be altered either. Each direction has its own key and a counter nonce
(4 zero bytes, then the 64-bit little-endian frame number): a frame cannot be replayed, dropped,
reordered or reflected without the next decryption failing. The length is checked against the
limit *before* the body is read, so a peer can never make us buffer more than one maximal frame.

Plaintext = one ``FrameKind`` byte, then the body. Any failure raises :class:`FrameError`; the
caller must then close the connection, since the nonce streams can no longer be trusted.
"""

from __future__ import annotations

import asyncio
import enum
import struct

import nacl.bindings
import nacl.exceptions

from node.p2p.errors import FrameError

KEY_LEN = 32
TAG_LEN = 16
HEADER = struct.Struct(">I")
FRAME_OVERHEAD_BYTES = HEADER.size + 1 + TAG_LEN
"""Wire bytes of a frame beyond its body: length header, kind byte, Poly1305 tag."""
_NONCE_PREFIX = b"\x00\x00\x00\x00"
_COUNTER_MAX = 2**64 - 1


class FrameKind(enum.IntEnum):
    """What a decrypted frame carries."""

    AUTH = 1
    """The handshake's authentication message; only ever the first frame in each direction."""
    MESSAGE = 2
    """An opaque application payload."""
    KEEPALIVE = 3
    """Empty body; sent when idle so a dead peer is noticed by the read timeout."""


def compute_nonce(counter: int) -> bytes:
    return _NONCE_PREFIX + counter.to_bytes(8, "little")


class FrameSealer:
    """Encrypts outgoing frames of one direction; the counter advances once per frame."""

    __slots__ = ("_counter", "_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LEN:
            raise ValueError("frame key must be 32 bytes")
        self._key = key
        self._counter = 0

    def seal(self, kind: FrameKind, body: bytes) -> bytes:
        """Header and ciphertext of the next frame."""
        if self._counter >= _COUNTER_MAX:
            # Unreachable in practice (2**64 frames), but a reused nonce would leak plaintext.
            raise FrameError("nonce_exhausted")
        header = HEADER.pack(1 + len(body) + TAG_LEN)
        ciphertext = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
            bytes([kind]) + body, header, compute_nonce(self._counter), self._key
        )
        self._counter += 1
        return header + ciphertext


class FrameOpener:
    """Checks and decrypts incoming frames of one direction, in order."""

    __slots__ = ("_counter", "_key", "body_bytes_max")

    def __init__(self, key: bytes, body_bytes_max: int) -> None:
        if len(key) != KEY_LEN:
            raise ValueError("frame key must be 32 bytes")
        self._key = key
        self._counter = 0
        self.body_bytes_max = body_bytes_max

    def read_length(self, header: bytes) -> int:
        """The ciphertext length announced by ``header``; raises if outside the limits."""
        (length,) = HEADER.unpack(header)
        if length < 1 + TAG_LEN:
            raise FrameError("frame_too_short", f"{length} bytes")
        if length > 1 + self.body_bytes_max + TAG_LEN:
            raise FrameError("frame_too_large", f"{length} bytes")
        return int(length)

    def open(self, header: bytes, ciphertext: bytes) -> tuple[FrameKind, bytes]:
        """Authenticate and decrypt one frame; returns its kind and body."""
        if len(ciphertext) != self.read_length(header):
            raise FrameError("frame_length_mismatch")
        if self._counter >= _COUNTER_MAX:
            raise FrameError("nonce_exhausted")
        try:
            plaintext = nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
                ciphertext, header, compute_nonce(self._counter), self._key
            )
        except nacl.exceptions.CryptoError as exc:
            raise FrameError("decrypt_failed") from exc
        self._counter += 1
        try:
            kind = FrameKind(plaintext[0])
        except ValueError as exc:
            raise FrameError("unknown_frame_kind", str(plaintext[0])) from exc
        return kind, plaintext[1:]


async def read_frame(
    reader: asyncio.StreamReader, opener: FrameOpener, timeout_s: float
) -> tuple[FrameKind, bytes]:
    """Read, check and decrypt the next frame, all within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            header = await reader.readexactly(HEADER.size)
            ciphertext = await reader.readexactly(opener.read_length(header))
    except TimeoutError as exc:
        raise FrameError("read_timeout") from exc
    except asyncio.IncompleteReadError as exc:
        raise FrameError("connection_closed") from exc
    except OSError as exc:
        raise FrameError("read_failed", str(exc)) from exc
    return opener.open(header, ciphertext)


async def write_frame(
    writer: asyncio.StreamWriter,
    sealer: FrameSealer,
    kind: FrameKind,
    body: bytes,
    timeout_s: float,
) -> int:
    """Encrypt and send one frame; returns its size on the wire. Raises if not drained in time."""
    return await write_frames(writer, sealer, kind, [body], timeout_s)


async def write_frames(
    writer: asyncio.StreamWriter,
    sealer: FrameSealer,
    kind: FrameKind,
    bodies: list[bytes],
    timeout_s: float,
) -> int:
    """Encrypt and send several frames with one write and one drain; returns bytes sent."""
    frames = [sealer.seal(kind, body) for body in bodies]
    try:
        writer.writelines(frames)
        async with asyncio.timeout(timeout_s):
            await writer.drain()
    except TimeoutError as exc:
        raise FrameError("write_timeout") from exc
    except OSError as exc:  # includes ConnectionResetError / BrokenPipeError
        raise FrameError("write_failed", str(exc)) from exc
    return sum(len(frame) for frame in frames)
