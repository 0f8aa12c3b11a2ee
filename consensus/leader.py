"""Leader skipping: who proposes round 0 of a height, from committed data only.

The plain rotation (:meth:`consensus.validators.ValidatorSet.proposer`) gives a crashed
validator every n-th height, and each of those heights waits out a propose timeout. Here round 0
skips validators that the last ``W`` committed blocks show absent, except at *probe heights*.

- A block *shows present* its proposer (``header.proposer``) and every validator whose precommit
  is in the certificate its header carries (``last_commit``, of the block before).
- A validator of height ``h + 1``'s set is *shown absent* at ``h + 1`` when none of blocks
  ``h - W + 1 .. h`` shows it present (:func:`compute_window_size` gives ``W``). Until ``h >= W``
  nobody is (the window is not full yet).
- Round 0 of ``h + 1``: the plain rotation's pick proposes unless it is shown absent; then the
  next validator after it in the rotation that is not. At a probe height
  (:func:`is_probe_height`) round 0 is the plain pick whatever the window says, and so are all
  rounds >= 1 and round 0 when skipping would leave no one.

Why a window, and why the proposer counts: a slow validator's precommit may always arrive last
and never be in the certificate another proposer carries; but a validator that proposes a block
shows itself present in it, so it stays present while its turns come back within ``W`` heights.
Why probe heights: a validator that was shown absent and comes back can only show itself present
again by proposing; the probe heights give it its plain round-0 turn every ``PROBE_PERIOD``
rotation cycles. A dead validator costs one propose timeout per probe turn, not per rotation.

Why it is safe: every input is committed data (blocks ``h - W + 1 .. h``), which every correct
node that enters ``h + 1`` holds identically, so all of them name the same proposer. Liveness
never depends on it: from round 1 on every validator gets its turn as in plain Tendermint.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from consensus.blocks import Header
from consensus.types import Height, PublicKey, Round
from consensus.validators import ROTATION_CYCLE_MAX, Validator, ValidatorSet

NO_SKIPS: frozenset[PublicKey] = frozenset()

WINDOW_TURNS = 2
"""``W`` spans this many of the rarest proposer's turns: one missed turn (its proposal lost to a
round 1) does not yet make a live validator absent."""
WINDOW_MAX = 64
"""Upper bound of ``W`` (bounds what a node keeps and fetches: the last ``WINDOW_MAX`` blocks).
Sets whose rarest proposer's turns are further apart rely on the probe heights instead."""
PROBE_PERIOD = 4
"""One rotation cycle in ``PROBE_PERIOD`` is a probe: round 0 follows the plain rotation."""


@dataclass(frozen=True, slots=True)
class LeaderWindow:
    """What the committed blocks ``start .. height`` show present: for each validator the
    highest of them that shows it present, kept for the last ``WINDOW_MAX`` blocks only."""

    height: int
    """The last block folded in (0: none)."""
    start: int = 1
    """The first block folded in: 1 from genesis; later when the blocks before were not read
    (then the window is full only ``W`` blocks after it)."""
    last_seen: tuple[tuple[PublicKey, int], ...] = ()
    """(public key, highest block showing it present), sorted by key."""

    @classmethod
    def empty_after(cls, height: int) -> LeaderWindow:
        """A window that knows no block up to ``height``: plain rotation for ``W`` heights."""
        return cls(height, height + 1)

    def spans(self, size: int) -> bool:
        """Whether it holds at least ``size`` blocks."""
        return self.height - self.start + 1 >= size

    def get_last_seen(self, public_key: PublicKey) -> int | None:
        return dict(self.last_seen).get(public_key)

    def advanced(self, height: int, present: Iterable[PublicKey]) -> LeaderWindow:
        """This window with block ``height`` (the next one) folded in."""
        if height != self.height + 1:
            raise ValueError(f"block {height} folded into a window ending at {self.height}")
        seen = {key: at for key, at in self.last_seen if at > height - WINDOW_MAX}
        seen.update(dict.fromkeys(present, height))
        return LeaderWindow(height, self.start, tuple(sorted(seen.items())))


EMPTY_WINDOW = LeaderWindow(0)
"""The window at genesis."""


def get_present(header: Header, signers_set: ValidatorSet | None) -> frozenset[PublicKey]:
    """Whom block ``header`` shows present: its proposer and the signers of the certificate it
    carries (read with ``signers_set``, the set of the certificate's height)."""
    present = {header.proposer}
    if header.last_commit is not None and signers_set is not None:
        for sig in header.last_commit.signatures:
            validator = signers_set.get_by_index(sig.validator_index)
            if validator is not None:
                present.add(validator.public_key)
    return frozenset(present)


def advance_window(
    window: LeaderWindow, header: Header, signers_set: ValidatorSet | None
) -> LeaderWindow:
    """``window`` with the committed block of ``header`` folded in (``signers_set``: the set of
    the height before, which the carried certificate's indexes refer to)."""
    return window.advanced(header.height, get_present(header, signers_set))


def rebuild_window(
    headers: Sequence[Header], get_set: Callable[[int], ValidatorSet | None]
) -> LeaderWindow:
    """The window after the last of ``headers`` (consecutive committed blocks, the last
    ``WINDOW_MAX`` of the chain or all of them from block 1), as a restarted node rebuilds it;
    ``get_set(height)`` gives the set that signed ``height``."""
    if not headers:
        return EMPTY_WINDOW
    window = LeaderWindow.empty_after(headers[0].height - 1)
    for header in headers:
        window = advance_window(window, header, get_set(header.height - 1))
    return window


def compute_window_size(vset: ValidatorSet) -> int:
    """``W``: ``WINDOW_TURNS`` times the longest gap between the rarest proposer's round-0 turns
    (``total_power / min_power``, rounded up), at most ``WINDOW_MAX``."""
    least = min(v.power for v in vset.validators)
    turn_gap = -(-vset.total_power // least)
    return min(WINDOW_MAX, WINDOW_TURNS * turn_gap)


def is_probe_height(vset: ValidatorSet, height: Height | int) -> bool:
    """Round 0 of ``height`` follows the plain rotation: the first rotation cycle of every
    ``PROBE_PERIOD`` (a cycle gives every validator its turns, at its power)."""
    cycle = _get_cycle_length(tuple(v.power for v in vset.validators))
    return height % (PROBE_PERIOD * cycle) < cycle


@functools.lru_cache(maxsize=64)
def _get_cycle_length(powers: tuple[int, ...]) -> int:
    gcd = math.gcd(*powers)
    return min(sum(p // gcd for p in powers), ROTATION_CYCLE_MAX)


def compute_proposer_skips(
    window: LeaderWindow, vset: ValidatorSet, height: Height | int
) -> frozenset[PublicKey]:
    """Whom round 0 of ``height`` skips: the validators of ``vset`` (the set of ``height``) that
    none of the ``W`` blocks before ``height`` shows present; nobody at a probe height or while
    ``window`` holds fewer than ``W`` blocks. ``window`` must end at block ``height - 1``."""
    if window.height != height - 1:
        raise ValueError(f"window ends at {window.height}, not before height {height}")
    size = compute_window_size(vset)
    if not window.spans(size) or is_probe_height(vset, height):
        return NO_SKIPS
    oldest = window.height - size + 1
    seen = dict(window.last_seen)
    return frozenset(v.public_key for v in vset.validators if seen.get(v.public_key, 0) < oldest)


def get_proposer(
    vset: ValidatorSet, height: Height | int, round_: Round | int, skips: frozenset[PublicKey]
) -> Validator:
    """The proposer of ``(height, round_)``. Round 0: the plain rotation's pick at position
    ``height``, or if that validator is in ``skips``, the first one after it in the rotation
    that is not (so a present validator keeps exactly its plain turns, and an absent one's turns
    go to whoever follows it). Rounds >= 1, and round 0 when nobody would be left: plain."""
    plain = vset.proposer(height, round_)
    if round_ > 0 or plain.public_key not in skips:
        return plain
    for offset in range(1, ROTATION_CYCLE_MAX + 1):
        candidate = vset.proposer(height + offset, 0)
        if candidate.public_key not in skips:
            return candidate
    return plain  # everyone skipped (or, with hashed picks, no one present drawn): plain


def could_propose(
    vset: ValidatorSet,
    height: Height | int,
    round_: Round | int,
    public_key: PublicKey,
    skips: frozenset[PublicKey] | None,
) -> bool:
    """Whether ``public_key`` proposes ``(height, round_)``; with ``skips`` unknown (None: the
    block before ``height`` is not decided yet) any validator may be round 0's proposer, and
    the replica checks again once it enters the height."""
    if skips is None and round_ == 0:
        return vset.contains(public_key)
    return get_proposer(vset, height, round_, skips or NO_SKIPS).public_key == public_key
