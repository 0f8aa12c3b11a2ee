"""A network adversary that splits the honest validators' view of one round: a lock split.

Before the heal the network and the Byzantine validators belong to the adversary (partial
synchrony before GST). This attack waits for a proposal of a round r at a height H that no honest
node has decided and at which no honest replica is locked, and gives each honest node a role:

* committers see everything, including the coalition's precommits for the round's block X, and
  so decide X in round r;
* lockers see X's polka, lock on X and precommit it, but never a quorum of X's precommits;
* fresh ones never see X's polka, so they stay unlocked.

Round r then times out for lockers and fresh ones. In every later round of H the coalition (the
Byzantine validators whose nodes are not silent) replaces its own proposals with fresh blocks and
prevotes and precommits the first block proposed. A correct locker prevotes nil for a fresh block
while locked on X, so no quorum forms without the committers; a replica that ignores its lock
helps decide a block conflicting with X, and agreement fails. Roles are drawn so that committers
and lockers, and lockers and fresh ones, each with the coalition, hold a quorum.

The attack holds messages back (it never drops them) and releases all it holds when it ends:
once every honest non-committer decided H, or at the heal at the latest, so the liveness phase
runs on an honest network.

Never: sign with an honest key, draw randomness but from its own seeded PRNG, or hold anything
past the heal.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from consensus.codec import CodecError
from consensus.crypto import sha256
from consensus.messages import Vote, VoteType
from consensus.proposal import Proposal
from consensus.round_step import RoundStep
from consensus.simulation.byzantine import forge_proposal, sign_vote
from consensus.simulation.faults import Behaviour
from consensus.simulation.network import NodeId
from consensus.simulation.nodes import SimNode
from consensus.simulation.prng import Prng
from consensus.types import ChainId, Hash32
from consensus.validators import ValidatorSet
from consensus.wire import Message, decode_message, encode_message

ATTACK_PPM = 600_000
"""Share of runs (when the coalition is strong enough) that plan a lock split."""
ATTACK_ROOM_MS = 6_000
"""A run with a planned attack keeps its safety phase at least this long after the attack may
start: enough rounds for the split, its timeouts and a conflicting proposal."""
ROLE_DRAWS_MAX = 64
HELD_MAX = 50_000
"""Bound on held messages (deduplicated by target and content; gossip re-sends beyond it)."""


class SplitRole(enum.Enum):
    COMMITTER = "committer"
    LOCKER = "locker"
    FRESH = "fresh"


class Stage(enum.Enum):
    WAITING = "waiting"
    SPLITTING = "splitting"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class AttackPlan:
    start_ms: int
    """Sim time from which the next eligible proposal starts the split."""
    roles: Mapping[NodeId, SplitRole]
    """The split role of each honest node."""
    coalition: tuple[int, ...]
    """Validator indices whose keys the attack signs with (Byzantine, not silent)."""
    delay_max_ms: int
    """Messages the attack lets through arrive after 1..this many ms (its choice)."""


@dataclass(frozen=True, slots=True)
class Target:
    height: int
    round: int
    block_hash: Hash32
    """X: the block of the split round."""


def draw_attack_plan(
    prng: Prng, nodes: Sequence[SimNode], validators: ValidatorSet, safety_ms: int
) -> AttackPlan | None:
    """A lock split for this run, or None (not drawn, or the coalition is too weak)."""
    if not prng.chance_ppm(ATTACK_PPM):
        return None
    coalition = sorted(
        {
            _index_in(validators, n)
            for n in nodes
            if not n.is_honest and n.behaviour is not Behaviour.SILENT
        }
    )
    honest = [n for n in nodes if n.is_honest]
    roles = _draw_roles(prng, honest, coalition, validators)
    if roles is None:
        return None
    return AttackPlan(
        start_ms=prng.below(max(1, safety_ms // 2)),
        roles=roles,
        coalition=tuple(coalition),
        delay_max_ms=prng.between(1, 40),
    )


def _draw_roles(
    prng: Prng, honest: Sequence[SimNode], coalition: Sequence[int], validators: ValidatorSet
) -> dict[NodeId, SplitRole] | None:
    def power(indices: set[int]) -> int:
        return sum(validators.validators[i].power for i in indices)

    roles = list(SplitRole)
    for _ in range(ROLE_DRAWS_MAX):
        drawn = {n.node_id: prng.choice(roles) for n in honest}
        by_role = {
            role: {_index_in(validators, n) for n in honest if drawn[n.node_id] is role}
            for role in roles
        }
        committers, lockers = by_role[SplitRole.COMMITTER], by_role[SplitRole.LOCKER]
        if not committers or not lockers or validators.is_quorum(power(lockers)):
            continue
        if validators.is_quorum(power(committers | lockers | set(coalition))) and (
            validators.is_quorum(power(lockers | by_role[SplitRole.FRESH] | set(coalition)))
        ):
            return drawn
    return None


def _index_in(validators: ValidatorSet, node: SimNode) -> int:
    """The node's validator's index in the set (sorted by key, not the order keys were made)."""
    index = validators.get_index(node.public_key)
    assert index is not None, "every simulated node runs a validator"
    return index


class LockSplitAttack:
    """Routes every consensus message while splitting; signs the coalition's messages."""

    __slots__ = (
        "_budget",
        "_chain_id",
        "_coalition",
        "_forged",
        "_held",
        "_honest",
        "_injections",
        "_lockers",
        "_nodes",
        "_prng",
        "_proposer_index",
        "_validators",
        "_voted_rounds",
        "plan",
        "stage",
        "target",
    )

    def __init__(
        self,
        plan: AttackPlan,
        nodes: Sequence[SimNode],
        validators: ValidatorSet,
        chain_id: ChainId,
        prng: Prng,
    ) -> None:
        self.plan = plan
        self.stage = Stage.WAITING
        self.target: Target | None = None
        self._nodes = nodes
        self._validators = validators
        self._chain_id = chain_id
        self._prng = prng
        self._coalition = {
            i: next(n for n in nodes if _index_in(validators, n) == i) for i in plan.coalition
        }
        honest = [n for n in nodes if n.is_honest]
        self._honest = {_index_in(validators, n) for n in honest}
        self._lockers = {
            _index_in(validators, n) for n in honest if plan.roles[n.node_id] is SplitRole.LOCKER
        }
        self._budget: dict[tuple[NodeId, VoteType], set[int]] = {}
        self._held: dict[tuple[NodeId, Hash32], tuple[NodeId, bytes]] = {}
        self._injections: list[tuple[NodeId, NodeId, bytes]] = []
        self._forged: dict[int, Hash32] = {}
        self._proposer_index: int | None = None
        self._voted_rounds: set[int] = set()

    # what the host asks ----------------------------------------------------------------------

    def route(
        self, source: NodeId, target: NodeId, payload: bytes, elapsed_ms: int
    ) -> list[int] | None:
        """Delivery delays the attack chooses ([] = held), or None: the network decides."""
        if self.stage is Stage.DONE or elapsed_ms < self.plan.start_ms:
            return None
        try:
            message = decode_message(payload)
        except CodecError:
            return None if self.stage is Stage.WAITING else self._deliver()
        if self.stage is Stage.WAITING and not (
            isinstance(message, Proposal) and self._try_start(message)
        ):
            return None
        if self._is_let_through(target, message):
            return self._deliver()
        self._hold(source, target, payload)
        return []

    def take_injections(self) -> list[tuple[NodeId, NodeId, bytes]]:
        """Messages the coalition sends now, as (source, target, payload) to be routed."""
        injections, self._injections = self._injections, []
        return injections

    def blocks_sync(self, target: NodeId, height: int) -> bool:
        """While splitting, no committed block of the split height reaches a non-committer."""
        split = self.target
        return (
            self.stage is Stage.SPLITTING
            and split is not None
            and height >= split.height
            and self.plan.roles.get(target) is not SplitRole.COMMITTER
        )

    def is_over(self) -> bool:
        """Every honest non-committer decided the split height: nothing left to attack."""
        split = self.target
        if self.stage is not Stage.SPLITTING or split is None:
            return False
        return all(
            n.committed_height >= split.height
            for n in self._nodes
            if n.is_honest and self.plan.roles[n.node_id] is not SplitRole.COMMITTER
        )

    @property
    def held_count(self) -> int:
        """Messages held back now (distinct per target)."""
        return len(self._held)

    def end(self) -> list[tuple[NodeId, NodeId, bytes]]:
        """Stop attacking; every held message, to be sent through the network now."""
        self.stage = Stage.DONE
        held = [(source, target, payload) for (target, _), (source, payload) in self._held.items()]
        self._held.clear()
        self._injections.clear()
        return held

    # starting the split ----------------------------------------------------------------------

    def _try_start(self, proposal: Proposal) -> bool:
        """Split at this proposal's round if every honest node is up, decided the height below,
        holds no lock at this height and has not prevoted in this round yet."""
        height, round_ = proposal.height, proposal.round
        for node in self._nodes:
            if not node.is_honest:
                continue
            replica = node.replica
            if replica is None or node.committed_height != height - 1:
                return False
            if node.entered_height != height:
                continue  # it enters the height later, unlocked
            # The proposer's own prevote follows its proposal out of the same handled event.
            step_max = (
                RoundStep.PREVOTE if node.public_key == proposal.proposer else RoundStep.PROPOSE
            )
            if replica.locked[1] != -1 or (replica.round, replica.step) > (round_, step_max):
                return False
        self.stage = Stage.SPLITTING
        self.target = Target(height, proposal.round, proposal.block.hash)
        self._proposer_index = self._validators.get_index(proposal.proposer)
        for vote_type in VoteType:
            for block_hash in (proposal.block.hash, None):
                self._sign_for_coalition(vote_type, proposal.round, block_hash)
        return True

    # routing while splitting -----------------------------------------------------------------

    def _is_let_through(self, target: NodeId, message: Message) -> bool:
        split = self.target
        assert split is not None
        role = self.plan.roles.get(target)
        if role is SplitRole.COMMITTER:
            return True
        if message.height > split.height:
            return False  # a committer's next height would tell that X was decided
        if message.height < split.height:
            return True
        if isinstance(message, Proposal):
            return self._is_proposal_let_through(message, role)
        if not isinstance(message, Vote) or message.block_hash != split.block_hash:
            return True
        if message.round > split.round:
            return True  # X proposed again with its proof of lock: deciding it is no split
        if message.type == VoteType.PRECOMMIT or role is SplitRole.FRESH:
            return self._is_within_budget(target, message)
        return True

    def _is_proposal_let_through(self, proposal: Proposal, role: SplitRole | None) -> bool:
        split = self.target
        assert split is not None
        if proposal.round < split.round:
            return True
        if proposal.round == split.round:  # fresh ones must time out on it: they stay unlocked
            return proposal.block.hash == split.block_hash and role is not SplitRole.FRESH
        forged = self._forged.get(proposal.round)
        proposer = self._validators.get_index(proposal.proposer)
        if forged is None and proposer in self._coalition:
            self._forge(self._coalition[proposer], proposal)
            return False
        if forged is not None and forged != proposal.block.hash:
            return False
        if proposal.round not in self._voted_rounds:
            self._voted_rounds.add(proposal.round)
            for vote_type in VoteType:
                self._sign_for_coalition(vote_type, proposal.round, proposal.block.hash)
        return True

    def _is_within_budget(self, target: NodeId, vote: Vote) -> bool:
        """Let X's vote reach ``target`` only while the X votes it has seen, with its own, stay
        short of a quorum (a polka for fresh ones, a decision for everyone but committers).
        Only lockers' X precommits and honest X prevotes count against it (a committer's or
        the coalition's are held): the budget goes to votes that also make "> 2/3 of anything"
        with the coalition's nil votes, so that the round times out."""
        allowed = self._lockers if vote.type == VoteType.PRECOMMIT else self._honest
        if vote.validator_index not in allowed:
            return False
        seen = self._budget.setdefault((target, vote.type), set())
        if vote.validator_index in seen:
            return True
        counted = seen | {vote.validator_index}
        own = _index_in(self._validators, self._nodes[target])
        if self.plan.roles.get(target) is not SplitRole.FRESH or own == self._proposer_index:
            counted.add(own)  # its own vote is (or may be) for X too
        power = sum(self._validators.validators[i].power for i in counted)
        if self._validators.is_quorum(power):
            return False
        seen.add(vote.validator_index)
        return True

    def _deliver(self) -> list[int]:
        return [self._prng.between(1, self.plan.delay_max_ms)]

    def _hold(self, source: NodeId, target: NodeId, payload: bytes) -> None:
        key = (target, sha256(payload))
        if key in self._held or len(self._held) < HELD_MAX:
            self._held[key] = (source, payload)

    # the coalition ---------------------------------------------------------------------------

    def _forge(self, proposer: SimNode, proposal: Proposal) -> None:
        """The coalition's proposer sends a fresh block instead (no proof-of-lock round)."""
        fresh = forge_proposal(proposer.key, self._chain_id, proposal, pol_round=-1)
        self._forged[proposal.round] = fresh.block.hash
        self._send_to_honest(proposer.node_id, fresh)

    def _sign_for_coalition(self, vote_type: VoteType, round_: int, block: Hash32 | None) -> None:
        split = self.target
        assert split is not None
        for index, node in self._coalition.items():
            vote = sign_vote(
                node.key, self._chain_id, vote_type, split.height, round_, block, index
            )
            self._send_to_honest(node.node_id, vote)

    def _send_to_honest(self, source: NodeId, message: Message) -> None:
        payload = encode_message(message)
        for node in self._nodes:
            if node.is_honest and node.node_id != source:
                self._injections.append((source, node.node_id, payload))
