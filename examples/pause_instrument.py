"""A paused instrument: nothing moves it but control transactions, until it is unpaused.

The regulator REG pauses BANKB:USD. A payment in it (bob to carol at BANKB) and a payment into
it from another bank (alice at BANKA to bob at BANKB, which would mint BANKB:USD) are refused
with PAUSED, while a payment in another token (alice to bob at BANKA) goes through, and a control
transaction on the paused token (a freeze order) is still accepted. After REG lifts its pause,
the payment goes through.

    make localnet            # in another terminal
    .venv/bin/python examples/pause_instrument.py [--home localnet]
"""

from __future__ import annotations

from common import Localnet, check, run

from node.client import freeze_body, pause_body, transfer_body

REASON = "REG-NOTICE-2026-7"


def main(net: Localnet) -> None:
    bob_b = net.balance("BANKB/bob", "BANKB:USD")
    print("1. REG pauses BANKB:USD")
    net.submit(net.signer("REG"), pause_body("instrument", "BANKB:USD", REASON))
    print("2. no movement of the paused token, nor into it")
    pay = transfer_body("BANKB/carol", "BANKB:USD", 100)
    net.submit(net.signer("BANKB/bob"), pay, expect="PAUSED")
    into = transfer_body("BANKB/bob", "BANKA:USD", 100)
    net.submit(net.signer("BANKA/alice"), into, expect="PAUSED")
    check(net.balance("BANKB/bob", "BANKB:USD") == bob_b, "the paused token moved")
    print("3. other tokens move; control transactions on the paused one are allowed")
    net.submit(net.signer("BANKA/alice"), transfer_body("BANKA/bob", "BANKA:USD", 100))
    order = freeze_body("BANKB/bob", "REG-CHECK-1", instrument_id="BANKB:USD", amount=1)
    net.submit(net.signer("REG"), order)
    net.submit(net.signer("REG"), freeze_body("BANKB/bob", "REG-CHECK-1"))
    print("4. REG lifts its pause; the payment goes through")
    net.submit(net.signer("REG"), pause_body("instrument", "BANKB:USD", REASON, paused=False))
    net.submit(net.signer("BANKB/bob"), pay)
    after = net.balance("BANKB/bob", "BANKB:USD")
    check(after["total"] == bob_b["total"] - 100, "the payment after unpausing did not move")


if __name__ == "__main__":
    run(main, __doc__ or "")
