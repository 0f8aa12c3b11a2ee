"""The SDK's travel-rule hash (canonical JSON of IVMS101-shaped data -> sha256), its policy and
approval builders, and the CLI's ``tx transfer --travel-data``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from consensus.ledger.policies import PolicyScope
from consensus.ledger.txs import PolicySet, Transfer
from node.cli import build_parser
from node.cli.wallet import build_body
from node.client import (
    canonical_json,
    hold_approve_body,
    hold_create_body,
    ivms101_hash,
    policy_set_body,
    travel_record,
)

IVMS = {
    "originator": {"originatorPersons": [{"naturalPerson": {"name": "Zoë Müller"}}],
                   "accountNumber": ["BANKA/alice"]},
    "beneficiary": {"beneficiaryPersons": [{"legalPerson": {"name": "Acme Ltd"}}],
                    "accountNumber": ["BANKB/carol"]},
}  # fmt: skip


def test_ivms101_hash_is_the_sha256_of_canonical_json() -> None:
    reordered = {"beneficiary": IVMS["beneficiary"], "originator": IVMS["originator"]}
    assert canonical_json(reordered) == canonical_json(IVMS)  # key order does not matter
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    assert ivms101_hash(IVMS) == hashlib.sha256(canonical_json(IVMS)).digest()
    other = {**IVMS, "beneficiary": {"accountNumber": ["BANKB/eve"]}}
    assert ivms101_hash(other) != ivms101_hash(IVMS)
    record = travel_record(IVMS, "GDDS")
    assert (record.ivms101_hash, record.purpose_code) == (ivms101_hash(IVMS), "GDDS")


def test_policy_and_approval_builders_round_trip() -> None:
    body = policy_set_body("network", tx_max=5, force_approvers=["REG", "CB"], force_required=2)
    assert PolicySet.from_wire(body.to_wire()) == body
    assert body.scope is PolicyScope.NETWORK and body.terms.force_approval is not None
    assert body.terms.force_approval.approvers == ("CB", "REG")
    hold = hold_create_body("h1", "BANKB/carol", "BANKA:USD", 5, 10, approvers=["REG", "CB"],
                            approvals_required=1, travel=travel_record(IVMS, "SALA"))  # fmt: skip
    assert hold.terms.approval is not None and hold.terms.approval.required == 1
    assert hold_approve_body("BANKA/alice", "h1").to_wire() == ["BANKA/alice", "h1"]
    every = policy_set_body("network", force_approvers=["REG", "CB"])  # required 0: all of them
    assert every.terms.force_approval is not None and every.terms.force_approval.required == 2
    named = policy_set_body("network", freezers=["REG", "BANKB"], pausers=["REG"])
    assert (named.terms.freezers, named.terms.pausers) == (("BANKB", "REG"), ("REG",))
    assert PolicySet.from_wire(named.to_wire()) == named
    assert body.terms.freezers is None and body.terms.pausers is None  # the roles decide


def test_cli_transfer_with_travel_data(tmp_path: Path) -> None:
    data = tmp_path / "ivms.json"
    data.write_text(json.dumps(IVMS), encoding="utf-8")
    argv = ["tx", "transfer", "BANKB/carol", "BANKA:USD", "100", "--from", "BANKA/alice",
            "--travel-data", str(data), "--purpose", "GDDS"]  # fmt: skip
    body = build_body(build_parser().parse_args(argv))
    assert isinstance(body, Transfer) and body.travel == travel_record(IVMS, "GDDS")
    plain = build_body(build_parser().parse_args(argv[:7]))
    assert isinstance(plain, Transfer) and plain.travel is None
