"""The explorer in a real browser (headless Debian chromium) against a real 4-node cluster: a
cross-bank payment made with the SDK is found by its hash through the search box, its page shows
the committed receipt and the certificate's quorum, and the accounts page shows the new balances
of both customers and of both banks (their settlement accounts at CB). The latest blocks arrive
over the websocket while the page stays open. A screenshot of each page goes to ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from node.client import Client
from tests.integration.browser import (
    get_console_errors,
    headless_chromium,
    save_full_page_screenshot,
)
from tests.integration.explorer_pages import (
    PAYEE,
    PAYEE_INSTRUMENT,
    PAYEE_RESERVE,
    PAYER,
    PAYER_INSTRUMENT,
    PAYER_RESERVE,
    SETTLEMENT_ASSET,
    explorer_url,
    get_latest_heights,
    open_accounts,
    open_block_of_tx,
    open_home,
    open_tx_by_search,
    pay,
    read_account_totals,
    read_block_page,
    read_tx_page,
    wait_for,
    wait_for_proof_check,
)
from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import api_cluster

pytestmark = pytest.mark.integration
__all__ = ["api_cluster"]

AMOUNT = 1234
BANKS = ("BANKA", "BANKB", "BANKC", "BANKD")
"""The localnet's validators: the only names a certificate's signers may carry."""
"""12.34 USD: minor units that show whether the page places the decimal point."""


def format_major(minor: int, decimals: int, currency: str) -> str:
    """The amount as a person reads it, e.g. 100001234 with 2 decimals -> '1,000,012.34 USD'."""
    whole, fraction = divmod(minor, 10**decimals)
    return f"{whole:,}.{fraction:0{decimals}d} {currency}" if decimals else f"{whole:,} {currency}"


def get_totals(client: Client, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    totals = {}
    for account_id, instrument_id in wanted:
        balances = client.account(account_id)["balances"]
        totals[(account_id, instrument_id)] = next(
            b["total"] for b in balances if b["instrument_id"] == instrument_id
        )
    return totals


BALANCES = [
    (PAYER, PAYER_INSTRUMENT),
    (PAYEE, PAYEE_INSTRUMENT),
    (PAYER_RESERVE, SETTLEMENT_ASSET),
    (PAYEE_RESERVE, SETTLEMENT_ASSET),
]
CHANGE = {
    (PAYER, PAYER_INSTRUMENT): -AMOUNT,
    (PAYEE, PAYEE_INSTRUMENT): AMOUNT,
    (PAYER_RESERVE, SETTLEMENT_ASSET): -AMOUNT,
    (PAYEE_RESERVE, SETTLEMENT_ASSET): AMOUNT,
}


def test_a_payment_found_by_hash_shows_its_receipt_and_the_new_balances(
    api_cluster: Cluster, tmp_path: Path
) -> None:
    client = Client(api_cluster.url(0))
    before = get_totals(client, BALANCES)
    with headless_chromium() as driver:
        heights_before = open_home(driver, explorer_url(api_cluster, 0))
        payment = pay(api_cluster, 1, AMOUNT)
        assert max(heights_before) < payment.height  # the page was loaded before the block

        # The new block arrives over the websocket: the open page updates without a reload.
        wait_for(
            driver,
            lambda d: max(get_latest_heights(d), default=0) >= payment.height,
            f"block {payment.height} in the live list (was up to {max(heights_before)})",
        )
        save_full_page_screenshot(driver, tmp_path / "explorer-home.png")

        open_tx_by_search(driver, payment.tx_hash)
        wait_for_proof_check(driver)
        page = read_tx_page(driver)
        save_full_page_screenshot(driver, tmp_path / "explorer-tx.png")
        assert page["error"] == [] and page["hash"] == [payment.tx_hash]
        assert page["status"] == ["committed"]
        assert page["receipt_code"] == ["0"] and page["receipt_text"] == ["0 OK"]
        assert page["events"] == ["Transferred", "InterbankSettled"]
        assert page["event_amounts"] == ["12.34 USD", "12.34 USD"]
        assert len(page["quorum"]) == 1 and "more than 2/3" in page["quorum"][0]
        assert page["verified"] == ["true"]  # the proof verified in the page (verify.js)

        open_block_of_tx(driver, payment.height)
        block = read_block_page(driver, payment.tx_hash)
        assert block["tx_rows"] == 1 and block["tx_receipt"] == ["0 OK"]
        assert block["tx_events"] == ["Transferred", "InterbankSettled"]
        assert len(block["signers"]) >= 3 and set(block["signers"]) <= set(BANKS)
        assert len(block["quorum"]) == 1 and "more than 2/3" in block["quorum"][0]

        after = get_totals(client, BALANCES)
        assert {key: after[key] - before[key] for key in BALANCES} == CHANGE
        open_accounts(driver)
        shown = read_account_totals(driver)
        save_full_page_screenshot(driver, tmp_path / "explorer-accounts.png")
        for key in BALANCES:
            assert shown.get(key) == format_major(after[key], 2, "USD"), key

        assert get_console_errors(driver) == []


FORMAT_IN_PAGE = """
const done = arguments[0];
Promise.all([import("/explorer/format.js"), import("/explorer/api.js")]).then(([f, api]) => {
  const big = api.parseExactJson('{"total": 9223372036854775807}').total;
  done([
    f.formatAmount(1234, 2), f.formatAmount(5, 2), f.formatAmount(0, 2), f.formatAmount(100, 0),
    f.formatAmount(-1234567, 3), typeof big, f.formatAmount(big, 2),
  ]);
}, (e) => done(String(e)));
"""


def test_amounts_are_shown_in_major_units_exactly(api_cluster: Cluster) -> None:
    """Decimals placed right, and amounts up to 2^63 - 1 (beyond a double's 2^53) exact."""
    with headless_chromium() as driver:
        driver.get(explorer_url(api_cluster, 0) + "#/instruments")
        shown = driver.execute_async_script(FORMAT_IN_PAGE)
    assert shown == [
        "12.34",
        "0.05",
        "0.00",
        "100",
        "-1,234.567",
        "bigint",
        "92,233,720,368,547,758.07",
    ]
