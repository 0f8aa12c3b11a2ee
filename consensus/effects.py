"""The order a node carries out a replica's actions in around a signature, written once.

The replica already puts ``PersistSignState`` before the ``Broadcast`` of the signature it
covers. The node adds one step in front of it: the signed message goes into its WAL, in the same
fsync as the inputs that led to it, before the sign state is persisted. After a crash between
persisting and sending, the restarted replica gets its own message back from the WAL and sends
it again; without it the sign-state guard would refuse to sign that step again and the round
could stall for everyone (simulator seed 10075).

So, for each ``PersistSignState``: (1) log its message and sync the WAL, (2) persist the sign
state, (3) send. :func:`order_effects` turns a ``handle`` result into that list of steps; the
node's driver and the simulator's host both carry the steps out in order, each with its own
WAL, sign-state store and network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.actions import Action, Broadcast, PersistSignState, SendTo
from consensus.messages import Vote
from consensus.proposal import Proposal


@dataclass(frozen=True, slots=True)
class SyncWal:
    """Make the WAL durable now, with ``signed`` appended first when there is one: the
    proposal or vote that the next ``PersistSignState`` covers (None: it covers nothing sent
    in this batch; the inputs logged so far are synced all the same)."""

    signed: Proposal | Vote | None


Effect = SyncWal | Action
"""One step for the node: a replica action, or the WAL sync that precedes a PersistSignState."""


def order_effects(actions: Sequence[Action]) -> list[Effect]:
    """The steps that carry out ``actions``: the actions in their order, each
    ``PersistSignState`` preceded by the :class:`SyncWal` of the message it covers."""
    effects: list[Effect] = []
    for index, action in enumerate(actions):
        if isinstance(action, PersistSignState):
            effects.append(SyncWal(get_covered_message(actions[index + 1 :])))
        effects.append(action)
    return effects


def get_covered_message(later: Sequence[Action]) -> Proposal | Vote | None:
    """The signed message a ``PersistSignState`` covers: the first proposal or vote the actions
    after it send (evidence carries other validators' signatures, not ours)."""
    for action in later:
        if isinstance(action, Broadcast | SendTo) and isinstance(action.message, Proposal | Vote):
            return action.message
    return None
