"""Pure parts of the P2P transport: frame sealing/opening, key derivation, auth validation,
limits and backoff. No sockets here (see test_p2p_network.py)."""

from __future__ import annotations

import random

import nacl.bindings
import nacl.public
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.types import ChainId, PublicKey
from node.p2p import P2PLimits
from node.p2p.errors import FrameError, HandshakeError
from node.p2p.frames import HEADER, TAG_LEN, FrameKind, FrameOpener, FrameSealer, compute_nonce
from node.p2p.handshake import (
    AuthMessage,
    compute_auth_message,
    compute_hkdf_sha256,
    compute_session_keys,
    decode_auth_message,
    validate_auth_message,
)
from node.p2p.limits import compute_backoff_s

CHAIN = ChainId("depochain-test")
KEY_A = b"\x11" * 32
KEY_B = b"\x22" * 32


def split(frame: bytes) -> tuple[bytes, bytes]:
    return frame[: HEADER.size], frame[HEADER.size :]


# -- frames ----------------------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=2048), min_size=1, max_size=8))
def test_frames_round_trip_in_order(bodies: list[bytes]) -> None:
    sealer, opener = FrameSealer(KEY_A), FrameOpener(KEY_A, 2048)
    for body in bodies:
        frame = sealer.seal(FrameKind.MESSAGE, body)
        assert len(frame) == HEADER.size + 1 + len(body) + TAG_LEN
        assert opener.open(*split(frame)) == (FrameKind.MESSAGE, body)


@given(st.binary(max_size=256), st.data())
def test_any_flipped_bit_is_rejected(body: bytes, data: st.DataObject) -> None:
    frame = bytearray(FrameSealer(KEY_A).seal(FrameKind.MESSAGE, body))
    index = data.draw(st.integers(HEADER.size, len(frame) - 1))
    frame[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(FrameError) as err:
        FrameOpener(KEY_A, 1024).open(*split(bytes(frame)))
    assert err.value.reason == "decrypt_failed"


def test_altered_length_header_is_rejected() -> None:
    frame = FrameSealer(KEY_A).seal(FrameKind.MESSAGE, b"abc")
    header, ciphertext = split(frame)
    (length,) = HEADER.unpack(header)
    with pytest.raises(FrameError) as err:
        FrameOpener(KEY_A, 1024).open(HEADER.pack(length + 1), ciphertext + b"\x00")
    assert err.value.reason == "decrypt_failed"  # the header is associated data


def test_replayed_or_reordered_frames_are_rejected() -> None:
    sealer = FrameSealer(KEY_A)
    first, second = sealer.seal(FrameKind.MESSAGE, b"1"), sealer.seal(FrameKind.MESSAGE, b"2")
    opener = FrameOpener(KEY_A, 1024)
    opener.open(*split(first))
    with pytest.raises(FrameError):
        opener.open(*split(first))  # replay
    reordered = FrameOpener(KEY_A, 1024)
    with pytest.raises(FrameError):
        reordered.open(*split(second))


def test_frame_under_another_key_is_rejected() -> None:
    frame = FrameSealer(KEY_A).seal(FrameKind.MESSAGE, b"reflected")
    with pytest.raises(FrameError):
        FrameOpener(KEY_B, 1024).open(*split(frame))


def test_length_limits_are_checked_before_reading_the_body() -> None:
    opener = FrameOpener(KEY_A, 100)
    assert opener.read_length(HEADER.pack(1 + 100 + TAG_LEN)) == 117
    with pytest.raises(FrameError) as err:
        opener.read_length(HEADER.pack(1 + 101 + TAG_LEN))
    assert err.value.reason == "frame_too_large"
    with pytest.raises(FrameError) as err:
        opener.read_length(HEADER.pack(2**32 - 1))
    assert err.value.reason == "frame_too_large"
    with pytest.raises(FrameError) as err:
        opener.read_length(HEADER.pack(TAG_LEN))
    assert err.value.reason == "frame_too_short"


def test_unknown_frame_kind_is_rejected() -> None:
    header = HEADER.pack(1 + TAG_LEN)
    ciphertext = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
        b"\x63", header, compute_nonce(0), KEY_A
    )
    with pytest.raises(FrameError) as err:
        FrameOpener(KEY_A, 100).open(header, ciphertext)
    assert err.value.reason == "unknown_frame_kind"


def test_nonces_are_distinct_per_counter() -> None:
    assert compute_nonce(0) != compute_nonce(1)
    assert len(compute_nonce(2**64 - 1)) == 12


# -- key agreement -----------------------------------------------------------------------------


def test_hkdf_matches_rfc5869_test_case_1() -> None:
    okm = compute_hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_both_sides_derive_matching_directional_keys() -> None:
    a, b = nacl.public.PrivateKey.generate(), nacl.public.PrivateKey.generate()
    ka = compute_session_keys(bytes(a), bytes(a.public_key), bytes(b.public_key))
    kb = compute_session_keys(bytes(b), bytes(b.public_key), bytes(a.public_key))
    assert ka.send_key == kb.recv_key and ka.recv_key == kb.send_key
    assert ka.send_key != ka.recv_key
    assert ka.challenge == kb.challenge
    other = nacl.public.PrivateKey.generate()
    kc = compute_session_keys(bytes(a), bytes(a.public_key), bytes(other.public_key))
    assert kc.challenge != ka.challenge  # fresh per exchange


def test_reflected_and_low_order_ephemeral_keys_are_refused() -> None:
    a = nacl.public.PrivateKey.generate()
    with pytest.raises(HandshakeError) as err:
        compute_session_keys(bytes(a), bytes(a.public_key), bytes(a.public_key))
    assert err.value.reason == "reflected_ephemeral_key"
    with pytest.raises(HandshakeError) as err:
        compute_session_keys(bytes(a), bytes(a.public_key), b"\x00" * 32)
    assert err.value.reason == "low_order_ephemeral_key"


# -- authentication message --------------------------------------------------------------------

ME, PEER, STRANGER = (PrivateKey(bytes([i]) * 32) for i in (1, 2, 3))
CHALLENGE = b"\x5a" * 32


def validate(auth: AuthMessage, expected: PublicKey | None = None) -> None:
    allowed = {ME.public_key, PEER.public_key}
    validate_auth_message(
        auth, CHALLENGE, CHAIN, ME.public_key, expected, lambda key: key in allowed
    )


def reason_of(auth: AuthMessage, expected: PublicKey | None = None) -> str:
    with pytest.raises(HandshakeError) as err:
        validate(auth, expected)
    return err.value.reason


def test_valid_auth_is_accepted_and_round_trips() -> None:
    auth = compute_auth_message(PEER, CHAIN, CHALLENGE)
    validate(auth)
    validate(auth, expected=PEER.public_key)
    assert decode_auth_message(codec.encode(auth.to_wire())) == auth


def test_auth_refusal_reasons() -> None:
    assert reason_of(compute_auth_message(STRANGER, CHAIN, CHALLENGE)) == "unknown_peer_key"
    assert reason_of(compute_auth_message(ME, CHAIN, CHALLENGE)) == "self_connection"
    peer = compute_auth_message(PEER, CHAIN, CHALLENGE)
    assert reason_of(peer, expected=STRANGER.public_key) == "unexpected_peer_key"
    other_chain = compute_auth_message(PEER, ChainId("other"), CHALLENGE)
    assert reason_of(other_chain) == "wrong_chain_id"
    lying = AuthMessage(other_chain.public_key, other_chain.signature, CHAIN)
    assert reason_of(lying) == "bad_signature"  # claims our chain, signed for another
    stolen = AuthMessage(
        PEER.public_key, compute_auth_message(STRANGER, CHAIN, CHALLENGE).signature, CHAIN
    )
    assert reason_of(stolen) == "bad_signature"
    stale = compute_auth_message(PEER, CHAIN, b"\x00" * 32)
    assert reason_of(stale) == "bad_signature"  # replay of another exchange's signature


@given(st.binary(max_size=300))
def test_garbage_auth_raises_only_handshake_error(data: bytes) -> None:
    try:
        decode_auth_message(data)
    except HandshakeError as err:
        assert err.reason == "malformed_auth"


# -- limits and backoff ------------------------------------------------------------------------


def test_limits_reject_inconsistent_values() -> None:
    with pytest.raises(ValueError):
        P2PLimits(handshake_timeout_ms=0)
    with pytest.raises(ValueError):
        P2PLimits(frame_body_bytes_max=2000, queue_bytes_max=1000)
    with pytest.raises(ValueError):
        P2PLimits(keepalive_interval_ms=5000, read_idle_timeout_ms=5000)
    with pytest.raises(ValueError):
        P2PLimits(reconnect_backoff_min_ms=500, reconnect_backoff_max_ms=100)


@given(st.integers(0, 10_000), st.integers(0, 2**32))
def test_backoff_grows_exponentially_with_jitter_and_is_capped(failures: int, seed: int) -> None:
    rng = random.Random(seed)
    delay_s = compute_backoff_s(failures, 100, 10_000, rng)
    ceiling_ms = min(10_000, 100 * 2 ** min(failures, 32))
    assert ceiling_ms / 2 / 1000 <= delay_s <= ceiling_ms / 1000
