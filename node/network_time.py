"""Network-adjusted time: the node's wall clock, corrected by the median of its peers' clocks.

Block time is proposer-based (``ConsensusParams.is_timely``): a validator prevotes a fresh
proposal only if its timestamp is close to its own clock. That keeps a proposer with a wrong
clock from moving block time, but it also makes a validator with a wrong clock useless: it finds
every honest proposal untimely. Two validators of four a minute off would halt the chain.

So each node estimates how far each peer's system clock is from its own, from the wall time
peers put in their status messages (every second), and runs on its own clock plus the median of
those offsets (its own offset, 0, counted too), as Bitcoin's network-adjusted time does. A node
whose clock is off follows the network; a minority of peers with wrong (or lying) clocks cannot
move the median beyond the range of the others. Peers report their raw system clock, never the
adjusted one, so corrections do not feed back.

An estimate is biased by the message's one-way delay (a status queued behind a block arrives
late), so per peer the largest offset seen in the last :data:`WINDOW_S` is used: the least
delayed sample, as NTP's minimum-delay filter picks. Offsets within the deadband are ignored
(clocks within a fraction of the timestamp precision need no help), and the correction is
bounded by :data:`CORRECTION_MAX_MS`.
"""

from __future__ import annotations

import logging
from collections import deque

from consensus.types import TimestampMs
from node.clock import Clock

log = logging.getLogger("depochain.time")

WINDOW_S = 30.0
"""How long a peer's clock sample counts (the least delayed one of the window is used)."""
SAMPLES_PER_PEER_MAX = 64
CORRECTION_MAX_MS = 10 * 60 * 1000
"""A median offset beyond ten minutes is not followed, only reported: something else is wrong
(a misconfigured peer set, a clock set to another day)."""
WARN_INTERVAL_S = 60.0


class NetworkTime:
    """A :class:`node.clock.Clock` whose wall time is the network's; monotonic time is the
    base clock's."""

    def __init__(self, base: Clock, deadband_ms: int) -> None:
        self.base = base
        self.deadband_ms = deadband_ms
        self._samples: dict[bytes, deque[tuple[float, int]]] = {}
        self.offset_ms = 0
        """The correction in use (0 inside the deadband)."""
        self._warned_at = -WARN_INTERVAL_S

    def now_ms(self) -> TimestampMs:
        return TimestampMs(self.base.now_ms() + self.offset_ms)

    def monotonic_s(self) -> float:
        return self.base.monotonic_s()

    def system_ms(self) -> int:
        """This machine's own clock: what we tell peers (never the adjusted time)."""
        return self.base.now_ms()

    def observe(self, peer: bytes, peer_time_ms: int) -> None:
        """A peer said its system clock read ``peer_time_ms`` as it sent the message that just
        arrived."""
        moment = self.base.monotonic_s()
        samples = self._samples.setdefault(peer, deque(maxlen=SAMPLES_PER_PEER_MAX))
        samples.append((moment, peer_time_ms - self.base.now_ms()))
        self._update(moment)

    def estimates_ms(self) -> dict[bytes, int]:
        """Each peer's clock offset from ours, from its samples still in the window."""
        return {peer: max(offset for _, offset in samples) for peer, samples in self._live()}

    def _live(self) -> list[tuple[bytes, deque[tuple[float, int]]]]:
        return [(peer, samples) for peer, samples in self._samples.items() if samples]

    def _update(self, moment: float) -> None:
        for peer, samples in list(self._samples.items()):
            while samples and moment - samples[0][0] > WINDOW_S:
                samples.popleft()
            if not samples:
                del self._samples[peer]
        offsets = sorted([0, *self.estimates_ms().values()])
        median = offsets[len(offsets) // 2]
        if abs(median) <= self.deadband_ms:
            self.offset_ms = 0
            return
        self.offset_ms = median if abs(median) <= CORRECTION_MAX_MS else 0
        if moment - self._warned_at >= WARN_INTERVAL_S:
            self._warned_at = moment
            log.warning(
                "this machine's clock is %+d ms off the median of its peers' clocks; running "
                "corrected by %+d ms (none beyond 10 min): fix its time synchronisation (NTP)",
                -median,
                self.offset_ms,
            )
