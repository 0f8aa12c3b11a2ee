"""``make screenshot``: refresh docs/explorer-tx.png, the explorer's transaction page.

Starts a fresh 4-node cluster in a temporary folder (ports found free), pays 12.34 USD from
BANKA/alice to BANKB/bob with the SDK, opens the explorer, finds the payment by its hash through
the search box and saves the page once its receipt is shown. Run from the repository root:
``python -m tests.integration.explorer_screenshot [OUTPUT.png]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.integration.browser import headless_chromium, save_full_page_screenshot
from tests.integration.explorer_pages import (
    explorer_url,
    open_home,
    open_tx_by_search,
    pay,
    read_tx_page,
    wait_for_proof_check,
)
from tests.integration.harness import Cluster

DEFAULT_OUTPUT = Path("docs/explorer-tx.png")
AMOUNT = 1234


def take_screenshot(output: Path) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="depochain-screenshot-") as folder,
        Cluster(Path(folder) / "net").running(height=2) as cluster,
        headless_chromium() as driver,
    ):
        open_home(driver, explorer_url(cluster, 0))
        payment = pay(cluster, 1, AMOUNT)
        cluster.wait_height(0, payment.height)  # the node the page reads has the block
        open_tx_by_search(driver, payment.tx_hash)
        wait_for_proof_check(driver)
        page = read_tx_page(driver)
        if page["receipt_code"] != ["0"] or page["verified"] != ["true"]:
            raise RuntimeError(f"the tx page does not show a committed receipt: {page}")
        output.parent.mkdir(parents=True, exist_ok=True)
        save_full_page_screenshot(driver, output)


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    take_screenshot(output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
