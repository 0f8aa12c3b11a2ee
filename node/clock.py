"""The node's one way to read time.

The pure core never reads a clock: time reaches it as ``now_ms`` on events. The node's parts
that stamp those events or measure gaps (the driver, the router, the services) read time through
a :class:`Clock` handed to them when the node is assembled (``node.app``), never through
``time`` directly, so a test can drive the real driver with a clock it moves by hand.

Two readings, because they answer different questions:

- wall time (``now_ms``): what goes into events and block times; it can jump (NTP, an operator);
- monotonic time (``monotonic_s``): gaps and durations; it never goes backwards.

What it must never do: be looked up globally; whoever needs time is given the clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Protocol

from consensus.types import TimestampMs

log = logging.getLogger("depochain.clock")


class Clock(Protocol):
    """What the node needs of a clock."""

    def now_ms(self) -> TimestampMs:
        """Wall time: milliseconds since the Unix epoch."""
        ...

    def monotonic_s(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards. Only differences mean
        anything."""
        ...


class SystemClock:
    """The operating system's clocks (what a running node uses)."""

    def now_ms(self) -> TimestampMs:
        return TimestampMs(int(time.time() * 1000))

    def monotonic_s(self) -> float:
        return time.monotonic()


CLOCK_SKEW_ENV = "DEPOCHAIN_CLOCK_SKEW_MS"
"""TEST-ONLY: milliseconds added to the system clock's wall time (fault injection: a validator
whose clock is wrong). Read once at start by :func:`node.app.run_node`."""


class SkewedClock:
    """A clock whose wall time is off by ``skew_ms`` (TEST-ONLY: what a wrong system clock
    looks like to the node)."""

    def __init__(self, base: Clock, skew_ms: int) -> None:
        self.base = base
        self.skew_ms = skew_ms

    def now_ms(self) -> TimestampMs:
        return TimestampMs(self.base.now_ms() + self.skew_ms)

    def monotonic_s(self) -> float:
        return self.base.monotonic_s()


def system_clock_from_env(environ: Mapping[str, str]) -> Clock:
    """The system clock, skewed if the TEST-ONLY variable asks for it."""
    text = environ.get(CLOCK_SKEW_ENV, "").strip()
    if not text:
        return SystemClock()
    try:
        skew_ms = int(text)
    except ValueError:
        raise ValueError(f"{CLOCK_SKEW_ENV} must be an integer of milliseconds: {text!r}") from None
    log.warning("TEST-ONLY clock skew of %+d ms is active", skew_ms)
    return SkewedClock(SystemClock(), skew_ms)
