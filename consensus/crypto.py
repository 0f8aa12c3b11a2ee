"""Hashing, Ed25519 signatures with domain-separated sign-bytes, and RFC 6962 Merkle trees.

Sign-bytes always name their *purpose* and the ``chain_id``: a signature made for a vote can never
be presented as a transaction's, and nothing signed on one network verifies on another. Keys are
derived from a 32-byte seed that the caller supplies: this module never draws randomness.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import msgpack
import nacl.exceptions
import nacl.signing

from consensus import codec
from consensus.types import (
    CHAIN_ID_MAX_LEN,
    HASH_LEN,
    PUBLIC_KEY_LEN,
    SIGNATURE_LEN,
    ChainId,
    Hash32,
    PublicKey,
    Signature,
)

SIGN_DOMAIN = b"depochain/sign/v1"


class SignPurpose(enum.IntEnum):
    """What a signature is for; part of every sign-bytes so signatures cannot cross purposes."""

    TRANSACTION = 1
    PROPOSAL = 2
    VOTE = 3
    P2P_HANDSHAKE = 4


def sha256(data: bytes) -> Hash32:
    return Hash32(hashlib.sha256(data).digest())


def compute_sign_bytes(purpose: SignPurpose, chain_id: ChainId, payload: bytes) -> bytes:
    """The exact bytes an Ed25519 key signs: domain, purpose and chain id, then the payload."""
    if not 0 < len(chain_id) <= CHAIN_ID_MAX_LEN:
        raise codec.CodecError("chain_id length out of range")
    if type(chain_id) is str and type(payload) is bytes:
        # The codec's bytes for a list of a bytes, an int, a str and a bytes, packed directly
        # (nothing to reorder, every type known): this runs for every signature checked.
        # (msgpack.packb is Packer(**kwargs).pack: the Packer directly skips the kwargs wrapper)
        packed: bytes = msgpack.Packer().pack([SIGN_DOMAIN, int(purpose), chain_id, payload])
        return packed
    return codec.encode([SIGN_DOMAIN, int(purpose), chain_id, payload])


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An Ed25519 signing key. Construct from a 32-byte seed the caller generated."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(bytes(_signing_key(self.seed).verify_key))

    def sign(self, purpose: SignPurpose, chain_id: ChainId, payload: bytes) -> Signature:
        message = compute_sign_bytes(purpose, chain_id, payload)
        return Signature(_signing_key(self.seed).sign(message).signature)

    def sign_raw(self, message: bytes) -> Signature:
        """Sign bytes as given (only for test vectors; protocol code uses :meth:`sign`)."""
        return Signature(_signing_key(self.seed).sign(message).signature)

    def __repr__(self) -> str:  # never print a secret
        return f"PrivateKey(public_key={self.public_key.hex()})"


_SIGNING_KEYS: dict[bytes, nacl.signing.SigningKey] = {}
_KEY_CACHE_MAX = 4096


def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    # Expanding a seed costs a scalar multiplication; a node signs with one key all day.
    key = _SIGNING_KEYS.get(seed)
    if key is None:
        key = nacl.signing.SigningKey(seed)
        if len(_SIGNING_KEYS) >= _KEY_CACHE_MAX:
            _SIGNING_KEYS.clear()
        _SIGNING_KEYS[seed] = key
    return key


_VERIFY_KEYS: dict[bytes, nacl.signing.VerifyKey] = {}


def _verify_key(public_key: bytes) -> nacl.signing.VerifyKey:
    # Building a VerifyKey decodes the curve point; banks' keys repeat, so keep a bounded cache.
    key = _VERIFY_KEYS.get(public_key)
    if key is None:
        key = nacl.signing.VerifyKey(public_key)
        if len(_VERIFY_KEYS) >= _KEY_CACHE_MAX:
            _VERIFY_KEYS.clear()
        _VERIFY_KEYS[public_key] = key
    return key


def verify_raw(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    try:
        _verify_key(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


def verify(
    public_key: bytes,
    purpose: SignPurpose,
    chain_id: ChainId,
    payload: bytes,
    signature: bytes,
) -> bool:
    """Verify a signature over the domain-separated sign-bytes of ``payload``."""
    try:
        message = compute_sign_bytes(purpose, chain_id, payload)
    except codec.CodecError:
        return False
    return verify_raw(public_key, message, signature)


# ---------------------------------------------------------------------------------------------
# Merkle trees as in RFC 6962 §2.1: leaves and inner nodes hashed with distinct prefixes, so a
# leaf can never pass for an inner node (second-preimage safety).

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
MERKLE_PROOF_DEPTH_MAX = 64


def merkle_leaf_hash(leaf: bytes) -> Hash32:
    return sha256(_LEAF_PREFIX + leaf)


def merkle_node_hash(left: bytes, right: bytes) -> Hash32:
    return sha256(_NODE_PREFIX + left + right)


def _split_point(n: int) -> int:
    """Largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> Hash32:
    """RFC 6962 Merkle tree hash of ``leaves``; the empty tree hashes to sha256(b"")."""
    return _root_of_hashes([merkle_leaf_hash(leaf) for leaf in leaves])


def _root_of_hashes(hashes: list[Hash32]) -> Hash32:
    if not hashes:
        return sha256(b"")
    # Bottom-up pairing gives the same tree as RFC 6962's recursive split: an odd last node is
    # carried up unchanged, which is exactly the unbalanced right edge of the RFC tree.
    level = hashes
    while len(level) > 1:
        paired = [merkle_node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


@dataclass(frozen=True, slots=True)
class MerkleProof:
    """An inclusion proof: leaf ``index`` of ``total`` leaves, with sibling hashes leaf to root."""

    index: int
    total: int
    aunts: tuple[Hash32, ...]

    def to_wire(self) -> list[object]:
        return [self.index, self.total, list(self.aunts)]

    @classmethod
    def from_wire(cls, value: codec.Value) -> MerkleProof:
        index, total, aunts = codec.expect_fields(value, "merkle_proof", 3)
        return cls(
            index=codec.expect_uint(index, "index"),
            total=codec.expect_uint(total, "total"),
            aunts=codec.expect_list_of(
                aunts,
                "aunts",
                lambda a: Hash32(codec.expect_bytes(a, "aunt", HASH_LEN)),
                MERKLE_PROOF_DEPTH_MAX,
            ),
        )


def merkle_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    """Inclusion proof for ``leaves[index]`` (RFC 6962 §2.1.1 audit path)."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    hashes = [merkle_leaf_hash(leaf) for leaf in leaves]
    return MerkleProof(index, len(leaves), tuple(_audit_path(hashes, index)))


def _audit_path(hashes: list[Hash32], index: int) -> list[Hash32]:
    if len(hashes) <= 1:
        return []
    k = _split_point(len(hashes))
    if index < k:
        return [*_audit_path(hashes[:k], index), _root_of_hashes(hashes[k:])]
    return [*_audit_path(hashes[k:], index - k), _root_of_hashes(hashes[:k])]


def verify_merkle_proof(root: bytes, leaf: bytes, proof: MerkleProof) -> bool:
    """True iff ``leaf`` sits at ``proof.index`` of a ``proof.total``-leaf tree with ``root``."""
    if not 0 <= proof.index < proof.total or len(proof.aunts) > MERKLE_PROOF_DEPTH_MAX:
        return False
    computed = _root_from_path(merkle_leaf_hash(leaf), proof.index, proof.total, proof.aunts)
    return computed is not None and computed == root


def _root_from_path(
    leaf_hash: Hash32, index: int, total: int, aunts: Sequence[Hash32]
) -> Hash32 | None:
    if total == 1:
        return leaf_hash if not aunts else None
    if not aunts:
        return None
    k = _split_point(total)
    if index < k:
        left = _root_from_path(leaf_hash, index, k, aunts[:-1])
        return None if left is None else merkle_node_hash(left, aunts[-1])
    right = _root_from_path(leaf_hash, index - k, total - k, aunts[:-1])
    return None if right is None else merkle_node_hash(aunts[-1], right)
