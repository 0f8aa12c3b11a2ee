"""The SDK without a cluster: builders sign every core tx type; the offline finality proof
verifier accepts exactly what the server's proof JSON proves; answers map to typed errors."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.blocks import EMPTY_RESULTS_HASH, Header, compute_evidence_hash, compute_txs_root
from consensus.crypto import PrivateKey, SignPurpose, merkle_proof, sha256
from consensus.ledger import decode_tx, verify_tx_signatures
from consensus.ledger.records import (
    InstrumentKind,
    InstrumentSpec,
    Participant,
    ParticipantStatus,
    Role,
)
from consensus.messages import (
    CommitCertificate,
    CommitSig,
    VoteType,
    compute_vote_sign_payload,
)
from consensus.types import ChainId, Hash32, Height, Round, TimestampMs, ValidatorIndex
from consensus.validators import ValidatorSet
from node.client import (
    ApiError,
    ProofError,
    Signer,
    TxDefaults,
    account_open_body,
    account_update_body,
    freeze_body,
    instrument_register_body,
    make_tx,
    mint_body,
    participant_upsert_body,
    redeem_body,
    transfer_body,
    valid_for,
    verify_finality_proof,
)
from node.client.common import decode_answer
from node.rpc.rest import shapes as aj

CHAIN = "test-chain"
KEYS = [PrivateKey(sha256(f"validator {i}".encode())) for i in range(4)]
VALIDATORS = ValidatorSet.of([(key.public_key, 10) for key in KEYS])
BY_INDEX = {VALIDATORS.get_index(key.public_key): key for key in KEYS}


def _participant() -> Participant:
    return Participant(
        "REG", "Regulator", frozenset({Role.REGULATOR}), ParticipantStatus.ACTIVE,
        (KEYS[0].public_key,), 1, None, 0, "", "",
    )  # fmt: skip


BODIES = [
    transfer_body("BANKB/bob", "BANKA:USD", 5),
    mint_body("BANKA/alice", "BANKA:USD", 10, "debit-1"),
    redeem_body("BANKA/alice", "BANKA:USD", 3, "payout-1", "court-1"),
    freeze_body("BANKA/alice", "court-2", account_frozen=True),
    account_open_body("BANKA/zed", [KEYS[1].public_key, KEYS[0].public_key], 2, sha256(b"k"), 9),
    account_update_body("BANKA/zed", close=True),
    participant_upsert_body(_participant()),
    instrument_register_body(
        InstrumentSpec("CB:EUR", InstrumentKind.SETTLEMENT_ASSET, "CB", "EUR", 2, None)
    ),
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_builders_sign_every_core_tx_type(body: object) -> None:
    defaults = TxDefaults(CHAIN, "BANKA", 7, "key-1", valid_for(60_000, now_ms=1_000), "memo")
    signed = Signer("BANKA", (KEYS[0], KEYS[1])).sign(make_tx(defaults, body))  # type: ignore[arg-type]
    decoded = decode_tx(signed.encode())
    assert decoded == signed and verify_tx_signatures(decoded)
    assert len(decoded.signatures) == 2 and decoded.unsigned.valid_until.value == 61_000


def make_proof(txs: list[bytes], index: int, signers: int = 3) -> dict[str, object]:
    """A proof JSON exactly as the server builds it, for a block signed by ``signers``."""
    header = Header(
        ChainId(CHAIN), Height(5), TimestampMs(1_000), KEYS[0].public_key, Hash32(bytes(32)),
        None, compute_txs_root(tuple(txs)), Hash32(bytes(32)), EMPTY_RESULTS_HASH,
        VALIDATORS.compute_hash(),
        compute_evidence_hash(()),
    )  # fmt: skip
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, 5, 0, header.hash)
    sigs = tuple(
        CommitSig(ValidatorIndex(i), BY_INDEX[i].sign(SignPurpose.VOTE, ChainId(CHAIN), payload))
        for i in range(signers)
    )
    certificate = CommitCertificate(Height(5), Round(0), header.hash, sigs)
    return {
        "hash": sha256(txs[index]).hex(),
        "chain_id": CHAIN,
        "height": 5,
        "index": index,
        "tx": aj.b64(txs[index]),
        "header": aj.header_json(header),
        "certificate": aj.certificate_json(certificate),
        "merkle_proof": aj.merkle_proof_json(merkle_proof(txs, index)),
        "validators": aj.validator_set_json(VALIDATORS, {}),
    }


def _signed_tx(n: int) -> bytes:
    defaults = TxDefaults(CHAIN, "BANKA/alice", n + 1, f"k{n}", valid_for(1, now_ms=0))
    return Signer("BANKA/alice", (KEYS[0],)).sign(make_tx(defaults, BODIES[0])).encode()


TXS = [_signed_tx(n) for n in range(5)]


@pytest.mark.parametrize("index", range(5))
def test_a_served_proof_verifies_offline(index: int) -> None:
    verified = verify_finality_proof(make_proof(TXS, index), VALIDATORS, CHAIN)
    assert (verified.height, verified.index, verified.tx_hash) == (5, index, sha256(TXS[index]))


def test_two_thirds_of_the_power_is_not_enough() -> None:
    with pytest.raises(ProofError, match="commit certificate"):
        verify_finality_proof(make_proof(TXS, 1, signers=2), VALIDATORS)


@given(st.integers(0, 4), st.data())
def test_any_flipped_tx_byte_fails(index: int, data: st.DataObject) -> None:
    proof = make_proof(TXS, index)
    raw = bytearray(TXS[index])
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    tampered = {**proof, "tx": aj.b64(bytes(raw)), "hash": sha256(bytes(raw)).hex()}
    with pytest.raises(ProofError):
        verify_finality_proof(tampered, VALIDATORS)


def test_other_transaction_of_the_block_cannot_borrow_the_proof() -> None:
    proof = copy.deepcopy(make_proof(TXS, 1))
    proof["tx"], proof["hash"] = aj.b64(TXS[2]), sha256(TXS[2]).hex()
    with pytest.raises(ProofError, match="Merkle"):
        verify_finality_proof(proof, VALIDATORS)


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "code"),
    [
        (404, b'{"error": {"code": "not_found", "message": "no"}}', None, "not_found"),
        (429, b'{"error": {"code": "mempool_full", "message": "full"}}', "2", "mempool_full"),
        (502, b"<html>bad gateway</html>", None, "http_502"),
    ],
)
def test_error_answers_become_api_errors(
    status: int, body: bytes, retry_after: str | None, code: str
) -> None:
    with pytest.raises(ApiError) as raised:
        decode_answer(status, body, retry_after)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.retry_after_s == (2.0 if retry_after else None)
    assert decode_answer(200, b'{"a": 1}', None) == {"a": 1}


def test_wallet_shows_amounts_in_major_units_exactly() -> None:
    from node.cli.wallet import format_amount

    assert format_amount(100001000, 2) == "1,000,010.00"
    assert format_amount(5, 2) == "0.05"
    assert format_amount(-1234567, 2) == "-12,345.67"
    assert format_amount(7, 0) == "7"
    assert format_amount(10**18 + 1, 6) == "1,000,000,000,000.000001"
