"""Broken replicas that the simulator's checkers must catch: each breaks one promise.

Each mutant is the real replica with one of its test-only fault hooks on
(:class:`consensus.replica.ReplicaFaults`, checked rule by rule in
``tests/consensus/test_replica_faults.py``), or, for the amnesiac, built with a blank sign
state. The simulator runs it for every honest node (``SimConfig.replica_class``); Byzantine
nodes keep the real one.
"""

from __future__ import annotations

from typing import Any

from consensus.replica import Replica, ReplicaFaults


class _FaultyReplica(Replica):
    FAULTS = ReplicaFaults()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, faults=self.FAULTS, **kwargs)


class LockIgnoringReplica(_FaultyReplica):
    """Safety (agreement): prevotes as if never locked and proposes fresh blocks, forgetting its
    valid value: the two rules that carry a polka across rounds."""

    FAULTS = ReplicaFaults(ignore_lock=True, forget_valid_value=True)


class AmnesiacReplica(Replica):
    """Safety (no double-sign): restarts with a blank SignState instead of the one it persisted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("sign_state", None)
        super().__init__(*args[:4], sign_state=None, **kwargs)


class StaleAppHashReplica(_FaultyReplica):
    """Validity: builds and checks blocks against an app hash the application never returned
    (it ignores the one BlockExecuted brings), so honest nodes agree on blocks that claim a
    state that does not exist."""

    FAULTS = ReplicaFaults(stale_app_hash=True)


class NeverPrecommitsReplica(_FaultyReplica):
    """Liveness: prevotes but never signs a precommit, so nothing is ever decided."""

    FAULTS = ReplicaFaults(never_precommit=True)


class StuckInProposeReplica(_FaultyReplica):
    """Liveness: ignores the propose timeout, so a round whose proposer is silent never ends
    (no nil prevote, no later round)."""

    FAULTS = ReplicaFaults(ignore_propose_timeout=True)


class UntimelyAcceptingReplica(_FaultyReplica):
    """Chain clock: prevotes a fresh proposal whatever its timestamp, so a proposer whose clock
    is a minute ahead gets its time into the chain."""

    FAULTS = ReplicaFaults(accept_untimely_proposals=True)
