"""Leader skipping in the replica (issue 13): round 0's proposer skips validators that the last
``W`` committed blocks show absent (never their proposer, no precommit in the certificates their
headers carry); rounds >= 1 keep the plain rotation; with everyone absent round 0 keeps it too.
Every replica that decided the same chain names the same proposer, whatever certificate of the
last block it happens to hold itself. (The rule itself: ``test_leader_window.py``.)"""

from __future__ import annotations

from dataclasses import replace

from consensus.actions import Action
from consensus.blocks import GENESIS_PARENT_HASH, Block, make_block
from consensus.certificate import make_certificate
from consensus.events import (
    BlockExecuted,
    CommittedBlockReceived,
    ProposalReceived,
    TimeoutElapsed,
)
from consensus.leader import (
    compute_window_size,
    could_propose,
    get_proposer,
    is_probe_height,
    rebuild_window,
)
from consensus.messages import CommitCertificate, VoteType
from consensus.proposal import Proposal
from consensus.replica import ChainState, RejectedInput, Replica
from consensus.round_step import Timer
from consensus.types import Hash32, Height, PublicKey, Round, TimestampMs
from consensus.validators import ValidatorSet
from consensus.vote_set import VoteSet
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    KEYS,
    VSET,
    broadcasts,
    precommit,
    proposal,
    proposer_index,
    started,
)

APP_HASH = Hash32(b"\x0b" * 32)
KEY = [v.public_key for v in VSET.validators]


def certificate(block: Block, signers: tuple[int, ...], round_: int = 0) -> CommitCertificate:
    votes = VoteSet(block.height, Round(round_), VoteType.PRECOMMIT, VSET)
    for i in signers:
        votes.add_vote(precommit(i, round_, block.hash, height=block.height))
    return make_certificate(votes, block.hash)


def make_next(height: int, parent: Block | None, carried: CommitCertificate | None) -> Block:
    return make_block(
        chain_id=CHAIN,
        height=Height(height),
        time_ms=TimestampMs(2_000 * height),
        proposer=KEY[1],
        parent_hash=GENESIS_PARENT_HASH if parent is None else parent.hash,
        last_commit=carried,
        app_hash=GENESIS_APP_HASH if height == 1 else APP_HASH,
        validators_hash=VSET.compute_hash(),
    )


def build_chain(length: int, carried_signers: tuple[int, ...]) -> list[Block]:
    """Blocks 1..length; each carries its parent's certificate signed by ``carried_signers``."""
    blocks: list[Block] = []
    for height in range(1, length + 1):
        parent = blocks[-1] if blocks else None
        carried = None if parent is None else certificate(parent, carried_signers)
        blocks.append(make_next(height, parent, carried))
    return blocks


def feed(replica: Replica, blocks: list[Block], own_signers: tuple[int, ...]) -> list[Action]:
    """Decide ``blocks`` in order, each with the replica's OWN certificate signed by
    ``own_signers`` (what it happened to collect), and execute them."""
    out: list[Action] = []
    for block in blocks:
        own = certificate(block, own_signers)
        out += replica.handle_strict(CommittedBlockReceived(block, own))
        out += replica.handle_strict(BlockExecuted(block.height, APP_HASH, VSET))
    return out


def reason(replica: Replica, message: Proposal) -> str:
    try:
        replica.handle_strict(ProposalReceived(message))
    except RejectedInput as refused:
        return str(refused)
    return "accepted"


def signed_by(block: Block, index: int, round_: int = 0) -> Proposal:
    return proposal(block, round_=round_, signer=index)


def height_whose_plain_proposer_is(index: int) -> int:
    """The first height past the window (W = 8 here) and not a probe where ``index`` has the
    plain round-0 turn."""
    first = compute_window_size(VSET) + 1
    return next(
        h
        for h in range(first, 64)
        if proposer_index(h, 0) == index and not is_probe_height(VSET, h)
    )


# ---------------------------------------------------------------------------------------------
# the rule, as a pure function


def test_round_0_skips_the_validators_shown_absent() -> None:
    for height in range(1, 40):
        absent = KEY[proposer_index(height, 0)]
        chosen = get_proposer(VSET, height, 0, frozenset({absent}))
        assert chosen.public_key != absent


def test_a_present_plain_proposer_keeps_its_turn() -> None:
    for height in range(1, 40):
        plain = VSET.proposer(height, 0)
        others = frozenset(k for k in KEY if k != plain.public_key)
        assert get_proposer(VSET, height, 0, others) == plain


def test_an_absent_ones_turn_goes_to_the_next_present_in_the_rotation() -> None:
    heavy = ValidatorSet.of([(KEYS[0].public_key, 30), *((k.public_key, 10) for k in KEYS[1:])])
    absent = heavy.validators[3].public_key
    for height in range(1, 200):
        chosen = get_proposer(heavy, height, 0, frozenset({absent}))
        after = next(
            heavy.proposer(height + k, 0)
            for k in range(7)
            if heavy.proposer(height + k, 0).public_key != absent
        )
        assert chosen == after
        assert chosen.public_key != absent


def test_with_everyone_absent_round_0_keeps_the_plain_rotation() -> None:
    everyone = frozenset(KEY)
    for height in range(1, 20):
        assert get_proposer(VSET, height, 0, everyone) == VSET.proposer(height, 0)


def test_rounds_from_1_keep_the_plain_rotation_whatever_the_skips() -> None:
    for height in range(1, 12):
        for skipped in (frozenset(), frozenset(KEY[:1]), frozenset(KEY[1:3]), frozenset(KEY)):
            for round_ in range(1, 9):
                assert get_proposer(VSET, height, round_, skipped) == VSET.proposer(height, round_)


def test_no_skips_is_the_plain_rotation() -> None:
    for height in range(1, 20):
        assert get_proposer(VSET, height, 0, frozenset()) == VSET.proposer(height, 0)


def test_unknown_skips_admit_any_validator_at_round_0_only() -> None:
    outsider = PublicKey(b"\x07" * 32)
    assert all(could_propose(VSET, 5, 0, k, None) for k in KEY)
    assert not could_propose(VSET, 5, 0, outsider, None)
    assert [could_propose(VSET, 5, 1, k, None) for k in KEY] == [
        k == VSET.proposer(5, 1).public_key for k in KEY
    ]


# ---------------------------------------------------------------------------------------------
# the replica


def test_the_replica_refuses_round_0_from_a_skipped_validator() -> None:
    """Validator 0 signs no certificate: at a height whose plain proposer it is, its proposal
    is refused and the rotation's pick among the others is taken."""
    target = height_whose_plain_proposer_is(0)
    blocks = build_chain(target, carried_signers=(1, 2, 3))
    me = 3 if proposer_index(target, 1) != 3 else 2
    replica = started(me).replica
    feed(replica, blocks[:-1], own_signers=(1, 2, 3))
    assert replica.height == target
    assert replica.get_proposer_skips(target) == frozenset({KEY[0]})
    pick = KEY.index(get_proposer(VSET, target, 0, frozenset({KEY[0]})).public_key)
    assert reason(replica, signed_by(blocks[-1], 0)) == "not the proposer of this round"
    assert reason(replica, signed_by(blocks[-1], pick)) == "accepted"


def test_round_1_is_still_the_plain_proposers() -> None:
    target = height_whose_plain_proposer_is(0)
    blocks = build_chain(target, carried_signers=(1, 2, 3))
    replica = started(3).replica
    feed(replica, blocks[:-1], own_signers=(1, 2, 3))
    plain = proposer_index(target, 1)
    wrong = next(i for i in range(4) if i != plain)
    assert reason(replica, signed_by(blocks[-1], wrong, round_=1)) == (
        "not the proposer of this round"
    )
    assert reason(replica, signed_by(blocks[-1], plain, round_=1)) == "accepted"


def test_a_validator_that_signs_again_gets_its_turn_back() -> None:
    """Validator 0 was absent; the block before the target carries its precommit again (and
    validator 3's is missing from that one certificate only: it stays present)."""
    target = height_whose_plain_proposer_is(0)
    blocks = build_chain(target, carried_signers=(1, 2, 3))
    blocks[-2] = make_next(target - 1, blocks[-3], certificate(blocks[-3], (0, 1, 2)))
    blocks[-1] = make_next(target, blocks[-2], certificate(blocks[-2], (1, 2, 3)))
    replica = started(3).replica
    feed(replica, blocks[:-1], own_signers=(1, 2, 3))
    assert replica.get_proposer_skips(target) == frozenset()
    assert VSET.proposer(target, 0).public_key == KEY[0]
    assert reason(replica, signed_by(blocks[-1], 0)) == "accepted"


def test_the_skipping_proposer_proposes_at_round_0() -> None:
    target = height_whose_plain_proposer_is(0)
    blocks = build_chain(target - 1, carried_signers=(1, 2, 3))
    pick = KEY.index(get_proposer(VSET, target, 0, frozenset({KEY[0]})).public_key)
    replica = started(pick).replica
    out = feed(replica, blocks, own_signers=(1, 2, 3))
    out += replica.handle_strict(_new_height_timeout(target))
    proposals = [m for m in broadcasts(out) if isinstance(m, Proposal) and m.height == target]
    assert [(p.round, p.proposer) for p in proposals] == [(0, KEY[pick])]


def test_replicas_with_different_own_certificates_agree_on_the_proposer() -> None:
    """The skip set comes from the committed block, never from the certificate a node built
    from the precommits it happened to receive (those differ from node to node)."""
    target = height_whose_plain_proposer_is(0)
    blocks = build_chain(target, carried_signers=(1, 2, 3))
    first, second = started(2).replica, started(3).replica
    feed(first, blocks[:-1], own_signers=(0, 1, 2))
    feed(second, blocks[:-1], own_signers=(1, 2, 3))
    assert (
        first.get_proposer_skips(target) == second.get_proposer_skips(target) == frozenset({KEY[0]})
    )
    for index in range(4):
        message = signed_by(blocks[-1], index)
        assert reason(first, message) == reason(second, message)


def test_a_restarted_replica_names_the_same_proposer() -> None:
    """A replica built from what the node stores (ChainState) skips whom the running one does."""
    target = height_whose_plain_proposer_is(0)
    blocks = build_chain(target, carried_signers=(1, 2, 3))
    running = started(3).replica
    feed(running, blocks[:-1], own_signers=(0, 1, 3))
    last = blocks[-2]
    window = rebuild_window([b.header for b in blocks[:-1]], lambda _height: VSET)
    chain = replace(_chain_at(last, certificate(last, (0, 1, 3))), leader_window=window)
    restarted = Replica(CHAIN, KEYS[0], running.params, chain)
    assert (
        restarted.snapshot().proposer_skips
        == running.snapshot().proposer_skips
        == frozenset({KEY[0]})
    )


def test_a_buffered_round_0_proposal_of_a_skipped_validator_is_dropped() -> None:
    """Before block h is decided, anyone may have round 0 of h + 1 (the skips are unknown):
    such a proposal is buffered, then dropped on entering the height if the rule says no."""
    target = height_whose_plain_proposer_is(0)
    blocks = build_chain(target, carried_signers=(1, 2, 3))
    replica = started(3).replica
    feed(replica, blocks[:-2], own_signers=(1, 2, 3))
    assert replica.get_proposer_skips(target) is None  # block target - 1 not decided yet
    assert reason(replica, signed_by(blocks[-1], 0)) == "accepted"  # buffered
    feed(replica, blocks[-2:-1], own_signers=(1, 2, 3))
    assert Round(0) not in dict(replica.snapshot().proposals)


def _chain_at(block: Block, own: CommitCertificate) -> ChainState:
    return ChainState(
        height=block.height,
        last_block_hash=block.hash,
        last_commit=own,
        last_block_time_ms=block.header.time_ms,
        app_hash=APP_HASH,
        validator_sets={h: VSET for h in range(1, block.height + 3)},
    )


def _new_height_timeout(height: int) -> TimeoutElapsed:
    return TimeoutElapsed(Height(height), Round(0), Timer.NEW_HEIGHT)
