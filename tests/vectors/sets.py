"""Every vectors file and the function that recomputes it with today's code."""

from __future__ import annotations

import functools
from collections.abc import Callable

from . import consensus_sets, handshake_sets, ledger_sets
from .jsonform import Json

DOCUMENTS: dict[str, Callable[[], Json]] = {
    "votes.json": consensus_sets.votes_document,
    "proposals.json": consensus_sets.proposals_document,
    "blocks.json": consensus_sets.blocks_document,
    "validator_sets.json": consensus_sets.validator_sets_document,
    "certificates.json": consensus_sets.certificates_document,
    "evidence.json": consensus_sets.evidence_document,
    "merkle.json": consensus_sets.merkle_document,
    "txs.json": ledger_sets.txs_document,
    "receipts.json": ledger_sets.receipts_document,
    "ledger.json": ledger_sets.ledger_document,
    "handshake.json": handshake_sets.handshake_document,
}


@functools.cache
def compute_all() -> dict[str, Json]:
    """file name -> the document today's code computes (once per process)."""
    return {name: compute() for name, compute in DOCUMENTS.items()}
