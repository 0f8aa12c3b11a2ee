"""The Python SDK (node.client) against the real cluster: build and sign each core tx type,
submit with automatic nonce and idempotency key, wait for finality, verify proofs offline."""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from typing import Any

import pytest

from consensus import codec
from consensus.blocks import Header
from consensus.crypto import PrivateKey, sha256
from consensus.ledger.records import InstrumentKind, InstrumentSpec
from consensus.validators import ValidatorSet
from node.client import (
    ApiError,
    AsyncClient,
    Client,
    ProofError,
    Signer,
    TxRejected,
    account_open_body,
    account_update_body,
    freeze_body,
    instrument_register_body,
    mint_body,
    redeem_body,
    transfer_body,
    validator_set_from_genesis,
    validator_set_from_json,
    verify_finality_proof,
)
from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import api_cluster

pytestmark = pytest.mark.integration
__all__ = ["api_cluster"]


def signer(cluster: Cluster, submitter: str, *others: str) -> Signer:
    keys = [
        cluster.account_key(s) if "/" in s else cluster.participant_key(s)
        for s in (submitter, *others)
    ]
    return Signer(submitter, tuple(keys))


def trusted(cluster: Cluster) -> ValidatorSet:
    return validator_set_from_genesis(cluster.home / "genesis.json")


def test_cross_bank_transfer_final_and_proven(api_cluster: Cluster) -> None:
    client = Client(api_cluster.url(1))
    before = client.account("BANKB/carol")["balances"][0]["total"]
    tx = client.prepare(
        signer(api_cluster, "BANKA/bob"), transfer_body("BANKB/carol", "BANKA:USD", 777)
    )
    final = client.submit_and_wait(tx, trusted(api_cluster))
    assert final.verified.tx_hash == tx.tx_hash() and final.verified.height == final.height
    types = [e["type"] for e in final.receipt["events"]]
    assert types == ["Transferred", "InterbankSettled"]
    assert client.account("BANKB/carol")["balances"][0]["total"] == before + 777
    # The same proof verifies from another node's copy (different certificate, same block).
    other = Client(api_cluster.url(2)).proof(final.tx_hash)
    assert (
        verify_finality_proof(other, trusted(api_cluster)).block_hash == final.verified.block_hash
    )


def _tamper_cases(proof: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    cases = []

    def variant(name: str, change: Any) -> None:
        copied = copy.deepcopy(proof)
        change(copied)
        cases.append((name, copied))

    def flip_b64(value: str, at: int = -5) -> str:
        raw = bytearray(base64.b64decode(value))
        raw[at] ^= 1
        return base64.b64encode(bytes(raw)).decode()

    variant("tx bytes", lambda p: p.update(tx=flip_b64(p["tx"])))
    variant("claimed hash", lambda p: p.update(hash="00" * 32))
    variant(
        "aunt",
        lambda p: (
            p["merkle_proof"].update(aunts=["11" * 32, *p["merkle_proof"]["aunts"][1:]])
            if p["merkle_proof"]["aunts"]
            else p["merkle_proof"].update(total=2)
        ),
    )
    variant("index", lambda p: p["merkle_proof"].update(index=p["merkle_proof"]["index"] + 1))
    variant(
        "certificate signature",
        lambda p: p["certificate"].update(encoded=flip_b64(p["certificate"]["encoded"], -3)),
    )
    variant(
        "header",
        lambda p: p["header"].update(encoded=_header_with_other_time(p["header"]["encoded"])),
    )
    variant("garbage", lambda p: p["header"].update(encoded="!!"))
    return cases  # fmt: skip


def _header_with_other_time(encoded: str) -> str:
    header = Header.from_wire(codec.decode(base64.b64decode(encoded)))
    wire = header.to_wire()
    wire[2] = header.time_ms + 1
    return base64.b64encode(codec.encode(wire)).decode()


def test_tampered_proofs_fail(api_cluster: Cluster) -> None:
    client = Client(api_cluster.url(0))
    tx = client.prepare(
        signer(api_cluster, "BANKA/bob"), transfer_body("BANKB/carol", "BANKA:USD", 3)
    )
    final = client.submit_and_wait(tx, trusted(api_cluster))
    validators = trusted(api_cluster)
    verify_finality_proof(final.proof, validators, "depochain-localnet")
    for name, bad in _tamper_cases(final.proof):
        with pytest.raises(ProofError):
            verify_finality_proof(bad, validators)
            pytest.fail(f"tampered {name} verified")
    with pytest.raises(ProofError, match="another chain"):
        verify_finality_proof(final.proof, validators, "other-chain")
    strangers = ValidatorSet.of([(PrivateKey(sha256(bytes([i]))).public_key, 10) for i in range(4)])
    with pytest.raises(ProofError, match="validator set"):
        verify_finality_proof(final.proof, strangers)
    served = validator_set_from_json(final.proof["validators"])
    assert served == validators


def test_every_core_tx_type_through_the_sdk(api_cluster: Cluster) -> None:
    client = Client(api_cluster.url(2))
    vset = trusted(api_cluster)
    owner = PrivateKey(sha256(f"sdk owner {time.time_ns()}".encode()))
    account_id = f"BANKC/sdk{time.time_ns() % 10**9}"
    bank = signer(api_cluster, "BANKC")
    holder = Signer(account_id, (owner,))
    kyc_until_ms = int(time.time() * 1000) + 365 * 24 * 3600 * 1000
    kyc = sha256(b"kyc")
    steps = [
        (bank, account_open_body(account_id, [owner.public_key], 1, kyc, kyc_until_ms)),
        (bank, mint_body(account_id, "BANKC:HKD", 5_000, "core-debit-1")),
        (holder, transfer_body("BANKC/dave", "BANKC:HKD", 1_000)),
        (holder, redeem_body(account_id, "BANKC:HKD", 500, "payout-1")),
        (bank, freeze_body(account_id, "court-1", instrument_id="BANKC:HKD", amount=100)),
        (bank, account_update_body(account_id, kyc_ref_hash=kyc, kyc_expiry_ms=kyc_until_ms + 1)),
    ]
    events = ["AccountOpened", "Minted", "Transferred", "Redeemed", "Frozen", "AccountUpdated"]
    for (who, body), event in zip(steps, events, strict=True):
        final = client.submit_and_wait(client.prepare(who, body), vset)
        assert final.receipt["events"][0]["type"] == event
    balance = client.account(account_id)["balances"][0]
    assert (balance["total"], balance["frozen"], balance["free"]) == (3_500, 100, 3_400)
    spec = InstrumentSpec(
        f"CB:{_fresh_currency()}", InstrumentKind.SETTLEMENT_ASSET, "CB", _fresh_currency(), 2, None
    )
    governance = signer(api_cluster, "BANKA", "BANKB", "BANKC", "CB")
    final = client.submit_and_wait(client.prepare(governance, instrument_register_body(spec)), vset)
    assert final.receipt["events"] == [
        {"type": "InstrumentRegistered", "instrument_id": spec.instrument_id}
    ]


_CURRENCY = "".join(chr(ord("A") + (time.time_ns() // 7**i) % 26) for i in range(3))


def _fresh_currency() -> str:
    return _CURRENCY


def test_rejections_surface_as_typed_errors(api_cluster: Cluster) -> None:
    client = Client(api_cluster.url(0))
    alice = signer(api_cluster, "BANKA/alice")
    too_much = client.prepare(alice, transfer_body("BANKA/bob", "BANKA:USD", 10**15))
    with pytest.raises(TxRejected) as rejected:
        client.submit_and_wait(too_much, trusted(api_cluster))
    assert rejected.value.code_name == "INSUFFICIENT_FREE_BALANCE"
    with pytest.raises(ApiError) as missing:
        client.account("BANKA/nobody")
    assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_automatic_nonces_allow_back_to_back_submissions(api_cluster: Cluster) -> None:
    client = Client(api_cluster.url(0))
    alice = signer(api_cluster, "BANKA/alice")
    txs = [client.prepare(alice, transfer_body("BANKA/bob", "BANKA:USD", n)) for n in (1, 2, 3)]
    assert len({tx.unsigned.nonce for tx in txs}) == 3
    assert len({tx.unsigned.idempotency_key for tx in txs}) == 3
    answers = client.submit_batch(list(txs))
    assert [a["status_code"] for a in answers] == [202, 202, 202]
    for tx in txs:
        assert client.wait_for_tx(tx.tx_hash().hex())["status"] == "committed"


def test_async_client_submit_and_wait(api_cluster: Cluster) -> None:
    async def run() -> Any:
        async with AsyncClient(api_cluster.url(1)) as client:
            bank = signer(api_cluster, "BANKD")
            tx = await client.prepare(bank, mint_body("BANKD/dave", "BANKD:CNH", 42, "async-1"))
            final = await client.submit_and_wait(tx, trusted(api_cluster))
            again = await client.submit(tx)  # idempotent resubmission
            return final, again, await client.tx_by_key("BANKD", tx.unsigned.idempotency_key)

    final, again, by_key = asyncio.run(run())
    assert final.receipt["events"][0]["type"] == "Minted"
    assert again == {"hash": final.tx_hash, "status": "committed", "height": final.height}
    assert by_key["hash"] == final.tx_hash
