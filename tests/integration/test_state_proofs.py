"""Proofs served by a real 4-node cluster, verified offline from ``genesis.json`` alone: proven
balances, receipts that tell an accepted tx from a rejected one, the proof of liabilities; and
every tampering of a value, a proof, a header or a page is refused."""

from __future__ import annotations

import asyncio
import base64
import copy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from consensus import codec
from consensus.blocks import Header
from consensus.crypto import SignPurpose
from consensus.ledger.txs import Transfer
from consensus.merkle import Proof
from consensus.merkle.proofs import LEAF
from consensus.messages import CommitCertificate, CommitSig, VoteType, compute_vote_sign_payload
from consensus.types import Round, ValidatorIndex
from consensus.validators import ValidatorSet
from node.client import AsyncClient, Client, ProofError, verify_finality_proof
from node.client.audit import audit_liabilities
from node.client.state_proofs import (
    Trust,
    verify_account_proof,
    verify_balance_page,
    verify_instrument_proof,
    verify_receipt_proof,
)
from node.home import load_key
from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import api_cluster, http, sign, tx_json

pytestmark = pytest.mark.integration
__all__ = ["api_cluster"]

PAYER, PAYEE, INSTRUMENT = "BANKA/alice", "BANKA/bob", "BANKA:USD"
WAIT_S = 60.0


def genesis_trust(cluster: Cluster) -> Trust:
    return Trust.from_genesis(cluster.home / "genesis.json")


def pay(cluster: Cluster, amount: int, key: str) -> dict[str, Any]:
    """Submit a transfer, wait until it is committed AND the block after it is certified (so
    the state after it and its receipt are provable); its final view."""
    client = Client(cluster.url(0))
    nonce = client.next_nonce(PAYER)
    tx = sign(cluster, PAYER, Transfer(PAYEE, INSTRUMENT, amount), nonce, key)
    status, _, answer = http(cluster.url(0) + "/api/v1/txs", tx_json(tx))
    assert status == 202, answer
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        view = client.tx(answer["hash"])
        if view["status"] != "pending" and client.status()["height"] >= view["height"] + 2:
            return view
        time.sleep(0.1)
    raise AssertionError(f"tx {answer['hash']} not final with a certified successor")


@pytest.fixture(scope="module")
def paid(api_cluster: Cluster) -> dict[str, Any]:
    return pay(api_cluster, 777, f"proofs-paid-{time.monotonic_ns()}")


def _balance_total(doc: dict[str, Any], trust: Trust) -> int:
    proven = verify_account_proof(doc, trust, PAYEE)
    return proven.balances[INSTRUMENT].total


def test_paid_balance_is_proven_offline_from_genesis(api_cluster: Cluster, paid: Any) -> None:
    client, trust = Client(api_cluster.url(0)), genesis_trust(api_cluster)
    height = paid["height"]
    before = client.account_proof(PAYEE, height - 1)
    after = client.account_proof(PAYEE, height)
    proven = verify_account_proof(after, trust, PAYEE)
    assert proven.root.height == height and proven.root.header_height == height + 1
    assert proven.account is not None and proven.account.account_id == PAYEE
    assert set(proven.instruments) >= {INSTRUMENT, "BANKB:USD"}
    assert "BANKB:USD" not in proven.balances  # bob at BANKA holds no BANKB:USD: proven absent
    assert proven.root.signed_power * 3 > proven.root.total_power * 2
    assert _balance_total(after, trust) == _balance_total(before, trust) + 777
    nobody = verify_account_proof(client.account_proof("BANKA/nobody"), trust, "BANKA/nobody")
    assert nobody.account is None and nobody.balances == {} and nobody.nonce == 0


def test_async_client_fetches_the_same_proofs(api_cluster: Cluster, paid: Any) -> None:
    async def fetch() -> Any:
        async with AsyncClient(api_cluster.url(0)) as client:
            return await client.account_proof(PAYEE, paid["height"])

    doc = asyncio.run(fetch())
    assert doc == Client(api_cluster.url(0)).account_proof(PAYEE, paid["height"])
    verify_account_proof(doc, genesis_trust(api_cluster), PAYEE)


def _retamper_leaf(proof_json: dict[str, Any], change: Any) -> None:
    proof = Proof.decode(base64.b64decode(proof_json["proof"]))
    entries = [change(e) if e[0] == LEAF else e for e in proof.entries]
    proof_json["proof"] = base64.b64encode(Proof(tuple(entries)).encode()).decode()


def _more_money(entry: Any) -> Any:
    total, frozen, held = codec.decode(entry[2])
    return (entry[0], entry[1], codec.encode([total + 1, frozen, held]))


def _tampered_header(doc: dict[str, Any]) -> None:
    header = doc["anchor"]["header"]
    wire = codec.decode(base64.b64decode(header["encoded"]))
    wire[7] = bytes(32)  # the app hash
    header["encoded"] = base64.b64encode(codec.encode(wire)).decode()


def _dropped_signatures(doc: dict[str, Any]) -> None:
    from consensus.messages import CommitCertificate

    certificate = doc["anchor"]["certificate"]
    cert = CommitCertificate.decode(base64.b64decode(certificate["encoded"]))
    fewer = CommitCertificate(cert.height, cert.round, cert.block_hash, cert.signatures[:1])
    certificate["encoded"] = base64.b64encode(fewer.encode()).decode()


def _tamper_cases(paid_height: int) -> dict[str, Any]:
    def value(doc: dict[str, Any]) -> None:
        _retamper_leaf(doc["balances"][INSTRUMENT], _more_money)

    def swapped(doc: dict[str, Any]) -> None:
        doc["balances"][INSTRUMENT] = doc["balances"]["BANKB:USD"]

    def dropped(doc: dict[str, Any]) -> None:
        del doc["balances"][INSTRUMENT]

    def instrument_hidden(doc: dict[str, Any]) -> None:
        proof = Proof.decode(base64.b64decode(doc["instruments"]["proof"]))
        entries = [(3, e[1], bytes(32)) if e[0] == LEAF and e[1] == b"I" + INSTRUMENT.encode()
                   else e for e in proof.entries]  # fmt: skip
        doc["instruments"]["proof"] = base64.b64encode(Proof(tuple(entries)).encode()).decode()
        del doc["balances"][INSTRUMENT]

    return {
        "value": value,
        "swapped balance proof": swapped,
        "dropped balance": dropped,
        "instrument hidden from the list": instrument_hidden,
        "header": _tampered_header,
        "certificate": _dropped_signatures,
    }


def test_tampered_account_proof_fails(api_cluster: Cluster, paid: Any) -> None:
    client, trust = Client(api_cluster.url(0)), genesis_trust(api_cluster)
    doc = client.account_proof(PAYEE, paid["height"])
    verify_account_proof(doc, trust, PAYEE)
    for name, tamper in _tamper_cases(paid["height"]).items():
        bad = copy.deepcopy(doc)
        tamper(bad)
        with pytest.raises(ProofError):
            verify_account_proof(bad, trust, PAYEE)
            pytest.fail(f"tampered {name} verified")
    with pytest.raises(ProofError):  # the proof of alice's account is not bob's
        verify_account_proof(client.account_proof(PAYER, paid["height"]), trust, PAYEE)
    members = list(trust.validators.validators)
    other = Trust(trust.chain_id, ValidatorSet.of([(v.public_key, v.power) for v in members[1:]]))
    with pytest.raises(ProofError):  # a set other than genesis's cannot vouch for the header
        verify_account_proof(doc, other, PAYEE)


def test_receipt_proof_tells_accepted_from_rejected(api_cluster: Cluster, paid: Any) -> None:
    client, trust = Client(api_cluster.url(0)), genesis_trust(api_cluster)
    rejected = pay(api_cluster, 10**15, f"proofs-overdraft-{time.monotonic_ns()}")
    assert rejected["status"] == "rejected"
    proofs = [client.tx(view["hash"], prove=True)["proof"] for view in (paid, rejected)]
    for proof in proofs:  # both are included: the inclusion proof alone cannot tell them apart
        verify_finality_proof(proof, trust.validators, trust.chain_id)
    good, bad = (verify_receipt_proof(proof, trust) for proof in proofs)
    assert good.accepted and good.receipt.code.name == "OK"
    assert not bad.accepted and bad.receipt.code.name == "INSUFFICIENT_FREE_BALANCE"
    forged = copy.deepcopy(proofs[1])  # claim the accepted receipt for the rejected tx
    forged["receipt_proof"]["receipt"] = proofs[0]["receipt_proof"]["receipt"]
    with pytest.raises(ProofError):
        verify_receipt_proof(forged, trust)
    wire = codec.decode(base64.b64decode(proofs[1]["receipt_proof"]["receipt"]))
    wire[0] = 0  # rewrite the code to OK
    forged["receipt_proof"]["receipt"] = base64.b64encode(codec.encode(wire)).decode()
    with pytest.raises(ProofError):
        verify_receipt_proof(forged, trust)


def _instrument_ids(client: Client) -> list[str]:
    return [item["instrument_id"] for item in client.instruments(limit=100)["items"]]


def test_audit_of_every_instrument_balances(api_cluster: Cluster, paid: Any) -> None:
    client, trust = Client(api_cluster.url(0)), genesis_trust(api_cluster)
    instruments = _instrument_ids(client)
    assert len(instruments) >= 7
    for iid in instruments:
        audit = audit_liabilities(client, trust, iid, paid["height"], page_limit=1)
        assert audit.balanced, (iid, audit.total, audit.supply)
        assert audit.pages == max(1, len(audit.holders))  # one page per holder, or one empty
        assert bool(audit.holders) == (audit.supply > 0)  # other tests may register instruments
        supply = verify_instrument_proof(client.instrument_proof(iid, paid["height"]), trust, iid)
        assert supply.instrument is not None and supply.instrument.supply == audit.supply
    audit = audit_liabilities(client, trust, INSTRUMENT, paid["height"])
    assert audit.pages == 1 and PAYEE in audit.holders and PAYER in audit.holders


class TamperingClient(Client):
    """A node that lies about one page of the balances."""

    def __init__(self, url: str, tamper: Any) -> None:
        super().__init__(url)
        self.tamper = tamper
        self.calls = 0

    def balances_page(self, *args: Any) -> Any:
        page = super().balances_page(*args)
        self.calls += 1
        return self.tamper(self, page, self.calls)


def _page_cases(height: int) -> dict[str, Any]:
    def value(client: Any, page: Any, call: int) -> Any:
        _retamper_leaf(page["slice"], _more_money)
        return page

    def supply(client: Any, page: Any, call: int) -> Any:
        def more(entry: Any) -> Any:
            spec, total = codec.decode(entry[2])
            return (entry[0], entry[1], codec.encode([spec, total + 1]))

        _retamper_leaf(page["instrument"], more)
        return page

    def skipped(client: Any, page: Any, call: int) -> Any:
        if call == 1 and page["next_cursor"] is not None:  # the next page starts past a holder
            return {**page, "next_cursor": page["next_cursor"] + "0"}
        return page

    def shorter(client: Any, page: Any, call: int) -> Any:
        return {**page, "next_cursor": None} if call == 1 else page

    def older(client: Any, page: Any, call: int) -> Any:
        if call == 2:
            return Client.balances_page(client, INSTRUMENT, height - 1, page_cursor(page), 1)
        return page

    def page_cursor(page: Any) -> str | None:
        lo = base64.b64decode(page["slice"]["lo"])
        head = b"B" + INSTRUMENT.encode() + b"\x00"
        return lo[len(head) :].decode() or None

    return {
        "balance value": value,
        "supply": supply,
        "skipped page": skipped,
        "truncated list": shorter,
        "page of another state": older,
    }


def test_tampered_liabilities_page_fails(api_cluster: Cluster, paid: Any) -> None:
    trust, height = genesis_trust(api_cluster), paid["height"]
    honest = audit_liabilities(Client(api_cluster.url(0)), trust, INSTRUMENT, height, 1)
    assert honest.pages >= 2 and honest.balanced
    for name, tamper in _page_cases(height).items():
        client = TamperingClient(api_cluster.url(0), tamper)
        with pytest.raises(ProofError):
            audit_liabilities(client, trust, INSTRUMENT, height, 1)
            pytest.fail(f"the audit passed with a tampered {name}")


def test_a_page_is_proven_for_its_own_slice_only(api_cluster: Cluster, paid: Any) -> None:
    client, trust = Client(api_cluster.url(0)), genesis_trust(api_cluster)
    start = b"B" + INSTRUMENT.encode() + b"\x00"
    first = client.balances_page(INSTRUMENT, paid["height"], None, 1)
    verify_balance_page(first, trust, INSTRUMENT, start)
    second = client.balances_page(INSTRUMENT, paid["height"], first["next_cursor"], 1)
    verify_balance_page(second, trust, INSTRUMENT, base64.b64decode(first["slice"]["hi"]))
    with pytest.raises(ProofError):  # the second page offered as the first: it hides a holder
        verify_balance_page(second, trust, INSTRUMENT, start)
    with pytest.raises(ProofError):  # the first page offered again as the next one
        verify_balance_page(first, trust, INSTRUMENT, base64.b64decode(first["slice"]["hi"]))


def test_a_header_naming_another_set_is_refused(api_cluster: Cluster, paid: Any) -> None:
    """Even signed by the genesis validators, a header whose validators_hash names another set
    is refused: the verifier would have to follow that change, which it does not."""
    client, trust = Client(api_cluster.url(0)), genesis_trust(api_cluster)
    doc = client.account_proof(PAYEE, paid["height"])
    wire = codec.decode(base64.b64decode(doc["anchor"]["header"]["encoded"]))
    wire[9] = bytes(32)  # validators_hash
    forged = Header.from_wire(wire)
    keys = {}
    for index in range(api_cluster.validators):
        private = load_key(api_cluster.node(index).home / "validator_key.json")
        keys[bytes(api_cluster.validator_key(index))] = private
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, forged.height, 0, forged.hash)
    signatures = tuple(
        CommitSig(ValidatorIndex(i), keys[bytes(v.public_key)].sign(
            SignPurpose.VOTE, forged.chain_id, payload))
        for i, v in enumerate(trust.validators.validators)
    )  # fmt: skip
    certificate = CommitCertificate(forged.height, Round(0), forged.hash, signatures)
    doc["anchor"]["header"]["encoded"] = base64.b64encode(codec.encode(wire)).decode()
    doc["anchor"]["certificate"]["encoded"] = base64.b64encode(certificate.encode()).decode()
    with pytest.raises(ProofError, match="validator set"):
        verify_account_proof(doc, trust, PAYEE)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_verifies_offline_and_audits(api_cluster: Cluster, paid: Any) -> None:
    genesis, node = str(api_cluster.home / "genesis.json"), api_cluster.url(0)
    common = ["--genesis", genesis, "--node", node]
    account = run_cli("query", "account", PAYEE, "--prove", *common)
    assert account.returncode == 0, account.stderr
    assert "[proof verified]" in account.stdout and "BANKB:USD    no balance" in account.stdout
    tx = run_cli("query", "tx", paid["hash"], "--prove", *common)
    assert tx.returncode == 0, tx.stderr
    assert "outcome    ACCEPTED" in tx.stdout
    audit = run_cli("audit", "liabilities", "--instrument", INSTRUMENT, "--account", PAYEE, *common)
    assert audit.returncode == 0, audit.stderr
    assert "OK: balances sum to the supply" in audit.stdout and "counted with" in audit.stdout
    other = Path(api_cluster.home).parent / "other-genesis.json"
    text = (api_cluster.home / "genesis.json").read_text().replace("depochain-localnet", "x-net")
    other.write_text(text)
    refused = run_cli("query", "account", PAYEE, "--prove", "--genesis", str(other), "--node", node)
    assert refused.returncode != 0 and "chain" in refused.stderr
