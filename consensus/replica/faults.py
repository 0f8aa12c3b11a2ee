"""Deliberate faults for tests and the simulator: a replica told to break one rule on purpose.

Test and simulation use only. A node never passes a :class:`ReplicaFaults` (its default is the
honest replica, every field False). They exist so that tests can show the simulator's checkers
catch a broken replica (a forked chain, an invalid block decided, a stalled height) without
overriding the replica's private methods: each field names the rule it breaks, and the rule
reads it where the paper's condition is.

To add one: a bool field here, defaulting to False, read at the one place of
:mod:`consensus.replica` where the rule it breaks is decided, and a test in
``tests/consensus/test_replica_faults.py`` that the honest replica and the faulty one differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.crypto import sha256
from consensus.types import Hash32

STALE_APP_HASH = Hash32(sha256(b"an app hash the application never returned"))


@dataclass(frozen=True, slots=True)
class ReplicaFaults:
    """Which rules of Algorithm 1 the replica breaks (all False: the honest replica)."""

    ignore_lock: bool = False
    """Lines 22 and 28: prevote the proposal as if never locked (lockedRound = -1)."""
    forget_valid_value: bool = False
    """Lines 14-16: propose a fresh block with pol_round -1, never the valid value."""
    accept_invalid_blocks: bool = False
    """valid(v) is always true: prevote, lock on and decide blocks that break the chain rules
    (a block received through block sync is still checked)."""
    never_precommit: bool = False
    """Lines 36, 44 and 61 move the step on but sign and send no precommit."""
    never_advance_round: bool = False
    """Lines 55 and 65: never move to a higher round of the same height."""
    ignore_propose_timeout: bool = False
    """Line 57: a propose timeout is refused, so a round whose proposer is silent never ends."""
    accept_untimely_proposals: bool = False
    """Proposer-based time: prevote a fresh proposal whatever its timestamp (a proposer's
    clock is then accepted unchecked and can push block time)."""
    stale_app_hash: bool = False
    """The chain tip's app hash is :data:`STALE_APP_HASH`, not the one ``BlockExecuted``
    brought: blocks are built and checked against a state that does not exist."""


HONEST = ReplicaFaults()
