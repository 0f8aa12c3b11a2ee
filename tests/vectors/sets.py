"""Every vectors file and the function that recomputes it with today's code."""

from __future__ import annotations

import functools
from collections.abc import Callable

from . import consensus_sets, handshake_sets, ledger_sets, state_tree_sets
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
    "state_tree.json": state_tree_sets.state_tree_document,
}


@functools.cache
def compute_document(file_name: str) -> Json:
    """The document today's code computes for ``file_name`` (once per process if it succeeds)."""
    return DOCUMENTS[file_name]()


def compute_available() -> tuple[dict[str, Json], dict[str, str]]:
    """(documents that could be computed, file -> error of those that raised): a change that
    breaks one computation (say, the handshake no longer completes) must not hide the others."""
    documents, errors = {}, {}
    for name in DOCUMENTS:
        try:
            documents[name] = compute_document(name)
        except Exception as exc:  # reported per file by the caller
            errors[name] = f"{type(exc).__name__}: {exc}"
    return documents, errors
