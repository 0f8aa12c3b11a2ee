"""What the nemesis verifies after each fault, all through the nodes' REST API.

- exactly once: every acknowledged tx hash appears in exactly one block (a tx committed with a
  non-zero code is a rejection with a receipt, which counts as done);
- no fork: at every height two nodes both hold, they hold the same block hash (the header it
  hashes carries the app hash, so equal block hashes mean equal app hashes too);
- conservation: on every node, for every instrument, the sum of all accounts' balances equals
  the instrument's supply (read while the load is paused and the chain idle);
- recovery: seconds from the heal until every node is at the tip again and a tx submitted after
  the heal is committed on every node.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consensus.crypto import sha256
from node.client.common import API
from node.client.errors import ClientError

__all__ = ["ChainScan", "ClientError", "check_conservation", "client", "count_committed"]
from node.client.sync import Client

PAGE = 100
HTTP_TIMEOUT_S = 10.0
POLL_S = 0.1

Json = dict[str, Any]


def client(url: str) -> Client:
    return Client(url, timeout_s=HTTP_TIMEOUT_S)


def get_height(url: str) -> int | None:
    try:
        return int(client(url).status()["height"])
    except (ClientError, KeyError, ValueError):
        return None


@dataclass
class ChainScan:
    """Every node's block hashes by height and the reference node's txs, read incrementally."""

    urls: list[str]
    hashes: list[dict[int, str]] = field(default_factory=list)
    tx_count: Counter[str] = field(default_factory=Counter)
    tx_code: dict[str, int] = field(default_factory=dict)
    tx_height: dict[str, int] = field(default_factory=dict)
    txs_read_to: int = 0
    unreachable: set[int] = field(default_factory=set)
    """Nodes that did not answer during the last scan."""

    def __post_init__(self) -> None:
        self.hashes = [{} for _ in self.urls]

    def scan(self) -> None:
        self.unreachable.clear()
        for index, url in enumerate(self.urls):
            try:
                self._scan_hashes(index, url)
            except (ClientError, KeyError, ValueError):
                self.unreachable.add(index)
        answering = [i for i in range(len(self.urls)) if i not in self.unreachable]
        if answering:
            try:
                self._scan_txs(answering[0])
            except (ClientError, KeyError, ValueError):
                # a node too slow to answer (a loaded machine) is read again at the next scan;
                # the soak of a slow machine must not end in a traceback here
                self.unreachable.add(answering[0])

    def _scan_hashes(self, index: int, url: str) -> None:
        known = self.hashes[index]
        done = max(known, default=0)
        cursor: str | None = None
        while True:
            query: Json = {"limit": PAGE, "cursor": cursor}
            answer = client(url).get(f"{API}/blocks", **query)
            items = answer["items"]
            for item in items:
                if int(item["height"]) > done:
                    known[int(item["height"])] = str(item["hash"])
            cursor = answer.get("next_cursor")
            if not items or cursor is None or int(items[-1]["height"]) <= done + 1:
                return

    def _scan_txs(self, index: int) -> None:
        """The txs of node ``index``'s blocks not read yet (every node's blocks agree unless a
        fork is reported)."""
        top = max(self.hashes[index], default=0)
        api = client(self.urls[index])
        for height in range(self.txs_read_to + 1, top + 1):
            block = api.block(height)
            for tx_hash, code in zip(block["tx_hashes"], block["tx_codes"], strict=False):
                self.tx_count[tx_hash] += 1
                self.tx_code.setdefault(tx_hash, int(code))
                self.tx_height.setdefault(tx_hash, height)
            self.txs_read_to = height

    def count_forks(self) -> list[int]:
        """Heights at which two nodes hold different blocks."""
        heights = set().union(*self.hashes)
        return sorted(h for h in heights if len({c[h] for c in self.hashes if h in c}) > 1)


def count_committed(scan: ChainScan, hashes: list[str]) -> tuple[list[str], list[str], int]:
    """(not committed, committed more than once, rejected with a receipt) among ``hashes``."""
    missing = [h for h in hashes if scan.tx_count[h] == 0]
    duplicated = [h for h in hashes if scan.tx_count[h] > 1]
    rejected = sum(1 for h in hashes if scan.tx_count[h] == 1 and scan.tx_code.get(h, 0) != 0)
    return missing, duplicated, rejected


def read_all(url: str, path: str) -> list[Json]:
    items: list[Json] = []
    cursor: str | None = None
    while True:
        answer = client(url).get(path, limit=PAGE, cursor=cursor)
        items.extend(answer["items"])
        cursor = answer.get("next_cursor")
        if cursor is None:
            return items


def check_conservation(url: str) -> dict[str, Json]:
    """instrument -> {supply, balances, ok} as one node reports it."""
    totals: Counter[str] = Counter()
    for account in read_all(url, f"{API}/accounts"):
        for balance in account["balances"]:
            totals[str(balance["instrument_id"])] += int(balance["total"])
    report = {}
    for instrument in read_all(url, f"{API}/instruments"):
        iid = str(instrument["instrument_id"])
        supply = int(instrument["supply"])
        report[iid] = {"supply": supply, "balances": totals[iid], "ok": supply == totals[iid]}
    return report


def wait_settled(urls: list[str], timeout_s: float) -> bool:
    """Wait until every node answers and all are at the same height (the chain keeps making
    empty blocks, so 'same' is read twice a little apart)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        heights = [get_height(url) for url in urls]
        if None not in heights and max(heights) - min(heights) <= 0:  # type: ignore[type-var,operator]
            return True
        time.sleep(POLL_S)
    return False


def wait_committed_everywhere(urls: list[str], tx_hash: str, deadline: float) -> int | None:
    """The height at which ``tx_hash`` is committed once every node reports it committed; None
    if that did not happen by ``deadline`` (a monotonic time)."""
    done: dict[int, int] = {}
    while time.monotonic() < deadline:
        for index, url in enumerate(urls):
            if index in done:
                continue
            try:
                view = client(url).tx(tx_hash)
            except ClientError:
                continue
            if view.get("status") in ("committed", "rejected") and view.get("height"):
                done[index] = int(view["height"])
        if len(done) == len(urls):
            return max(done.values())
        time.sleep(POLL_S)
    return None


def wait_idle(urls: list[str], timeout_s: float) -> bool:
    """Wait until every node answers with an empty mempool (nothing left to change balances
    while they are read)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if all(int(client(url).status()["mempool_size"]) == 0 for url in urls):
                return True
        except (ClientError, KeyError, ValueError):
            pass
        time.sleep(POLL_S)
    return False


def sha256_hex(raw: bytes) -> str:
    return sha256(raw).hex()
