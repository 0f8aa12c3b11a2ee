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

import time
from typing import Protocol

from consensus.types import TimestampMs


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
