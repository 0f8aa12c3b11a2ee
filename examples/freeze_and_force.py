"""A regulator's freeze that the bank cannot lift, then a forced transfer of the frozen funds.

The regulator REG freezes carol's account at BANKB and 500.00 of her BANKB:USD under a court
order. BANKB then gives its own order lifting everything: it is accepted (it is BANKB's own
order) but carol's account stays frozen, because REG's order stands — carol's payment is refused
with ACCOUNT_FROZEN. REG then executes the court order with a FORCED_TRANSFER of the frozen
500.00 to bob's account at the same bank: a distinct ForcedTransferred event names the authority
and the legal basis. REG lifts its freeze.

Then governance (the four banks) names REG alone as the authority that may freeze, in its
network policy: BANKB's freeze of its own customer, which its role allows, is refused with
AUTHORITY_NOT_PERMITTED, REG's is accepted. Governance lifts its order again and the roles
decide as before (the script assumes governance has no other network order standing: lifting
it would remove that too).

    make localnet            # in another terminal
    .venv/bin/python examples/freeze_and_force.py [--home localnet]
"""

from __future__ import annotations

from common import Localnet, check, event_types, run

from node.client import forced_transfer_body, freeze_body, policy_set_body, transfer_body

SEIZED = 50_000
"""500.00 USD in minor units."""
COURT_ORDER = "COURT-2026-0042"
GOVERNANCE = ("BANKA", "BANKB", "BANKC", "BANKD")


def main(net: Localnet) -> None:
    carol_before = net.balance("BANKB/carol", "BANKB:USD")
    bob_before = net.balance("BANKB/bob", "BANKB:USD")
    print("1. REG freezes carol's account and 500.00 of her balance")
    order = freeze_body(
        "BANKB/carol", COURT_ORDER, account_frozen=True, instrument_id="BANKB:USD", amount=SEIZED
    )
    net.submit(net.signer("REG"), order)
    check(net.client.account("BANKB/carol")["frozen"] is True, "the account is not frozen")
    print("2. BANKB's own order lifts nothing of REG's")
    lift = freeze_body("BANKB/carol", "BANK-REVIEW-7", instrument_id="BANKB:USD", amount=0)
    net.submit(net.signer("BANKB"), lift)
    check(net.client.account("BANKB/carol")["frozen"] is True, "the bank lifted REG's freeze")
    check(net.balance("BANKB/carol", "BANKB:USD")["frozen"] == SEIZED, "the amount was lifted")
    pay = transfer_body("BANKB/bob", "BANKB:USD", 100)
    net.submit(net.signer("BANKB/carol"), pay, expect="ACCOUNT_FROZEN")
    print("3. REG executes the court order: a forced transfer of the frozen funds")
    forced = forced_transfer_body("BANKB/carol", "BANKB/bob", "BANKB:USD", SEIZED, COURT_ORDER)
    receipt = net.submit(net.signer("REG"), forced)
    check(event_types(receipt) == ["ForcedTransferred"], str(receipt))
    event = receipt["events"][0]
    check(event["authority"] == "REG" and event["legal_basis_ref"] == COURT_ORDER, str(event))
    carol = net.balance("BANKB/carol", "BANKB:USD")
    check(carol["total"] == carol_before["total"] - SEIZED, "carol's funds were not taken")
    check(carol["frozen"] == 0, "the frozen amount was not consumed")
    bob = net.balance("BANKB/bob", "BANKB:USD")
    check(bob["total"] == bob_before["total"] + SEIZED, "bob did not receive the funds")
    print("4. REG lifts its freeze")
    net.submit(net.signer("REG"), freeze_body("BANKB/carol", COURT_ORDER))
    check(net.client.account("BANKB/carol")["frozen"] is False, "the account is still frozen")
    only_named_authorities_freeze(net)


def only_named_authorities_freeze(net: Localnet) -> None:
    print("5. governance names REG alone as the authority that may freeze")
    receipt = net.submit(net.signer(*GOVERNANCE), policy_set_body("network", freezers=["REG"]))
    check(event_types(receipt) == ["PolicyChanged", "AuthoritiesNamed"], str(receipt))
    check(receipt["events"][1]["freezers"] == "REG", str(receipt["events"][1]))
    bank_order = freeze_body("BANKB/carol", "BANK-REVIEW-8", account_frozen=True)
    net.submit(net.signer("BANKB"), bank_order, expect="AUTHORITY_NOT_PERMITTED")
    check(net.client.account("BANKB/carol")["frozen"] is False, "a bank not named froze")
    net.submit(net.signer("REG"), freeze_body("BANKB/carol", COURT_ORDER, account_frozen=True))
    check(net.client.account("BANKB/carol")["frozen"] is True, "REG, named, did not freeze")
    net.submit(net.signer("REG"), freeze_body("BANKB/carol", COURT_ORDER))
    print("6. governance lifts its order: the roles decide again")
    receipt = net.submit(net.signer(*GOVERNANCE), policy_set_body("network"))
    check(receipt["events"][-1] == {"type": "AuthoritiesNamed", "freezers": "", "pausers": ""},
          str(receipt))  # fmt: skip
    net.submit(net.signer("BANKB"), bank_order)
    check(net.client.account("BANKB/carol")["frozen"] is True, "BANKB's own freeze failed")
    net.submit(net.signer("BANKB"), freeze_body("BANKB/carol", "BANK-REVIEW-8"))
    check(net.client.account("BANKB/carol")["frozen"] is False, "the account is still frozen")


if __name__ == "__main__":
    run(main, __doc__ or "")
