"""The explorer verifies finality proofs in the browser (``node/explorer/static/verify.js``:
msgpack, SHA-256 and Ed25519 through WebCrypto): in headless chromium, real proofs from the
cluster verify, from any node and at any position of a multi-tx block, and every tampered part
(tx bytes, claimed hash, Merkle path, index, header, validator set, signature, quorum) is
refused, the same cases the SDK's verifier refuses."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver as ChromeDriver

from consensus import codec
from consensus.blocks import Header
from consensus.messages import CommitCertificate
from node.client import Client, Signer, transfer_body
from tests.integration.browser import headless_chromium
from tests.integration.explorer_pages import PAYEE, PAYER, PAYER_INSTRUMENT, explorer_url, wait_for
from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import api_cluster

pytestmark = pytest.mark.integration
__all__ = ["api_cluster"]

Proof = dict[str, Any]

VERIFY_IN_PAGE = """
const [proof, done] = arguments;
import("/explorer/verify.js")
  .then((m) => m.verifyProof(proof))
  .then((r) => done({ ok: true, signed: r.signedPower, total: r.totalPower, block: r.blockHash }),
        (e) => done({ ok: false, kind: e.constructor.name, message: String(e.message) }));
"""


def verify_in_browser(driver: ChromeDriver, proof: Proof) -> dict[str, Any]:
    answer: dict[str, Any] = driver.execute_async_script(VERIFY_IN_PAGE, proof)
    return answer


def flip_b64(value: str, at: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[at] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def header_with_other_time(encoded: str) -> str:
    wire = Header.from_wire(codec.decode(base64.b64decode(encoded))).to_wire()
    wire[2] = int(wire[2]) + 1  # type: ignore[call-overload]
    return base64.b64encode(codec.encode(wire)).decode()


def certificate_of_two(encoded: str) -> str:
    """The same certificate with only its first two signatures: 20 of 40 power, no quorum."""
    certificate = CommitCertificate.decode(base64.b64decode(encoded))
    fewer = CommitCertificate(
        certificate.height, certificate.round, certificate.block_hash, certificate.signatures[:2]
    )
    return base64.b64encode(fewer.encode()).decode()


def _other_aunt(p: Proof) -> None:
    aunts = p["merkle_proof"]["aunts"]
    aunts[0] = "11" * 32


def _other_index(p: Proof) -> None:
    """Claim the neighbouring leaf (consistently in both places): the path no longer fits."""
    p["index"] ^= 1
    p["merkle_proof"]["index"] ^= 1


def _more_power(p: Proof) -> None:
    p["validators"]["validators"][0]["power"] += 1


TAMPERS: dict[str, Callable[[Proof], None]] = {
    "tx bytes": lambda p: p.update(tx=flip_b64(p["tx"], -5)),
    "claimed hash": lambda p: p.update(hash="00" * 32),
    "Merkle aunt": _other_aunt,
    "Merkle index": _other_index,
    "header time": lambda p: p["header"].update(
        encoded=header_with_other_time(p["header"]["encoded"])
    ),
    "validator power": _more_power,
    "certificate signature": lambda p: p["certificate"].update(
        encoded=flip_b64(p["certificate"]["encoded"], -3)
    ),
    "too few signers": lambda p: p["certificate"].update(
        encoded=certificate_of_two(p["certificate"]["encoded"])
    ),
    "garbage header": lambda p: p["header"].update(encoded="!!"),
}


def commit_transfers_in_one_request(cluster: Cluster, count: int) -> list[str]:
    client = Client(cluster.url(0))
    signer = Signer(PAYER, (cluster.account_key(PAYER),))
    txs = [
        client.prepare(signer, transfer_body(PAYEE, PAYER_INSTRUMENT, n + 1)) for n in range(count)
    ]
    answers = client.submit_batch(list(txs))
    assert [a["status_code"] for a in answers] == [202] * count
    hashes = [tx.tx_hash().hex() for tx in txs]
    for tx_hash in hashes:
        assert client.wait_for_tx(tx_hash)["status"] == "committed"
    return hashes


def test_proofs_verify_in_the_browser_and_tampered_ones_do_not(api_cluster: Cluster) -> None:
    hashes = commit_transfers_in_one_request(api_cluster, 4)
    proofs = [Client(api_cluster.url(i % 3)).proof(h) for i, h in enumerate(hashes)]
    with_path = [p for p in proofs if p["merkle_proof"]["aunts"]]
    assert with_path, "the batch should share a block, so the proofs carry Merkle paths"
    with headless_chromium() as driver:
        driver.get(explorer_url(api_cluster, 0) + "#/participants")
        wait_for(
            driver,
            lambda d: d.execute_script("return !!document.querySelector('#validators')"),
            "page",
        )
        for proof in proofs:
            answer = verify_in_browser(driver, proof)
            assert answer["ok"], answer
            assert answer["signed"] * 3 > answer["total"] * 2
            assert answer["block"] == proof["header"]["hash"]
        target = with_path[-1]
        for name, tamper in TAMPERS.items():
            bad = copy.deepcopy(target)
            tamper(bad)
            answer = verify_in_browser(driver, bad)
            assert not answer["ok"], f"tampered {name} verified in the browser"
            assert answer["kind"] == "ProofError", (name, answer)
