"""Storing proposals and votes, evidence, lock recovery and catch-up for the replica.

Everything here runs after validation: the inputs are already accepted. A restarted
validator takes its lock back from its own replayed precommit or from the persisted sign
state; a validator lagging one height behind gets what decided that height.

Never: move the round or step (that is :mod:`consensus.replica.steps`).
"""

from __future__ import annotations

from consensus.actions import Action, Broadcast, ReportEvidence, SendTo
from consensus.crypto import SignPurpose, compute_sign_bytes, sha256
from consensus.messages import (
    CommitCertificate,
    DuplicateVoteEvidence,
    Vote,
    VoteType,
    compute_vote_sign_payload,
)
from consensus.proposal import Proposal
from consensus.replica.state import PENDING_EVIDENCE_MAX, ReplicaState
from consensus.safety import SignStep
from consensus.types import Hash32, PublicKey
from consensus.vote_set import Equivocation


class EvidenceAndCatchUp(ReplicaState):
    """Accepted proposals and votes, equivocation evidence, lock recovery, catch-up."""

    def _store_proposal(self, p: Proposal) -> None:
        self._proposals[p.round] = p
        self._recover_lock_from_sign_state(p.block.hash)

    def _add_vote(self, vote: Vote, out: list[Action]) -> None:
        result = self._votes.add_vote(vote)
        if isinstance(result, Equivocation):
            self._add_evidence(result.evidence, out, gossip=True)
        self._recover_lock(vote)
        if vote.block_hash is not None:
            self._recover_lock_from_sign_state(vote.block_hash)

    def _recover_lock_from_sign_state(self, block_hash: Hash32) -> None:
        """If the last thing we signed (before a restart) was a precommit for ``block_hash``
        at this height, we were locked on it: the persisted sign-bytes hash proves it even when
        the vote itself never reached the log."""
        last = self._sign_state
        if (
            last.height != self._height
            or last.step != SignStep.PRECOMMIT
            or last.round <= self._locked_round
            or self.public_key is None
        ):
            return
        payload = compute_vote_sign_payload(VoteType.PRECOMMIT, last.height, last.round, block_hash)
        sign_bytes = compute_sign_bytes(SignPurpose.VOTE, self.chain_id, payload)
        if sha256(sign_bytes) == last.sign_bytes_hash:
            self._locked, self._locked_round = block_hash, last.round

    def _recover_lock(self, vote: Vote) -> None:
        """Our own precommit for a block, coming back after a restart (replayed log or
        gossip), means we were locked on it at that round: take the lock back. Without this a
        restarted validator could prevote another block and help a conflicting decision."""
        if (
            vote.validator == self.public_key
            and vote.type == VoteType.PRECOMMIT
            and vote.block_hash is not None
            and vote.round > self._locked_round
        ):
            self._locked, self._locked_round = vote.block_hash, vote.round

    def _add_evidence(
        self, evidence: DuplicateVoteEvidence, out: list[Action], *, gossip: bool
    ) -> None:
        digest = evidence.compute_hash()
        if digest in self._evidence or digest in self._committed_evidence:
            return
        if len(self._evidence) < PENDING_EVIDENCE_MAX:
            self._evidence[digest] = evidence
        out.append(ReportEvidence(evidence))
        if gossip:
            out.append(Broadcast(evidence))

    def _get_catch_up_messages(self, peer: PublicKey, cert: CommitCertificate) -> list[Action]:
        vset = self._sets[cert.height]
        out: list[Action] = []
        if self._last_proposal is not None:
            out.append(SendTo(peer, self._last_proposal))
        for sig in cert.signatures:
            member = vset.validators[sig.validator_index]
            vote = Vote(
                VoteType.PRECOMMIT,
                cert.height,
                cert.round,
                cert.block_hash,
                sig.validator_index,
                member.public_key,
                sig.signature,
            )
            out.append(SendTo(peer, vote))
        return out

    # -----------------------------------------------------------------------------------------
    # heights: the next-height buffer and what is kept of old heights

    def _prune_old_heights(self) -> None:
        oldest = self._height - 1 - self.params.evidence_age_max_heights
        self._sets = {h: s for h, s in self._sets.items() if h >= min(oldest, self._height - 1)}
        self._committed_evidence = {
            d: h for d, h in self._committed_evidence.items() if h >= oldest
        }
        self._evidence = {d: e for d, e in self._evidence.items() if e.height >= oldest}

    def _drain_future(self) -> list[Proposal | Vote]:
        ready = [m for m in self._future if m.height == self._height]
        self._future = [m for m in self._future if m.height > self._height]
        return ready
