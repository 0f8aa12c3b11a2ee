"""A budget for log lines that a client can cause: a flood must not turn into a flood of logs.

Every transaction a client submits and the node refuses used to be logged (``tx_refused``): a
client sending junk made the node format, encode and write a line per junk transaction, on the
event loop, at a thousand or more a second (measured under ``depochain bench --attack``: about
10 % of the loop's busy time was logging). A :class:`LogBudget` is a token bucket: up to
``burst`` lines at once and ``rate_per_s`` lines a second after that; what does not fit is only
counted, and the next line that fits is preceded by one summary (``tx_refusals_unlogged``)
saying how many were left out. Operators keep examples and the count, the metrics keep every
refusal (``depochain_mempool_*``), and the cost of a refusal nobody logs is one call here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RATE_PER_S = 10.0
"""Lines a second, once the burst is spent."""
BURST = 100
"""Lines at once (a client's honest mistakes are all logged)."""


class LogBudget:
    """Token bucket for one kind of log line, with a count of the lines it refused."""

    __slots__ = ("_now_s", "_tokens", "_updated_s", "burst", "rate_per_s", "unlogged")

    def __init__(
        self,
        rate_per_s: float = RATE_PER_S,
        burst: int = BURST,
        now_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s, self.burst, self._now_s = rate_per_s, burst, now_s
        self._tokens = float(burst)
        self._updated_s = now_s()
        self.unlogged = 0
        """Lines refused since the last one that fitted (reset by :meth:`take_unlogged`)."""

    def allow(self) -> bool:
        """True if one more line fits now (and spends it); False counts it as unlogged."""
        now = self._now_s()
        self._tokens = min(self.burst, self._tokens + (now - self._updated_s) * self.rate_per_s)
        self._updated_s = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.unlogged += 1
        return False

    def take_unlogged(self) -> int:
        """How many lines were left out since the last call (then zero)."""
        count, self.unlogged = self.unlogged, 0
        return count
