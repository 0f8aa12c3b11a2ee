"""Failpoints: TEST-ONLY switches that make a node crash (or forget) at one exact instant.

The crash and double-sign tests start a node, or a child script, with ``DEPOCHAIN_FAILPOINT=<name>``
in its environment. The variable is read ONCE, where the process starts (``node.start.run_node``,
or a test's child script), into a frozen :class:`Failpoints` that is handed to the parts that
hold a failpoint (the signer, the WAL, the driver), as configuration is. Every other caller,
including the unit tests, gets :data:`Failpoints.NONE` by default and never thinks about them.

Never set one on a real validator: each either kills the process mid-protocol or, for
``forget_sign_state``, deletes the very files that stop it from double-signing.

The names and exit codes are part of the tests' contract (tests/integration/test_faults.py,
test_double_sign.py, tests/node/test_signer.py, test_wal.py): the exit code tells the test the
process died at the failpoint and not somewhere else.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

log = logging.getLogger("depochain.failpoints")

FAILPOINT_ENV = "DEPOCHAIN_FAILPOINT"
"""The environment variable that names the one active failpoint (empty or unset: none)."""


class Failpoint(enum.Enum):
    """Each failpoint: its name in ``DEPOCHAIN_FAILPOINT`` and the code the process exits with
    (None: it does not exit)."""

    BEFORE_VOTE_SEND = ("before_vote_send", 96)
    """Driver: the vote's sign state is durable, the vote is about to be broadcast."""
    BEFORE_SIGN_STATE_RENAME = ("before_sign_state_rename", 97)
    """Signer: the new sign state's temp file is written and fsynced, not yet renamed."""
    WAL_MID_APPEND = ("wal_mid_append", 98)
    """WAL: half of the next record is written (a torn tail)."""
    AFTER_SIGN_STATE_PERSIST = ("after_sign_state_persist", 99)
    """Signer: a persist completed (file renamed, folder fsynced)."""
    FORGET_SIGN_STATE = ("forget_sign_state", None)
    """Start-up: delete the sign state and the WAL before reading them (see
    :func:`node.signer.forget_signatures_if_asked`)."""

    STATESYNC_BAD_CHUNKS = ("statesync_bad_chunks", None)
    """Snapshot server: every chunk served has its last byte flipped (a hostile peer)."""
    STATESYNC_FORGED_MANIFEST = ("statesync_forged_manifest", None)
    """Snapshot server: manifests offered lack their last chunk (consistent, wrong state)."""
    STATESYNC_SLOW_FETCH = ("statesync_slow_fetch", None)
    """Joining node: fetch one chunk at a time, pausing after each (so a test can watch the
    restore's progress on /status)."""

    def __init__(self, env_name: str, exit_code: int | None) -> None:
        self.env_name = env_name
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Failpoints:
    """The failpoint this process was started with, if any."""

    active: Failpoint | None = None

    NONE: ClassVar[Failpoints]
    """No failpoint: what production code and unit tests get by default."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Failpoints:
        """Read ``DEPOCHAIN_FAILPOINT`` (call once, at process start). An unknown name
        activates nothing, as it always did, but says so in the log."""
        name = environ.get(FAILPOINT_ENV, "")
        if not name:
            return cls.NONE
        for point in Failpoint:
            if point.env_name == name:
                log.warning("TEST-ONLY failpoint %s is active", name)
                return cls(point)
        log.warning("%s=%r names no failpoint; none is active", FAILPOINT_ENV, name)
        return cls.NONE

    def is_active(self, point: Failpoint) -> bool:
        return self.active is point

    def crash_if_active(self, point: Failpoint) -> None:
        """End the process at once with the failpoint's exit code if ``point`` is active:
        ``os._exit`` runs no cleanup, as a crash would not."""
        if self.active is point:
            assert point.exit_code is not None, f"failpoint {point.env_name} does not exit"
            os._exit(point.exit_code)


Failpoints.NONE = Failpoints()
