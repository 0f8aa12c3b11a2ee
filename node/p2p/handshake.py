"""Mutual authentication of a fresh X25519 key exchange (station-to-station, as in CometBFT's
SecretConnection, re-derived here rather than ported).

1. Each side sends ``MAGIC`` and a fresh ephemeral X25519 public key (in parallel: no deadlock).
2. Both compute the X25519 shared secret and a transcript hash of the two ephemeral keys in
   sorted order, and from them with HKDF-SHA256 two directional frame keys and a challenge.
3. Each side sends, as its first encrypted frame, its long-term Ed25519 key, the chain id it
   believes in, and its signature of the challenge (``SignPurpose.P2P_HANDSHAKE`` sign-bytes,
   which include the chain id). The signature binds the long-term key to *this* exchange, so a
   man in the middle, who must run two different exchanges, cannot relay it.
4. The peer is accepted only if the signature verifies under our chain id, the key is not ours,
   is the one we meant to dial (dialer side) and is in the allowlist.

Ephemeral keys are drawn from the OS by pynacl: forward secrecy needs fresh randomness per
connection (only the known-answer vectors inject fixed ones, to pin the transcript). Every
failure raises :class:`HandshakeError` (or :class:`FrameError`); the caller closes the socket.
The whole handshake runs under one timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.public

from consensus import codec
from consensus.crypto import PrivateKey, SignPurpose, verify
from consensus.types import CHAIN_ID_MAX_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN, ChainId, PublicKey
from consensus.version import PROTOCOL_VERSION
from node.p2p.errors import FrameError, HandshakeError
from node.p2p.frames import FrameKind, FrameOpener, FrameSealer, read_frame, write_frame

MAGIC = b"DPC" + bytes([PROTOCOL_VERSION])
"""Protocol name and consensus protocol version: garbage, another protocol or a node of another
protocol version (which would fork from us) fails on the first 4 bytes."""
EPHEMERAL_LEN = 32
HELLO_LEN = len(MAGIC) + EPHEMERAL_LEN
AUTH_BYTES_MAX = 256
_TRANSCRIPT_DOMAIN = b"depochain/p2p/v1/transcript"
_KDF_INFO = b"depochain/p2p/v1/keys+challenge"


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """What both sides derive from one ephemeral exchange."""

    send_key: bytes
    """Encrypts our frames (the peer's ``recv_key``)."""
    recv_key: bytes
    """Decrypts the peer's frames (the peer's ``send_key``)."""
    challenge: bytes
    """32 bytes both long-term keys sign; unique to this exchange."""


@dataclass(frozen=True, slots=True)
class AuthMessage:
    """The first encrypted frame in each direction."""

    public_key: PublicKey
    signature: bytes
    chain_id: str
    """Claimed chain id; only for a clear refusal reason, the signature is what binds it."""

    def to_wire(self) -> list[object]:
        return [self.public_key, self.signature, self.chain_id]

    @classmethod
    def from_wire(cls, value: codec.Value) -> AuthMessage:
        key, signature, chain_id = codec.expect_fields(value, "auth", 3)
        return cls(
            public_key=PublicKey(codec.expect_bytes(key, "public_key", PUBLIC_KEY_LEN)),
            signature=codec.expect_bytes(signature, "signature", SIGNATURE_LEN),
            chain_id=codec.expect_str(chain_id, "chain_id", CHAIN_ID_MAX_LEN, 1),
        )


@dataclass(frozen=True, slots=True)
class SecureSession:
    """An authenticated connection's peer identity and frame ciphers."""

    peer_key: PublicKey
    sealer: FrameSealer
    opener: FrameOpener


def compute_hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256."""
    prk = hmac.digest(salt, ikm, hashlib.sha256)
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.digest(prk, block + info + bytes([i]), hashlib.sha256)
        out += block
    return out[:length]


def compute_session_keys(our_secret: bytes, our_public: bytes, peer_public: bytes) -> SessionKeys:
    """Directional keys and challenge from our ephemeral secret and both ephemeral publics."""
    if hmac.compare_digest(our_public, peer_public):
        raise HandshakeError("reflected_ephemeral_key")  # our own hello echoed back
    try:
        shared = nacl.bindings.crypto_scalarmult(our_secret, peer_public)
    except nacl.exceptions.CryptoError as exc:
        # libsodium refuses low-order points (all-zero shared secret): no secrecy left.
        raise HandshakeError("low_order_ephemeral_key") from exc
    lo, hi = sorted((our_public, peer_public))
    transcript = hashlib.sha256(_TRANSCRIPT_DOMAIN + lo + hi).digest()
    okm = compute_hkdf_sha256(shared, transcript, _KDF_INFO, 96)
    lo_to_hi, hi_to_lo, challenge = okm[:32], okm[32:64], okm[64:]
    if our_public == lo:
        return SessionKeys(send_key=lo_to_hi, recv_key=hi_to_lo, challenge=challenge)
    return SessionKeys(send_key=hi_to_lo, recv_key=lo_to_hi, challenge=challenge)


def compute_auth_message(node_key: PrivateKey, chain_id: ChainId, challenge: bytes) -> AuthMessage:
    signature = node_key.sign(SignPurpose.P2P_HANDSHAKE, chain_id, challenge)
    return AuthMessage(node_key.public_key, signature, chain_id)


def decode_auth_message(body: bytes) -> AuthMessage:
    try:
        return AuthMessage.from_wire(codec.decode(body, AUTH_BYTES_MAX))
    except codec.CodecError as exc:
        raise HandshakeError("malformed_auth", str(exc)) from exc


def validate_auth_message(
    auth: AuthMessage,
    challenge: bytes,
    chain_id: ChainId,
    our_key: PublicKey,
    expected_peer_key: PublicKey | None,
    is_allowed: Callable[[PublicKey], bool],
) -> None:
    """Raise unless ``auth`` proves an acceptable peer key for this exchange."""
    if auth.chain_id != chain_id:
        raise HandshakeError("wrong_chain_id", repr(auth.chain_id))
    if not verify(auth.public_key, SignPurpose.P2P_HANDSHAKE, chain_id, challenge, auth.signature):
        raise HandshakeError("bad_signature", auth.public_key.hex())
    if auth.public_key == our_key:
        raise HandshakeError("self_connection")
    if expected_peer_key is not None and auth.public_key != expected_peer_key:
        raise HandshakeError("unexpected_peer_key", auth.public_key.hex())
    if not is_allowed(auth.public_key):
        raise HandshakeError("unknown_peer_key", auth.public_key.hex())


async def exchange_hellos(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ephemeral_public: bytes
) -> bytes:
    """Send our hello, read the peer's; returns the peer's ephemeral public key."""
    try:
        writer.write(MAGIC + ephemeral_public)
        await writer.drain()
        hello = await reader.readexactly(HELLO_LEN)
    except asyncio.IncompleteReadError as exc:
        raise HandshakeError("connection_closed_in_handshake") from exc
    except OSError as exc:
        raise HandshakeError("io_error_in_handshake", str(exc)) from exc
    if hello[: len(MAGIC)] != MAGIC:
        raise HandshakeError("bad_magic", hello[: len(MAGIC)].hex())
    return hello[len(MAGIC) :]


async def _exchange_hellos_within(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ephemeral_public: bytes,
    timeout_s: float | None,
) -> bytes:
    try:
        async with asyncio.timeout(timeout_s):
            return await exchange_hellos(reader, writer, ephemeral_public)
    except TimeoutError as exc:
        raise HandshakeError("hello_timeout") from exc


async def perform_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    node_key: PrivateKey,
    chain_id: ChainId,
    expected_peer_key: PublicKey | None,
    is_allowed: Callable[[PublicKey], bool],
    body_bytes_max: int,
    timeout_s: float,
    hello_timeout_s: float | None = None,
    on_hello: Callable[[], None] | None = None,
    ephemeral_key: nacl.public.PrivateKey | None = None,
) -> SecureSession:
    """Run the whole handshake within ``timeout_s``; returns the authenticated session.

    The plaintext hello must arrive within ``hello_timeout_s`` (default: the whole timeout), and
    ``on_hello`` is called once it has: a real peer sends it at once, so a socket still silent
    after a moment is idle or hostile, and the caller may drop it first when slots run short.

    ``ephemeral_key`` is for known-answer tests only: a node must leave it None (a fresh key per
    connection), since a reused ephemeral key gives up forward secrecy."""
    try:
        async with asyncio.timeout(timeout_s):
            ephemeral = ephemeral_key
            if ephemeral is None:
                ephemeral = nacl.public.PrivateKey.generate()
            ephemeral_public = bytes(ephemeral.public_key)
            peer_ephemeral = await _exchange_hellos_within(
                reader, writer, ephemeral_public, hello_timeout_s
            )
            if on_hello is not None:
                on_hello()
            keys = compute_session_keys(bytes(ephemeral), ephemeral_public, peer_ephemeral)
            sealer = FrameSealer(keys.send_key)
            opener = FrameOpener(keys.recv_key, AUTH_BYTES_MAX)
            ours = compute_auth_message(node_key, chain_id, keys.challenge)
            await write_frame(
                writer, sealer, FrameKind.AUTH, codec.encode(ours.to_wire()), timeout_s
            )
            kind, body = await read_frame(reader, opener, timeout_s)
    except TimeoutError as exc:
        raise HandshakeError("handshake_timeout") from exc
    except FrameError as exc:
        raise HandshakeError(exc.reason, "in handshake") from exc
    if kind is not FrameKind.AUTH:
        raise HandshakeError("expected_auth_frame", kind.name)
    auth = decode_auth_message(body)
    validate_auth_message(
        auth, keys.challenge, chain_id, node_key.public_key, expected_peer_key, is_allowed
    )
    opener.body_bytes_max = body_bytes_max  # the auth frame is small; later frames may be blocks
    return SecureSession(auth.public_key, sealer, opener)
