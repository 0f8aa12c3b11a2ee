"""Cross-currency PvP across four banks: USD against HKD, both legs or neither.

alice (BANKA) pays 1,000.00 USD to bob (BANKB) and carol (BANKC) pays 7,800.00 HKD to erin
(BANKD). Each payer puts its leg on hold for the settlement agent CB; CB settles both holds in
one HOLD_EXECUTE. Each leg settles across banks in its own central-bank asset: CB:USD moves from
BANKA's to BANKB's settlement account, CB:HKD from BANKC's to BANKD's.

First CB tries to settle the two legs together with a third whose time has not come: the
transaction is rejected and neither of the two legs moves (checked on the chain). Then the two
legs settle together and every balance is checked.

    make localnet            # in another terminal
    .venv/bin/python examples/pvp_usd_hkd.py [--home localnet]
"""

from __future__ import annotations

from common import Localnet, check, event_types, run

from consensus.ledger.records import InstrumentKind, InstrumentSpec
from node.client import (
    hold_cancel_body,
    hold_create_body,
    hold_execute_body,
    instrument_register_body,
)

USD, HKD = 100_000, 780_000
"""1,000.00 USD and 7,800.00 HKD in minor units."""


def ensure_bank_d_hkd(net: Localnet) -> None:
    """BANKD gets an HKD deposit token (settling in CB:HKD) so erin can receive HKD:
    governance (BANKA, BANKB, BANKC: more than 2/3 of the banks) and the issuer BANKD sign."""
    if net.has_instrument("BANKD:HKD"):
        return
    spec = InstrumentSpec("BANKD:HKD", InstrumentKind.DEPOSIT_TOKEN, "BANKD", "HKD", 2, "CB:HKD")
    governance = net.signer("BANKA", "BANKB", "BANKC", "BANKD")
    net.submit(governance, instrument_register_body(spec))


def snapshot(net: Localnet) -> dict[str, int]:
    pairs = [
        ("BANKA/alice", "BANKA:USD"), ("BANKB/bob", "BANKB:USD"),
        ("BANKC/carol", "BANKC:HKD"), ("BANKD/erin", "BANKD:HKD"),
        ("CB/BANKA", "CB:USD"), ("CB/BANKB", "CB:USD"),
        ("CB/BANKC", "CB:HKD"), ("CB/BANKD", "CB:HKD"),
    ]  # fmt: skip
    return {f"{a} {i}": int(net.balance(a, i)["total"]) for a, i in pairs}


def main(net: Localnet) -> None:
    ensure_bank_d_hkd(net)
    expiry = net.chain_time_ms() + 10 * 60_000
    usd_id, hkd_id, late_id = (f"pvp-{net.run_id}-{leg}" for leg in ("usd", "hkd", "late"))
    print("1. both payers hold their leg for CB")
    usd = hold_create_body(usd_id, "BANKB/bob", "BANKA:USD", USD, expiry, executor="CB")
    net.submit(net.signer("BANKA/alice"), usd)
    net.submit(
        net.signer("BANKC/carol"),
        hold_create_body(hkd_id, "BANKD/erin", "BANKC:HKD", HKD, expiry, executor="CB"),
    )
    late = hold_create_body(
        late_id, "BANKD/erin", "BANKC:HKD", 1, expiry,
        not_before_ms=expiry - 1, executor="CB", revocable=True,
    )  # fmt: skip
    net.submit(net.signer("BANKC/dave"), late)
    check(net.balance("BANKA/alice", "BANKA:USD")["held"] >= USD, "alice's USD is not held")
    before = snapshot(net)
    print("2. CB settles with a leg that is not due: rejected, nothing moves")
    legs = [
        ("BANKA/alice", usd_id, None),
        ("BANKC/carol", hkd_id, None),
        ("BANKC/dave", late_id, None),
    ]
    net.submit(net.signer("CB"), hold_execute_body(legs), expect="HOLD_NOT_DUE")
    check(snapshot(net) == before, "a rejected settlement moved a balance")
    print("3. CB settles both legs atomically")
    receipt = net.submit(net.signer("CB"), hold_execute_body(legs[:2]))
    expected = ["HoldExecuted", "InterbankSettled", "HoldExecuted", "InterbankSettled"]
    check(event_types(receipt) == expected, f"events {event_types(receipt)}")
    after = snapshot(net)
    moved = {name: after[name] - before[name] for name in before}
    check(moved == {
        "BANKA/alice BANKA:USD": -USD, "BANKB/bob BANKB:USD": USD,
        "BANKC/carol BANKC:HKD": -HKD, "BANKD/erin BANKD:HKD": HKD,
        "CB/BANKA CB:USD": -USD, "CB/BANKB CB:USD": USD,
        "CB/BANKC CB:HKD": -HKD, "CB/BANKD CB:HKD": HKD,
    }, f"unexpected movements {moved}")  # fmt: skip
    print("4. dave takes back his revocable hold")
    net.submit(net.signer("BANKC/dave"), hold_cancel_body("BANKC/dave", late_id))


if __name__ == "__main__":
    run(main, __doc__ or "")
