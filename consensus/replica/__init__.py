"""The Tendermint replica: ``Replica.handle(event) -> list[Action]``.

See :mod:`consensus.replica.core`.
"""

from consensus.replica.core import (
    AT_LEAST_PREVOTE,
    FUTURE_HEIGHT_MESSAGES_MAX,
    FUTURE_ROUNDS_PER_VALIDATOR_MAX,
    PENDING_EVIDENCE_MAX,
    PREVOTE_STEPS,
    PROPOSAL_ROUNDS_AHEAD_MAX,
    RULE_ITERATIONS_MAX,
    ChainState,
    RejectedInput,
    Replica,
    S,
)

__all__ = [
    "AT_LEAST_PREVOTE",
    "FUTURE_HEIGHT_MESSAGES_MAX",
    "FUTURE_ROUNDS_PER_VALIDATOR_MAX",
    "PENDING_EVIDENCE_MAX",
    "PREVOTE_STEPS",
    "PROPOSAL_ROUNDS_AHEAD_MAX",
    "RULE_ITERATIONS_MAX",
    "ChainState",
    "RejectedInput",
    "Replica",
    "S",
]
