"""DvP with a hash lock, and the refund when the other side never delivers.

alice (BANKA) buys a security from carol (BANKB). The security moves on a securities ledger
under the same hash lock; the cash leg here is a hold of 2,500.00 USD for carol, locked by
sha256(secret) and released only with the secret. Delivering the security reveals the secret,
and carol claims the cash with it: a wrong secret is refused (HASH_LOCK_MISMATCH), the right one
settles the hold across banks (BANKA:USD burned, CB:USD moved, BANKB:USD minted).

A second, short-lived hold is never claimed: once the chain's block time passes its expiry,
anyone (here bob) cancels it and alice's funds are free again.

    make localnet            # in another terminal
    .venv/bin/python examples/dvp_hash_lock.py [--home localnet]
"""

from __future__ import annotations

import secrets

from common import Localnet, check, event_types, run

from node.client import hash_lock_of, hold_cancel_body, hold_create_body, hold_execute_body

CASH = 250_000
"""2,500.00 USD in minor units."""


def claim(net: Localnet, hold_id: str, secret: bytes, expect: str = "OK") -> None:
    body = hold_execute_body([("BANKA/alice", hold_id, secret)])
    net.submit(net.signer("BANKB/carol"), body, expect=expect)


def main(net: Localnet) -> None:
    secret = secrets.token_bytes(32)
    lock = hash_lock_of(secret)
    hold_id = f"dvp-{net.run_id}"
    expiry = net.chain_time_ms() + 10 * 60_000
    alice_before = net.balance("BANKA/alice", "BANKA:USD")
    carol_before = net.balance("BANKB/carol", "BANKB:USD")
    print("1. alice locks the cash for carol under sha256(secret)")
    body = hold_create_body(hold_id, "BANKB/carol", "BANKA:USD", CASH, expiry, hash_lock=lock)
    net.submit(net.signer("BANKA/alice"), body)
    held = net.balance("BANKA/alice", "BANKA:USD")
    check(held["held"] == alice_before["held"] + CASH, "the cash is not held")
    check(held["total"] == alice_before["total"], "a hold changed the total")
    print("2. a wrong secret does not open it")
    claim(net, hold_id, b"not the secret", expect="HASH_LOCK_MISMATCH")
    print("3. the security is delivered, the secret revealed: carol claims the cash")
    receipt = net.submit(
        net.signer("BANKB/carol"), hold_execute_body([("BANKA/alice", hold_id, secret)])
    )
    check(event_types(receipt) == ["HoldExecuted", "InterbankSettled"], str(receipt))
    alice = net.balance("BANKA/alice", "BANKA:USD")
    carol = net.balance("BANKB/carol", "BANKB:USD")
    check(alice["total"] == alice_before["total"] - CASH, "alice did not pay")
    check(alice["held"] == alice_before["held"], "the hold was not released")
    check(carol["total"] == carol_before["total"] + CASH, "carol was not paid")
    print("4. an unclaimed hold expires and anyone refunds it")
    short_id = f"dvp-{net.run_id}-unclaimed"
    short_expiry = net.chain_time_ms() + 20_000  # block time: generous on a busy machine
    body = hold_create_body(
        short_id, "BANKB/carol", "BANKA:USD", CASH, short_expiry, hash_lock=lock
    )
    net.submit(net.signer("BANKA/alice"), body)
    net.submit(
        net.signer("BANKA/bob"), hold_cancel_body("BANKA/alice", short_id), "HOLD_NOT_EXPIRED"
    )
    net.wait_chain_time(short_expiry)
    receipt = net.submit(net.signer("BANKA/bob"), hold_cancel_body("BANKA/alice", short_id))
    check(receipt["events"][0]["expired"] is True, "the refund did not see the expiry")
    refunded = net.balance("BANKA/alice", "BANKA:USD")
    check(refunded["held"] == alice_before["held"], "the refund left funds held")
    check(refunded["total"] == alice["total"], "a refund changed the total")


if __name__ == "__main__":
    run(main, __doc__ or "")
