"""Simulated network: drop, delay, duplicate, reorder (by random delay) and partitions.

The network decides *whether and when* a payload sent from one node reaches another; it never
looks inside payloads. Node ids are small integers (a Twins pair is two node ids with one key).
Every parameter comes from the run's :class:`~consensus.simulation.prng.Prng`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consensus.simulation.prng import PPM, Prng

NodeId = int


@dataclass(frozen=True, slots=True)
class LinkConditions:
    """How a link behaves while these conditions hold."""

    drop_ppm: int
    """Probability that a payload is lost, in parts per million."""
    duplicate_ppm: int
    """Probability that a delivered payload arrives twice (at independent times)."""
    delay_min_ms: int
    delay_max_ms: int
    """Each delivery takes a uniform delay in [min, max]: independent delays reorder messages."""
    slow_ppm: int = 0
    """Probability that a delivery instead takes up to ``slow_delay_max_ms`` (a stalled link)."""
    slow_delay_max_ms: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.drop_ppm <= PPM and 0 <= self.duplicate_ppm <= PPM):
            raise ValueError("probabilities are in [0, 1e6] ppm")
        if not 0 <= self.delay_min_ms <= self.delay_max_ms:
            raise ValueError("delay range is empty")

    @classmethod
    def reliable(cls, delay_min_ms: int = 1, delay_max_ms: int = 50) -> LinkConditions:
        return cls(
            drop_ppm=0, duplicate_ppm=0, delay_min_ms=delay_min_ms, delay_max_ms=delay_max_ms
        )

    @classmethod
    def draw(cls, prng: Prng) -> LinkConditions:
        """Hostile but not hopeless conditions for the safety phase."""
        delay_min_ms = prng.between(0, 20)
        return cls(
            drop_ppm=prng.choice((0, 10_000, 50_000, 150_000, 300_000)),
            duplicate_ppm=prng.choice((0, 20_000, 100_000)),
            delay_min_ms=delay_min_ms,
            delay_max_ms=delay_min_ms + prng.choice((10, 50, 200, 600)),
            slow_ppm=prng.choice((0, 5_000, 30_000)),
            slow_delay_max_ms=prng.choice((1_000, 3_000)),
        )


@dataclass(frozen=True, slots=True)
class Partition:
    """Groups of nodes that can talk among themselves; a node in no group is isolated."""

    groups: tuple[frozenset[NodeId], ...]

    @classmethod
    def whole(cls, nodes: Iterable[NodeId]) -> Partition:
        return cls((frozenset(nodes),))

    def is_connected(self, source: NodeId, target: NodeId) -> bool:
        if source == target:
            return True
        return any(source in group and target in group for group in self.groups)

    @classmethod
    def draw(cls, prng: Prng, nodes: Sequence[NodeId]) -> Partition:
        """A random split into 2 or 3 groups (some possibly empty, so some nodes alone)."""
        group_count = prng.between(2, 3)
        groups: list[set[NodeId]] = [set() for _ in range(group_count)]
        for node in nodes:
            groups[prng.below(group_count)].add(node)
        return cls(tuple(frozenset(group) for group in groups if group))


class SimNetwork:
    """Turns one send into zero, one or two delivery delays under the current conditions."""

    __slots__ = ("_prng", "conditions", "dropped", "lag_ms", "partition", "sent")

    def __init__(self, prng: Prng, nodes: Iterable[NodeId], conditions: LinkConditions):
        self._prng = prng
        self.conditions = conditions
        self.partition = Partition.whole(nodes)
        self.sent = 0
        self.dropped = 0
        self.lag_ms: dict[NodeId, int] = {}
        """Extra delay of everything a node sends (a far-away or slowed node; draws nothing)."""

    def is_connected(self, source: NodeId, target: NodeId) -> bool:
        return self.partition.is_connected(source, target)

    def compute_delays_ms(self, source: NodeId, target: NodeId) -> list[int]:
        """Delivery delays for one payload: [] if lost, two entries if duplicated."""
        self.sent += 1
        if source == target:
            return [0]
        conditions = self.conditions
        if not self.partition.is_connected(source, target) or self._prng.chance_ppm(
            conditions.drop_ppm
        ):
            self.dropped += 1
            return []
        delays = [self._draw_delay_ms()]
        if self._prng.chance_ppm(conditions.duplicate_ppm):
            delays.append(self._draw_delay_ms())
        lag = self.lag_ms.get(source, 0)
        return [delay + lag for delay in delays]

    def _draw_delay_ms(self) -> int:
        conditions = self.conditions
        if conditions.slow_ppm and self._prng.chance_ppm(conditions.slow_ppm):
            return self._prng.between(conditions.delay_max_ms, conditions.slow_delay_max_ms)
        return self._prng.between(conditions.delay_min_ms, conditions.delay_max_ms)
