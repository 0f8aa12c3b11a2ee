"""Block validity, proposal building and signing for :class:`consensus.replica.Replica`.

valid(v) of the paper is checked against the chain tip (and cached per block hash); our own
proposals and votes are signed only through :mod:`consensus.safety`, and the
``PersistSignState`` a signature needs is emitted before the ``Broadcast`` that carries it.

Never: sign anything but through the guard, or change the round or step.
"""

from __future__ import annotations

from consensus.actions import Action, Broadcast, PersistSignState
from consensus.blocks import Block, ChainTip, build_block, get_block_invalidity
from consensus.crypto import SignPurpose
from consensus.evidence import get_evidence_invalidity
from consensus.messages import DuplicateVoteEvidence, Vote, VoteType, compute_vote_sign_payload
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.replica.state import ReplicaState
from consensus.safety import DoubleSignRefused, SignStep, sign_with_guard
from consensus.types import Hash32, Height, Signature, ValidatorIndex


class BlocksAndSigning(ReplicaState):
    """valid(v), building our proposal's block, and signing proposals and votes."""

    # -----------------------------------------------------------------------------------------
    # blocks

    def _find_block(self, block_hash: Hash32) -> Block | None:
        for proposal in self._proposals.values():
            if proposal.block.hash == block_hash:
                return proposal.block
        return None

    def _is_valid(self, block: Block) -> bool:
        """valid(v) of the paper: the block extends our chain and is well-formed."""
        return self._get_invalidity(block) is None

    def _get_invalidity(self, block: Block) -> str | None:
        if block.hash not in self._validity:
            self._validity[block.hash] = get_block_invalidity(
                block, self._tip(), self.params, self._get_evidence_invalidity
            )
        return self._validity[block.hash]

    def _tip(self) -> ChainTip:
        return ChainTip(
            chain_id=self.chain_id,
            height=Height(self._height - 1),
            last_block_hash=self._last_block_hash,
            last_commit=self._last_commit,
            last_block_time_ms=self._last_block_time_ms,
            app_hash=self._app_hash,
            validator_sets=self._sets,
        )

    def _get_evidence_invalidity(self, evidence: DuplicateVoteEvidence, height: int) -> str | None:
        return get_evidence_invalidity(
            evidence, height, self._sets, self.params.evidence_age_max_heights, self.chain_id
        )

    def _build_block(self) -> Block:
        evidence = [
            e
            for e in self._evidence.values()
            if self._get_evidence_invalidity(e, self._height) is None
        ][: self.params.evidence_max]
        return build_block(
            self._tip(),
            self.params,
            self._sets[self._height],
            self.public_key,  # type: ignore[arg-type]
            self._now_ms,
            self._txs,
            tuple(evidence),
        )

    # -----------------------------------------------------------------------------------------
    # signing

    def _sign_proposal(self, block: Block, out: list[Action]) -> None:
        assert self._key is not None and self.public_key is not None
        payload = compute_proposal_sign_payload(
            self._height, self._round, self._valid_round, block.hash
        )
        signature = self._sign(SignPurpose.PROPOSAL, SignStep.PROPOSAL, payload, out)
        if signature is None:
            return
        proposal = Proposal(
            self._height, self._round, self._valid_round, block, self.public_key, signature
        )
        self._proposals.setdefault(self._round, proposal)
        out.append(Broadcast(proposal))

    def _sign(
        self, purpose: SignPurpose, step: SignStep, payload: bytes, out: list[Action]
    ) -> Signature | None:
        """Sign through the guard; emits PersistSignState first. None if refused."""
        assert self._key is not None
        try:
            state, signature = sign_with_guard(
                self._sign_state,
                self._key,
                self.chain_id,
                purpose,
                self._height,
                self._round,
                step,
                payload,
            )
        except DoubleSignRefused:
            return None
        if state != self._sign_state:
            self._sign_state = state
            out.append(PersistSignState(state))
        return signature

    def _cast_vote(self, vote_type: VoteType, block_hash: Hash32 | None, out: list[Action]) -> None:
        index = self._own_index()
        if index is None:
            return
        assert self.public_key is not None
        payload = compute_vote_sign_payload(vote_type, self._height, self._round, block_hash)
        step = SignStep.PREVOTE if vote_type == VoteType.PREVOTE else SignStep.PRECOMMIT
        signature = self._sign(SignPurpose.VOTE, step, payload, out)
        if signature is None:
            return
        vote = Vote(
            vote_type, self._height, self._round, block_hash, index, self.public_key, signature
        )
        self._votes.add_vote(vote)
        out.append(Broadcast(vote))

    def _own_index(self) -> ValidatorIndex | None:
        if self.public_key is None:
            return None
        return self._sets[self._height].get_index(self.public_key)
