"""The explorer's pages driven as a person would in a real browser, shared by the browser test
and ``make screenshot``: pay across banks with the SDK, open the explorer, find the payment by
its hash through the search box, read what the page shows.

The readers return the page's visible text (located by the ``data-*`` hooks the pages carry),
so a test compares what a person sees with what the API and the ledger say.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from node.client import Client, Signer, transfer_body, validator_set_from_genesis
from tests.integration.harness import Cluster

WAIT_S = 60.0
POLL_S = 0.2
PAYER = "BANKA/alice"
PAYEE = "BANKB/bob"
PAYER_INSTRUMENT = "BANKA:USD"
PAYEE_INSTRUMENT = "BANKB:USD"
SETTLEMENT_ASSET = "CB:USD"
PAYER_RESERVE = "CB/BANKA"
PAYEE_RESERVE = "CB/BANKB"
"""The banks' own accounts at the settlement agent: a cross-bank payment moves CB:USD between
them (alice's bank pays bob's bank)."""


@dataclass(frozen=True, slots=True)
class Payment:
    tx_hash: str
    height: int
    amount: int


def pay(cluster: Cluster, node_index: int, amount: int) -> Payment:
    """A cross-bank transfer PAYER -> PAYEE through the SDK, final and proof-verified."""
    client = Client(cluster.url(node_index))
    signer = Signer(PAYER, (cluster.account_key(PAYER),))
    tx = client.prepare(signer, transfer_body(PAYEE, PAYER_INSTRUMENT, amount))
    final = client.submit_and_wait(tx, validator_set_from_genesis(cluster.home / "genesis.json"))
    return Payment(final.tx_hash, final.height, amount)


def explorer_url(cluster: Cluster, node_index: int) -> str:
    return cluster.url(node_index).rstrip("/") + "/explorer/"


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    """Poll ``condition``; an element replaced by a re-render while read is read again."""
    wait = WebDriverWait(
        driver, WAIT_S, poll_frequency=POLL_S, ignored_exceptions=[StaleElementReferenceException]
    )
    return wait.until(condition, message=what)


def texts(driver: WebDriver, css: str) -> list[str]:
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, css)]


def search(driver: WebDriver, query: str) -> None:
    box = driver.find_element(By.ID, "search-input")
    box.clear()
    box.send_keys(query)
    driver.find_element(By.ID, "search-button").click()


def get_latest_heights(driver: WebDriver) -> list[int]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#latest-blocks tr[data-height]")
    return [int(row.get_attribute("data-height") or 0) for row in rows]


def open_home(driver: WebDriver, url: str) -> list[int]:
    """Load the explorer; wait for the latest blocks and the live feed; their heights."""
    driver.get(url)
    wait_for(driver, lambda d: get_latest_heights(d), "the latest blocks table")
    wait_for(driver, lambda d: texts(d, "#live-state") == ["live"], "the websocket feed")
    return get_latest_heights(driver)


def open_tx_by_search(driver: WebDriver, tx_hash: str) -> None:
    search(driver, tx_hash)
    wait_for(
        driver,
        lambda d: texts(d, "#tx-hash") == [tx_hash] or texts(d, "#error"),
        "the transaction page",
    )


def wait_for_proof_check(driver: WebDriver) -> None:
    """The page verifies the finality proof asynchronously: wait for its verdict."""
    wait_for(
        driver,
        lambda d: (
            [e.get_attribute("data-verified") for e in d.find_elements(By.ID, "proof-check")]
            not in ([], ["pending"])
        ),
        "the in-browser proof check",
    )


def read_tx_page(driver: WebDriver) -> dict[str, Any]:
    codes = driver.find_elements(By.CSS_SELECTOR, "#receipt [data-code]")
    return {
        "hash": texts(driver, "#tx-hash"),
        "status": texts(driver, "[data-field=status] td"),
        "receipt_code": [element.get_attribute("data-code") for element in codes],
        "receipt_text": [element.text for element in codes],
        "events": [
            element.get_attribute("data-event")
            for element in driver.find_elements(By.CSS_SELECTOR, "#receipt tr[data-event]")
        ],
        "event_amounts": texts(driver, "#receipt [data-name=amount]"),
        "quorum": texts(driver, "#proof [data-field=signed-power]"),
        "verified": [
            element.get_attribute("data-verified")
            for element in driver.find_elements(By.ID, "proof-check")
        ],
        "error": texts(driver, "#error"),
    }


def open_accounts(driver: WebDriver) -> None:
    driver.find_element(By.CSS_SELECTOR, "nav a[href='#/accounts']").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#accounts tr"), "accounts")


def read_account_totals(driver: WebDriver) -> dict[tuple[str, str], str]:
    """(account, instrument) -> the total balance as shown on the accounts page."""
    totals: dict[tuple[str, str], str] = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "#accounts tr[data-account]"):
        account = row.get_attribute("data-account") or ""
        for item in row.find_elements(By.CSS_SELECTOR, "li[data-balance]"):
            amount = item.find_element(By.CSS_SELECTOR, ".amount").text
            totals[(account, item.get_attribute("data-balance") or "")] = amount
    return totals


def open_block_of_tx(driver: WebDriver, height: int) -> None:
    """Follow the tx page's link to its block."""
    driver.find_element(By.CSS_SELECTOR, "[data-field=height] a").click()
    wait_for(
        driver,
        lambda d: texts(d, "#view h2")[:1] == [f"Block {height}"],
        f"the page of block {height}",
    )


def read_block_page(driver: WebDriver, tx_hash: str) -> dict[str, Any]:
    row = f"tr[data-tx='{tx_hash}']"
    return {
        "tx_rows": len(driver.find_elements(By.CSS_SELECTOR, row)),
        "tx_receipt": texts(driver, f"{row} [data-code]"),
        "tx_events": [
            element.get_attribute("data-event")
            for element in driver.find_elements(By.CSS_SELECTOR, f"{row} tr[data-event]")
        ],
        "signers": [
            element.get_attribute("data-signer")
            for element in driver.find_elements(By.CSS_SELECTOR, "tr[data-signer]")
        ],
        "quorum": texts(driver, "[data-field=signed-power]"),
    }
