"""SDK helpers for policies, the travel rule and M-of-N hold approvals.

The travel rule (FATF Recommendation 16): the banks keep the IVMS101 originator/beneficiary data
off-chain; a payment at or above the policy threshold carries only the sha256 of its canonical
JSON (keys sorted, no insignificant whitespace, UTF-8, no NaN) and an ISO 20022 purpose code.
Both banks compute the same hash from the same data, so either can later prove what was sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from consensus.ledger.policies import (
    ApprovalRule,
    Limits,
    PolicyScope,
    PolicyTerms,
    TravelRecord,
)
from consensus.ledger.txs import HoldApprove, PolicySet

_SCOPES = {
    "network": PolicyScope.NETWORK,
    "instrument": PolicyScope.INSTRUMENT,
    "participant": PolicyScope.PARTICIPANT,
    "account": PolicyScope.ACCOUNT,
}


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The one byte string every bank derives from the same IVMS101-shaped dict."""
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def ivms101_hash(data: Mapping[str, Any]) -> bytes:
    """sha256 of the canonical JSON of IVMS101-shaped originator/beneficiary data."""
    return hashlib.sha256(canonical_json(data)).digest()


def travel_record(data: Mapping[str, Any], purpose_code: str) -> TravelRecord:
    """The travel-rule record a transfer or hold carries (``purpose_code``: ISO 20022
    ExternalPurpose1Code, e.g. ``GDDS``, ``SALA``)."""
    return TravelRecord(ivms101_hash(data), purpose_code)


def policy_set_body(
    scope: str,
    target: str = "",
    *,
    tx_max: int | None = None,
    daily_max: int | None = None,
    balance_cap: int | None = None,
    travel_threshold: int | None = None,
    force_approvers: Iterable[str] = (),
    force_required: int = 0,
    freezers: Iterable[str] | None = None,
    pausers: Iterable[str] | None = None,
) -> PolicySet:
    """The submitter's policy on ``"network"`` (target ``""``), an ``"instrument"``, a
    ``"participant"`` (a bank's accounts) or an ``"account"``; no limit at all lifts it.
    Governance's network policy only: ``force_approvers``/``force_required`` (0: all of them),
    who may force a transfer; ``freezers`` and ``pausers``, who alone may freeze and pause
    (None: whoever the roles allow)."""
    approvers = tuple(sorted(force_approvers))
    force = ApprovalRule(force_required or len(approvers), approvers) if approvers else None
    limits = Limits(tx_max, daily_max, balance_cap, travel_threshold)
    named = [None if ids is None else tuple(sorted(ids)) for ids in (freezers, pausers)]
    return PolicySet(_SCOPES[scope], target, PolicyTerms(limits, force, *named))


def hold_approve_body(payer: str, hold_id: str) -> HoldApprove:
    """The submitter (one of the hold's named approvers) approves the payer's hold."""
    return HoldApprove(payer, hold_id)
