"""Proof of liabilities: every balance of one instrument, proven complete against a certified
app hash, summed and compared with the instrument's proven supply.

The pages' proven slices must tile the instrument's whole balance range: the first starts at
its low end, each next one where the previous ended, the last at its high end; every page is
of the same certified state (the height is pinned by the first page). A balance left out of
any page, a page skipped, or a page of another state fails the audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.ledger.commitment import instrument_balances_range
from node.client.errors import ProofError
from node.client.state_proofs import CertifiedRoot, Trust, verify_balance_page
from node.client.sync import Client

PAGES_MAX = 1_000_000


@dataclass(slots=True)
class LiabilitiesAudit:
    instrument_id: str
    root: CertifiedRoot
    supply: int
    holders: dict[str, int] = field(default_factory=dict)
    """Every account holding the instrument, with its total balance (frozen included)."""
    pages: int = 0

    @property
    def total(self) -> int:
        return sum(self.holders.values())

    @property
    def balanced(self) -> bool:
        return self.total == self.supply


def audit_liabilities(
    client: Client,
    trust: Trust,
    instrument_id: str,
    height: int | None = None,
    page_limit: int | None = None,
) -> LiabilitiesAudit:
    """Download and verify every page; raise :class:`ProofError` if any proof fails or the
    pages do not tile the range. The caller compares ``total`` with ``supply``."""
    range_lo, range_hi = instrument_balances_range(instrument_id)
    lo, cursor = range_lo, None
    audit: LiabilitiesAudit | None = None
    for _ in range(PAGES_MAX):
        page = client.balances_page(instrument_id, height, cursor, page_limit)
        proven = verify_balance_page(page, trust, instrument_id, lo)
        if audit is None:
            audit = LiabilitiesAudit(instrument_id, proven.root, proven.supply)
            height = proven.root.height
        elif proven.root.app_hash != audit.root.app_hash:
            raise ProofError("a page is of another state than the first")
        audit.pages += 1
        for account_id, balance in proven.balances:
            audit.holders[account_id] = balance.total
        cursor = page.get("next_cursor")
        if cursor is None:
            if proven.hi != range_hi:
                raise ProofError("the last page does not reach the end of the instrument's range")
            return audit
        if not isinstance(cursor, str) or range_lo + cursor.encode() != proven.hi:
            raise ProofError("the next page would not start where this one's proof ends")
        lo = proven.hi
    raise ProofError(f"more than {PAGES_MAX} pages")
