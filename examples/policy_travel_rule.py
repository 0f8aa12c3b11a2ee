"""A bank's limits on a customer account, and the travel rule.

BANKA sets a policy on its customer BANKA/alice: at most 500.00 per payment, and a travel-rule
record from 100.00 on. The pre-check and then the chain refuse a 600.00 payment with
TX_LIMIT_EXCEEDED, and a 150.00 payment to BANKB/carol without travel-rule data with
TRAVEL_RULE_MISSING; neither moves a balance. The same payment carrying the sha256 of the
IVMS101-shaped originator/beneficiary data (kept off-chain by the banks) and a purpose code goes
through, and its receipt records that hash. BANKA then lifts its policy.

    make localnet            # in another terminal
    .venv/bin/python examples/policy_travel_rule.py [--home localnet]
"""

from __future__ import annotations

from common import Localnet, check, event_types, run

from node.client import ivms101_hash, policy_set_body, transfer_body, travel_record

ALICE, CAROL = "BANKA/alice", "BANKB/carol"
IVMS101 = {
    "originator": {
        "originatorPersons": [{"naturalPerson": {"name": {"nameIdentifier": [
            {"primaryIdentifier": "Liddell", "secondaryIdentifier": "Alice"}]}}}],
        "accountNumber": [ALICE],
    },
    "beneficiary": {
        "beneficiaryPersons": [{"naturalPerson": {"name": {"nameIdentifier": [
            {"primaryIdentifier": "Vanderbilt", "secondaryIdentifier": "Carol"}]}}}],
        "accountNumber": [CAROL],
    },
}  # fmt: skip


def refused(net: Localnet, amount: int, code: str) -> None:
    """The pre-check and then the chain refuse alice's payment with ``code``; nothing moves."""
    before = net.balance(ALICE, "BANKA:USD")
    pay = transfer_body(CAROL, "BANKA:USD", amount)
    nonce = int(net.client.nonce(ALICE)["next_nonce"])  # the pre-check uses up nothing
    answer = net.client.precheck(net.client.prepare(net.signer(ALICE), pay, nonce=nonce))
    check(answer["code_name"] == code, f"the pre-check said {answer['code_name']}, not {code}")
    net.submit(net.signer(ALICE), pay, expect=code)
    check(net.balance(ALICE, "BANKA:USD") == before, "a refused payment moved alice's balance")


def main(net: Localnet) -> None:
    bank = net.signer("BANKA")
    print("1. BANKA limits alice: 500.00 per payment, travel-rule data from 100.00")
    policy = policy_set_body("account", ALICE, tx_max=50_000, travel_threshold=10_000)
    net.submit(bank, policy)
    try:
        print("2. 600.00 is over the limit; 150.00 without travel-rule data is refused")
        refused(net, 60_000, "TX_LIMIT_EXCEEDED")
        refused(net, 15_000, "TRAVEL_RULE_MISSING")
        print("3. with the IVMS101 hash and a purpose code it goes through")
        carol = net.balance(CAROL, "BANKB:USD")
        pay = transfer_body(CAROL, "BANKA:USD", 15_000, travel_record(IVMS101, "GDDS"))
        receipt = net.submit(net.signer(ALICE), pay)
        recorded = [e for e in receipt["events"] if e["type"] == "TravelRuleRecorded"]
        check(len(recorded) == 1, f"no travel-rule event: {event_types(receipt)}")
        check(recorded[0]["ivms101_hash"] == ivms101_hash(IVMS101).hex(), "another hash recorded")
        after = net.balance(CAROL, "BANKB:USD")
        check(after["total"] == carol["total"] + 15_000, "carol was not paid")
    finally:
        print("4. BANKA lifts its policy")
        net.submit(bank, policy_set_body("account", ALICE))


if __name__ == "__main__":
    run(main, __doc__ or "")
