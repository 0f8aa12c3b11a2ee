"""The active hypothesis profile's example budget, shared out to tests with expensive examples.

``tests/conftest.py`` loads the profile (``dev`` locally, ``ci`` in CI) before any test module is
imported, so ``settings.default`` is that profile here. A test whose examples are expensive takes
a share of the profile's ``max_examples`` instead of a fixed number: CI still runs it deeper.
"""

from __future__ import annotations

from hypothesis import settings


def share_of_max_examples(divisor: int) -> int:
    """``max_examples`` of the active profile divided by ``divisor`` (at least 1)."""
    return max(1, settings.default.max_examples // divisor)
