"""Windowed leader skipping (issue 13), the rule as pure functions over a simulated chain: a
validator is skipped at round 0 only when none of the last ``W`` committed blocks shows it
present (as proposer or in the certificate it carries), and probe heights give everyone its plain
round-0 turn. Three promises: an always-slowest validator (its precommit never in another's
certificate) keeps its round-0 turns; a dead validator is skipped after the window except at
probe heights; a validator that was skipped and comes back slow gets its turns back through a
probe height."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consensus.blocks import Block, make_block
from consensus.certificate import make_certificate
from consensus.leader import (
    EMPTY_WINDOW,
    PROBE_PERIOD,
    WINDOW_MAX,
    LeaderWindow,
    compute_proposer_skips,
    compute_window_size,
    get_present,
    get_proposer,
    is_probe_height,
)
from consensus.messages import CommitCertificate, VoteType
from consensus.types import Hash32, Height, PublicKey, Round, TimestampMs
from consensus.validators import ValidatorSet
from consensus.vote_set import VoteSet
from tests.consensus.replica_fixtures import CHAIN, KEYS, VSET, precommit

KEY = [v.public_key for v in VSET.validators]
HEIGHTS = 400
SLOW = 2
"""The validator whose precommit always arrives last (index in VSET)."""


@dataclass(frozen=True)
class Height_:
    height: int
    round_0: int
    """Index of round 0's proposer under the rule."""
    committed_by: int
    """Index of the proposer of the committed block (round 0's, or a later round's)."""


def run_chain(
    heights: int,
    is_up: Callable[[int, int], bool],
    carried: Callable[[int, int], set[int]],
) -> list[Height_]:
    """Heights 1..``heights`` as a network would decide them: round 0 by the rule; if its
    proposer is down (``is_up(index, height)``), the first later round whose plain proposer is
    up. The committed block shows present its proposer and ``carried(proposer, height)``: the
    precommits its proposer put in the certificate of the block before."""
    window, out = EMPTY_WINDOW, []
    for height in range(1, heights + 1):
        skips = compute_proposer_skips(window, VSET, height)
        first = VSET.validators.index(get_proposer(VSET, height, 0, skips))
        by = first
        round_ = 0
        while not is_up(by, height):
            round_ += 1
            by = VSET.validators.index(VSET.proposer(height, round_))
        present = {KEY[by]} | {KEY[i] for i in carried(by, height)} if height > 1 else {KEY[by]}
        window = window.advanced(height, present)
        out.append(Height_(height, first, by))
    return out


def _always_up(_index: int, _height: int) -> bool:
    return True


def _slow_last(proposer: int, _height: int) -> set[int]:
    """The certificate holds the first three precommits its proposer got: the slow one's only
    when the slow one builds it (its own precommit is at hand)."""
    fast = {i for i in range(4) if i != SLOW}
    return fast | {SLOW} if proposer == SLOW else fast


def test_an_always_slowest_validator_keeps_its_round_0_turns() -> None:
    """(a) Its precommit is never in another proposer's certificate, only in its own blocks;
    for hundreds of heights it still proposes round 0 at every plain turn."""
    chain = run_chain(HEIGHTS, _always_up, _slow_last)
    turns = [h for h in chain if VSET.proposer(h.height, 0).public_key == KEY[SLOW]]
    assert len(turns) >= HEIGHTS // 4 - 1
    assert [h.height for h in turns if h.round_0 != SLOW] == []
    assert all(h.round_0 == VSET.validators.index(VSET.proposer(h.height, 0)) for h in chain)


DEAD = 1


def _dead(index: int, _height: int) -> bool:
    return index != DEAD


def _dead_absent(_proposer: int, _height: int) -> set[int]:
    return {i for i in range(4) if i != DEAD}


def test_a_dead_validator_is_skipped_after_the_window_except_at_probe_heights() -> None:
    """(b) From height W + 1 on, the dead validator has round 0 only at probe heights, where it
    keeps its plain turn (so a later round decides those heights, and no other)."""
    size = compute_window_size(VSET)
    chain = run_chain(HEIGHTS, _dead, _dead_absent)
    later = [h for h in chain if h.height > size]
    has_round_0 = [h.height for h in later if h.round_0 == DEAD]
    probe_turns = [
        h.height
        for h in later
        if is_probe_height(VSET, h.height) and VSET.proposer(h.height, 0).public_key == KEY[DEAD]
    ]
    assert has_round_0 == probe_turns
    assert len(probe_turns) >= HEIGHTS // (4 * PROBE_PERIOD) - 2
    assert [h.height for h in later if h.round_0 != h.committed_by] == probe_turns


def test_a_returning_slow_validator_gets_its_turns_back_through_a_probe() -> None:
    """(c) Validator ``SLOW`` is down for heights 1..100 (skipped), then back but always slowest
    (never in another's certificate). Its first round-0 turn is a probe height's; from then on it
    keeps every plain turn, probe or not."""
    back_at = 100

    def is_up(index: int, height: int) -> bool:
        return index != SLOW or height > back_at

    def carried(proposer: int, height: int) -> set[int]:
        if height > back_at + 1:  # block back_at + 1 carries the certificate of back_at
            return _slow_last(proposer, height)
        return {i for i in range(4) if i != SLOW}

    chain = run_chain(HEIGHTS, is_up, carried)
    after = [h for h in chain if h.height > back_at]
    first = next(h for h in after if h.round_0 == SLOW)
    assert is_probe_height(VSET, first.height)
    assert first.committed_by == SLOW
    plain_turns = [
        h
        for h in after
        if h.height > first.height and VSET.proposer(h.height, 0).public_key == KEY[SLOW]
    ]
    assert plain_turns
    assert [h.height for h in plain_turns if h.round_0 != SLOW] == []
    skipped_while_down = [
        h.height
        for h in chain
        if compute_window_size(VSET) < h.height <= back_at
        and not is_probe_height(VSET, h.height)
        and VSET.proposer(h.height, 0).public_key == KEY[SLOW]
    ]
    assert skipped_while_down
    assert all(chain[height - 1].round_0 != SLOW for height in skipped_while_down)


# ---------------------------------------------------------------------------------------------
# the parts


def test_a_block_shows_present_its_proposer_and_its_certificates_signers() -> None:
    parent = _block(1, KEY[0], None)
    votes = VoteSet(Height(1), Round(0), VoteType.PRECOMMIT, VSET)
    for i in (1, 2, 3):
        votes.add_vote(precommit(i, 0, parent.hash, height=1))
    child = _block(2, KEY[0], make_certificate(votes, parent.hash))
    assert get_present(child.header, VSET) == frozenset(KEY)
    assert get_present(child.header, None) == frozenset({KEY[0]})
    assert get_present(parent.header, VSET) == frozenset({KEY[0]})


def test_the_window_spans_two_turns_of_the_rarest_proposer_at_most_window_max() -> None:
    assert compute_window_size(VSET) == 8
    heavy = ValidatorSet.of([(KEYS[0].public_key, 30), *((k.public_key, 10) for k in KEYS[1:])])
    assert compute_window_size(heavy) == 12  # total 60, rarest 10: a turn every 6 heights
    many = ValidatorSet.of([(bytes([i]) * 32, 1) for i in range(1, 101)])
    assert compute_window_size(many) == WINDOW_MAX


def test_every_validator_has_a_plain_turn_in_each_probe_cycle() -> None:
    """A probe cycle is one whole rotation cycle (4 heights for four equal powers, 6 for powers
    30/10/10/10), once every ``PROBE_PERIOD`` cycles."""
    heavy = ValidatorSet.of([(KEYS[0].public_key, 30), *((k.public_key, 10) for k in KEYS[1:])])
    for vset, cycle in ((VSET, 4), (heavy, 6)):
        period = PROBE_PERIOD * cycle
        for start in range(period, 1_000, period):
            probes = range(start, start + cycle)
            assert all(is_probe_height(vset, h) for h in probes)
            assert not any(is_probe_height(vset, h) for h in range(start + cycle, start + period))
            assert {vset.proposer(h, 0) for h in probes} == set(vset.validators)


def test_nobody_is_skipped_until_the_window_holds_w_blocks() -> None:
    size = compute_window_size(VSET)
    window = EMPTY_WINDOW
    for height in range(1, size + 1):
        assert compute_proposer_skips(window, VSET, height) == frozenset()
        window = window.advanced(height, {KEY[0]})
    non_probe = next(h for h in range(size + 1, 100) if not is_probe_height(VSET, h))
    while window.height < non_probe - 1:
        window = window.advanced(window.height + 1, {KEY[0]})
    assert compute_proposer_skips(window, VSET, non_probe) == frozenset(KEY[1:])
    joined = LeaderWindow.empty_after(non_probe - 1)
    assert compute_proposer_skips(joined, VSET, non_probe) == frozenset()


def test_the_window_forgets_blocks_older_than_window_max() -> None:
    window = EMPTY_WINDOW.advanced(1, {KEY[0]})
    for height in range(2, WINDOW_MAX + 2):
        window = window.advanced(height, {KEY[1]})
    assert window.get_last_seen(KEY[0]) is None
    assert window.get_last_seen(KEY[1]) == WINDOW_MAX + 1


def _block(height: int, proposer: PublicKey, carried: CommitCertificate | None) -> Block:
    return make_block(
        chain_id=CHAIN,
        height=Height(height),
        time_ms=TimestampMs(1_000 * height),
        proposer=proposer,
        parent_hash=Hash32(b"\x01" * 32),
        last_commit=carried,
        app_hash=Hash32(b"\x02" * 32),
        validators_hash=VSET.compute_hash(),
    )
