"""Conservation checks over the REST API: an instrument's supply equals what accounts hold.

``supply`` is defined as minted - redeemed, so comparing those two fields checks nothing; summing
every account's balance of the instrument does (a mint, burn or transfer that loses or creates
money shows up here). Other tests may commit while the pages are read, so a check retries until
one reading sees the same supply before and after it.
"""

from __future__ import annotations

import time
from typing import Any

from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import http

PAGE_LIMIT = 100


def get_supply(cluster: Cluster, instrument_id: str, node: int = 0) -> int:
    status, _, body = http(f"{cluster.url(node)}/api/v1/instruments/{instrument_id}")
    assert status == 200, body
    return int(body["supply"])


def sum_holdings(cluster: Cluster, instrument_id: str, node: int = 0) -> int:
    """The instrument's balance totals (free, frozen and held) summed over every account."""
    total, cursor = 0, ""
    while True:
        status, _, page = http(
            f"{cluster.url(node)}/api/v1/accounts?limit={PAGE_LIMIT}&cursor={cursor}"
        )
        assert status == 200, page
        total += sum(_holding(account, instrument_id) for account in page["items"])
        if page["next_cursor"] is None:
            return total
        cursor = page["next_cursor"]


def _holding(account: dict[str, Any], instrument_id: str) -> int:
    return sum(b["total"] for b in account["balances"] if b["instrument_id"] == instrument_id)


def assert_supply_is_held(
    cluster: Cluster, instrument_id: str, node: int = 0, timeout_s: float = 30.0
) -> int:
    """Assert that the accounts hold exactly the instrument's supply; returns the supply."""
    deadline = time.monotonic() + timeout_s
    while True:
        before = get_supply(cluster, instrument_id, node)
        held = sum_holdings(cluster, instrument_id, node)
        after = get_supply(cluster, instrument_id, node)
        if before == after == held:
            return held
        if time.monotonic() > deadline:
            raise AssertionError(f"{instrument_id}: supply {before}..{after}, accounts hold {held}")
        time.sleep(0.2)
