"""The Tendermint replica: ``Replica.handle(event) -> list[Action]``, and nothing else acts.

How the package is laid out (each module says what it must never do):

- :mod:`.core`: :class:`Replica`, the public surface and the only code that changes the state;
  an input is validated, applied, then the upon-rules run until none fires;
- :mod:`.state`: :class:`ReplicaState` (one place, built per height by ``new_height_state``),
  the frozen :class:`ReplicaSnapshot`, :class:`ChainState` and the replica's limits;
- :mod:`.validation`: each input checked completely, to the transition it makes (pure);
- :mod:`.rules`: the upon-rules of Algorithm 1, each to the transition it fires (pure);
- :mod:`.transitions`: those transitions, as values;
- :mod:`.validity`: valid(v), evidence checks, the block we propose (pure);
- :mod:`.recovery`: catch-up, re-broadcast and lock recovery after a restart (pure);
- :mod:`.faults`: :class:`ReplicaFaults`, deliberate rule breaking for tests and the simulator.
"""

from consensus.replica.core import Replica
from consensus.replica.faults import ReplicaFaults
from consensus.replica.state import (
    AT_LEAST_PREVOTE,
    FUTURE_HEIGHT_MESSAGES_MAX,
    FUTURE_MESSAGES_PER_VALIDATOR_MAX,
    FUTURE_ROUNDS_PER_VALIDATOR_MAX,
    PENDING_EVIDENCE_MAX,
    PREVOTE_STEPS,
    PROPOSAL_ROUNDS_AHEAD_MAX,
    RULE_ITERATIONS_MAX,
    ChainState,
    RejectedInput,
    ReplicaSnapshot,
    ReplicaState,
)
from consensus.round_step import S

__all__ = [
    "AT_LEAST_PREVOTE",
    "FUTURE_HEIGHT_MESSAGES_MAX",
    "FUTURE_MESSAGES_PER_VALIDATOR_MAX",
    "FUTURE_ROUNDS_PER_VALIDATOR_MAX",
    "PENDING_EVIDENCE_MAX",
    "PREVOTE_STEPS",
    "PROPOSAL_ROUNDS_AHEAD_MAX",
    "RULE_ITERATIONS_MAX",
    "ChainState",
    "RejectedInput",
    "Replica",
    "ReplicaFaults",
    "ReplicaSnapshot",
    "ReplicaState",
    "S",
]
