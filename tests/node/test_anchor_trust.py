"""Which certified headers the offline verifier trusts, from the genesis set alone: a header of
the genesis set signed by > 2/3 of it; a header of a changed set only when > 1/3 of the GENESIS
set's power is among its signers and within genesis's trust window. Keys are generated here, so
a "changed set" can be made up freely (the cluster tests cover the genesis-set case)."""

from __future__ import annotations

import hashlib

import pytest

from consensus.blocks import Header
from consensus.crypto import PrivateKey, SignPurpose
from consensus.messages import CommitCertificate, CommitSig, VoteType, compute_vote_sign_payload
from consensus.types import ChainId, Hash32, Height, Round, TimestampMs, ValidatorIndex
from consensus.validators import ValidatorSet
from node.client import ProofError
from node.client.state_proofs import Trust, verify_anchor
from node.rpc.rest import shapes as aj

CHAIN = ChainId("anchor-test")
WINDOW = 1000


def key(n: int) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"anchor-test-%d" % n).digest())


GENESIS = [key(n) for n in range(4)]
NEW = [key(n) for n in range(10, 14)]


def vset(keys: list[PrivateKey]) -> ValidatorSet:
    return ValidatorSet.of([(k.public_key, 10) for k in keys])


def anchor(height: int, members: list[PrivateKey], signing: list[PrivateKey]) -> dict[str, object]:
    """Header ``height`` naming the set of ``members``, certified by ``signing``."""
    validators = vset(members)
    zero = Hash32(bytes(32))
    header = Header(
        CHAIN, Height(height), TimestampMs(1), members[0].public_key, zero, None, zero,
        Hash32(b"\x01" * 32), zero, validators.compute_hash(), zero,
    )  # fmt: skip
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, header.height, 0, header.hash)
    by_key = {k.public_key: k for k in signing}
    signatures = tuple(
        CommitSig(ValidatorIndex(i), by_key[v.public_key].sign(SignPurpose.VOTE, CHAIN, payload))
        for i, v in enumerate(validators.validators)
        if v.public_key in by_key
    )
    certificate = CommitCertificate(header.height, Round(0), header.hash, signatures)
    return {
        "height": height - 1,
        "header": aj.header_json(header),
        "certificate": aj.certificate_json(certificate),
        "validators": aj.validator_set_json(validators, {}),
    }


TRUST = Trust(CHAIN, vset(GENESIS), WINDOW)


def test_a_header_of_the_genesis_set_is_trusted() -> None:
    root = verify_anchor(anchor(50, GENESIS, GENESIS[:3]), TRUST)
    assert root.height == 49 and not root.trusted_set_changed and root.signed_power == 30


def test_a_header_of_a_changed_set_is_trusted_when_genesis_power_vouches() -> None:
    changed = [*GENESIS[:3], NEW[0]]  # one quarter of the power is new: what governance allows
    root = verify_anchor(anchor(50, changed, [GENESIS[0], GENESIS[1], NEW[0]]), TRUST)
    assert root.trusted_set_changed and root.signed_power == 30


def test_a_changed_set_without_genesis_power_among_signers_is_refused() -> None:
    changed = [GENESIS[0], *NEW[:3]]  # a set of new keys certifying itself
    with pytest.raises(ProofError, match="genesis set's"):
        verify_anchor(anchor(50, changed, NEW[:3]), TRUST)
    with pytest.raises(ProofError, match="genesis set's"):  # 10 of 40: exactly 1/4, not > 1/3
        verify_anchor(anchor(50, changed, [GENESIS[0], *NEW[:2]]), TRUST)


def test_a_changed_set_beyond_the_trust_window_is_refused() -> None:
    changed = [*GENESIS[:3], NEW[0]]
    verify_anchor(anchor(WINDOW + 1, changed, GENESIS[:3]), TRUST)
    with pytest.raises(ProofError, match="trust window"):
        verify_anchor(anchor(WINDOW + 2, changed, GENESIS[:3]), TRUST)


def test_a_quorum_of_the_named_set_is_still_needed() -> None:
    with pytest.raises(ProofError, match="commit certificate"):
        verify_anchor(anchor(50, GENESIS, GENESIS[:2]), TRUST)
    changed = [*GENESIS[:3], NEW[0]]
    with pytest.raises(ProofError, match="commit certificate"):
        verify_anchor(anchor(50, changed, GENESIS[:2]), TRUST)  # 20 of 40 genesis, not > 2/3


def test_the_set_in_the_answer_must_be_the_one_the_header_names() -> None:
    forged = anchor(50, [*GENESIS[:3], NEW[0]], GENESIS[:3])
    forged["validators"] = aj.validator_set_json(vset(GENESIS), {})
    with pytest.raises(ProofError, match="not the one header 50 names"):
        verify_anchor(forged, TRUST)
