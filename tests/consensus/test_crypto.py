"""Ed25519 against RFC 8032, domain separation, and RFC 6962 Merkle trees and proofs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec, crypto
from consensus.crypto import MerkleProof, PrivateKey, SignPurpose
from consensus.types import ChainId

# RFC 8032 §7.1, TEST 1-3: (secret key seed, public key, message, signature)
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032_VECTORS)
def test_rfc8032_vectors(seed: str, public: str, message: str, signature: str) -> None:
    key = PrivateKey(bytes.fromhex(seed))
    assert key.public_key.hex() == public
    assert key.sign_raw(bytes.fromhex(message)).hex() == signature
    assert crypto.verify_raw(
        bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    )
    tampered = bytearray(bytes.fromhex(signature))
    tampered[0] ^= 1
    assert not crypto.verify_raw(bytes.fromhex(public), bytes.fromhex(message), bytes(tampered))


KEY = PrivateKey(bytes(range(32)))
CHAIN = ChainId("depochain-test")


def test_signature_does_not_cross_chain_or_purpose() -> None:
    sig = KEY.sign(SignPurpose.VOTE, CHAIN, b"payload")
    assert crypto.verify(KEY.public_key, SignPurpose.VOTE, CHAIN, b"payload", sig)
    assert not crypto.verify(KEY.public_key, SignPurpose.VOTE, ChainId("other"), b"payload", sig)
    for purpose in SignPurpose:
        if purpose is not SignPurpose.VOTE:
            assert not crypto.verify(KEY.public_key, purpose, CHAIN, b"payload", sig)
    assert not crypto.verify(KEY.public_key, SignPurpose.VOTE, CHAIN, b"payloaX", sig)
    other = PrivateKey(bytes(32))
    assert not crypto.verify(other.public_key, SignPurpose.VOTE, CHAIN, b"payload", sig)


@pytest.mark.parametrize("public", [b"", b"\x00" * 31, b"\xff" * 32])
def test_malformed_keys_and_signatures_fail_closed(public: bytes) -> None:
    assert not crypto.verify_raw(public, b"m", b"\x00" * 64)
    assert not crypto.verify_raw(KEY.public_key, b"m", b"\x00" * 63)


def test_private_key_repr_hides_the_seed() -> None:
    assert bytes(range(32)).hex() not in repr(KEY)


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written recursively as the RFC states it."""
    n = len(leaves)
    if n == 0:
        return crypto.sha256(b"")
    if n == 1:
        return crypto.sha256(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return crypto.sha256(b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:]))


@given(st.lists(st.binary(max_size=8), max_size=40))
def test_merkle_root_matches_rfc6962_definition(leaves: list[bytes]) -> None:
    assert crypto.merkle_root(leaves) == _reference_root(leaves)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_every_inclusion_proof_verifies_and_wrong_ones_do_not(
    leaves: list[bytes], data: st.DataObject
) -> None:
    root = crypto.merkle_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1))
    proof = crypto.merkle_proof(leaves, index)
    assert crypto.verify_merkle_proof(root, leaves[index], proof)
    assert MerkleProof.from_wire(proof.to_wire()) == proof
    assert not crypto.verify_merkle_proof(root, leaves[index] + b"!", proof)
    if len(leaves) > 1:
        moved = MerkleProof((index + 1) % len(leaves), proof.total, proof.aunts)
        if leaves[moved.index] != leaves[index]:
            assert not crypto.verify_merkle_proof(root, leaves[index], moved)
        assert not crypto.verify_merkle_proof(root, leaves[index], MerkleProof(index, 1, ()))


def test_leaf_cannot_pose_as_inner_node() -> None:
    leaves = [b"a", b"b"]
    root = crypto.merkle_root(leaves)
    inner = crypto.merkle_leaf_hash(b"a") + crypto.merkle_leaf_hash(b"b")
    assert not crypto.verify_merkle_proof(root, inner, MerkleProof(0, 1, ()))


@given(
    st.sampled_from(list(crypto.SignPurpose)),
    st.text(min_size=1, max_size=crypto.CHAIN_ID_MAX_LEN),
    st.binary(max_size=300),
)
def test_sign_bytes_are_the_canonical_encoding(
    purpose: crypto.SignPurpose, chain_id: str, payload: bytes
) -> None:
    """The packer's shortcut in compute_sign_bytes gives the codec's bytes (what was signed
    before it stays verifiable, on every node)."""
    expected = codec.encode([crypto.SIGN_DOMAIN, int(purpose), chain_id, payload])
    assert crypto.compute_sign_bytes(purpose, ChainId(chain_id), payload) == expected
