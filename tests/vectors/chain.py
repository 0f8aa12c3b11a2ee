"""The vectors' three-block chain, built the way validators build it.

Block h (time genesis + h seconds, proposer of (h, 0)) carries the txs of ``world.block_txs()``,
the ledger's app hash after block h-1 and the certificate of block h-1 (precommits of all
validators but one bank's, which is missing as a late validator's would be). Block 3 also carries
evidence: BANKC's validator prevoted two different blocks at (2, 0). Every block is checked with
the replica's own validity rule and executed by the ledger, so the vectors describe a chain
that today's code accepts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from consensus import crypto
from consensus.blocks import (
    EMPTY_RESULTS_HASH,
    GENESIS_PARENT_HASH,
    Block,
    ChainTip,
    get_block_invalidity,
    make_block,
)
from consensus.evidence import get_evidence_invalidity
from consensus.ledger import (
    BlockResult,
    GenesisDoc,
    State,
    build_genesis_state,
    execute_block,
    get_validators,
)
from consensus.ledger.commitment import compute_receipts_hash
from consensus.messages import (
    CommitCertificate,
    CommitSig,
    DuplicateVoteEvidence,
    Vote,
    VoteType,
    compute_vote_sign_payload,
)
from consensus.params import ConsensusParams
from consensus.types import Hash32, Height, Round, TimestampMs, ValidatorIndex
from consensus.validators import ValidatorSet

from .world import (
    BLOCK_INTERVAL_MS,
    CHAIN_ID,
    GENESIS_TIME_MS,
    VALIDATOR_POWERS,
    block_txs,
    genesis_json,
    key,
)

VALIDATOR_NAMES = tuple(f"{pid}-validator" for pid in VALIDATOR_POWERS)
ABSENT_FROM_CERTIFICATE = ("BANKC-validator", "BANKA-validator", "BANKB-validator")
"""The validator whose precommit is missing from the certificate of block 1, 2, 3."""
EQUIVOCATOR = "BANKC-validator"
CONFLICTING_BLOCK_HASH = crypto.sha256(b"depochain/vectors/conflicting-block")


@dataclass(frozen=True, slots=True)
class ChainBlock:
    block: Block
    state_before: State
    result: BlockResult
    precommits: tuple[Vote, ...]
    """Every validator's round-0 precommit for the block, by validator index."""
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class VectorChain:
    genesis: GenesisDoc
    genesis_state: State
    validator_set: ValidatorSet
    blocks: tuple[ChainBlock, ...]
    evidence: DuplicateVoteEvidence


def validator_name(vset: ValidatorSet, index: int) -> str:
    public_key = vset.validators[index].public_key
    return next(name for name in VALIDATOR_NAMES if key(name).public_key == public_key)


def sign_vote(
    vote_type: VoteType,
    height: int,
    round_: int,
    block_hash: Hash32 | None,
    vset: ValidatorSet,
    name: str,
) -> Vote:
    signer = key(name)
    index = vset.get_index(signer.public_key)
    assert index is not None, f"{name} is not a validator"
    payload = compute_vote_sign_payload(vote_type, height, round_, block_hash)
    signature = signer.sign(crypto.SignPurpose.VOTE, CHAIN_ID, payload)
    return Vote(
        vote_type, Height(height), Round(round_), block_hash, index, signer.public_key, signature
    )


def _certify(block: Block, vset: ValidatorSet) -> tuple[tuple[Vote, ...], CommitCertificate]:
    height = block.height
    votes = tuple(
        sign_vote(VoteType.PRECOMMIT, height, 0, block.hash, vset, validator_name(vset, i))
        for i in range(len(vset))
    )
    absent = key(ABSENT_FROM_CERTIFICATE[height - 1]).public_key
    sigs = tuple(
        CommitSig(ValidatorIndex(v.validator_index), v.signature)
        for v in votes
        if v.validator != absent
    )
    return votes, CommitCertificate(height, Round(0), block.hash, sigs)


def _equivocation(block_2: Block, vset: ValidatorSet) -> DuplicateVoteEvidence:
    first = sign_vote(VoteType.PREVOTE, 2, 0, block_2.hash, vset, EQUIVOCATOR)
    second = sign_vote(VoteType.PREVOTE, 2, 0, CONFLICTING_BLOCK_HASH, vset, EQUIVOCATOR)
    return DuplicateVoteEvidence.of(first, second)


def _tip(chain: list[ChainBlock], state: State, vset: ValidatorSet) -> ChainTip:
    last = chain[-1] if chain else None
    height = Height(len(chain))
    sets = {h: vset for h in (height, height + 1) if h > 0}
    return ChainTip(
        chain_id=CHAIN_ID,
        height=height,
        last_block_hash=last.block.hash if last else GENESIS_PARENT_HASH,
        last_commit=last.certificate if last else None,
        last_block_time_ms=TimestampMs(last.block.header.time_ms if last else GENESIS_TIME_MS),
        app_hash=state.app_hash,
        validator_sets=sets,
        last_results_hash=(
            compute_receipts_hash(last.result.receipts) if last else EMPTY_RESULTS_HASH
        ),
    )


def _next_block(chain: list[ChainBlock], state: State, vset: ValidatorSet) -> Block:
    tip = _tip(chain, state, vset)
    height = Height(tip.height + 1)
    evidence = (_equivocation(chain[1].block, vset),) if height == 3 else ()
    block = make_block(
        chain_id=CHAIN_ID,
        height=height,
        time_ms=TimestampMs(GENESIS_TIME_MS + height * BLOCK_INTERVAL_MS),
        proposer=vset.proposer(height, 0).public_key,
        parent_hash=tip.last_block_hash,
        last_commit=tip.last_commit,
        app_hash=state.app_hash,
        validators_hash=vset.compute_hash(),
        txs=tuple(spec.raw for spec in block_txs()[height - 1]),
        evidence=evidence,
        last_results_hash=tip.last_results_hash,
    )
    sets = {h: vset for h in range(1, height + 1)}

    def check_evidence(ev: DuplicateVoteEvidence, at: int) -> str | None:
        return get_evidence_invalidity(ev, at, sets, 100, CHAIN_ID)

    reason = get_block_invalidity(block, tip, ConsensusParams(), check_evidence)
    assert reason is None, f"vector block {height} is invalid: {reason}"
    return block


@functools.cache
def build_chain() -> VectorChain:
    genesis = GenesisDoc.from_json_dict(genesis_json())
    state = genesis_state = build_genesis_state(genesis)
    vset = ValidatorSet.of(get_validators(state, 1))
    chain: list[ChainBlock] = []
    for specs in block_txs():
        block = _next_block(chain, state, vset)
        result = execute_block(state, block.txs, block.height, block.header.time_ms)
        codes = [receipt.code for receipt in result.receipts]
        assert codes == [spec.expected_code for spec in specs], f"block {block.height}: {codes}"
        assert ValidatorSet.of(get_validators(result.state, block.height + 2)) == vset
        precommits, certificate = _certify(block, vset)
        chain.append(ChainBlock(block, state, result, precommits, certificate))
        state = result.state
    evidence = chain[2].block.evidence[0]
    return VectorChain(genesis, genesis_state, vset, tuple(chain), evidence)
