"""Evidence of equivocation: verify a DuplicateVoteEvidence offline.

Valid evidence shows one validator signing two different votes for the same (height, round,
type). It is verified against the validator set of the votes' height, so anyone holding that
set can check it. Replicas gossip it, include it in blocks (bounded) and check it on receipt.
"""

from __future__ import annotations

from collections.abc import Mapping

from consensus.errors import InvalidMessage
from consensus.messages import DuplicateVoteEvidence
from consensus.types import ChainId
from consensus.validators import ValidatorSet


class InvalidEvidence(InvalidMessage):
    """Evidence that does not prove an equivocation."""


def verify_evidence(
    evidence: DuplicateVoteEvidence, validator_set: ValidatorSet, chain_id: ChainId
) -> None:
    """Raise :class:`InvalidEvidence` unless ``evidence`` proves a double vote in this set."""
    a, b = evidence.vote_a, evidence.vote_b
    if (a.height, a.round, a.type) != (b.height, b.round, b.type):
        raise InvalidEvidence("votes are for different height/round/type")
    if a.validator != b.validator or a.validator_index != b.validator_index:
        raise InvalidEvidence("votes are from different validators")
    if a.block_hash == b.block_hash:
        raise InvalidEvidence("votes are for the same block")
    if DuplicateVoteEvidence.of(a, b) != evidence:
        raise InvalidEvidence("votes are not in canonical order")
    member = validator_set.get_by_index(a.validator_index)
    if member is None or member.public_key != a.validator:
        raise InvalidEvidence("the validator is not in the set of that height")
    if not a.is_signature_valid(chain_id) or not b.is_signature_valid(chain_id):
        raise InvalidEvidence("bad signature")


def get_evidence_invalidity(
    evidence: DuplicateVoteEvidence,
    block_height: int,
    validator_sets: Mapping[int, ValidatorSet],
    age_max_heights: int,
    chain_id: ChainId,
) -> str | None:
    """Why ``evidence`` may not go into a block at ``block_height`` (None if it may).

    Evidence is includable from its own height until ``age_max_heights`` later, and only if the
    validator set of its height is known.
    """
    if not 0 <= block_height - evidence.height <= age_max_heights:
        return "evidence too old or from the future"
    validator_set = validator_sets.get(evidence.height)
    if validator_set is None:
        return "no validator set for the evidence's height"
    try:
        verify_evidence(evidence, validator_set, chain_id)
    except InvalidEvidence as exc:
        return str(exc)
    return None
