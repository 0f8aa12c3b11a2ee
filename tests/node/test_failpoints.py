"""node.failpoints: the TEST-ONLY crash switches are read from the environment once, by name.

The names and exit codes are a contract with the crash tests and their child scripts (a test
tells "died at the failpoint" from "died somewhere else" by the exit code), so they are pinned
here, each in one place.
"""

from __future__ import annotations

import pytest

from node.failpoints import FAILPOINT_ENV, Failpoint, Failpoints

CONTRACT = {
    "before_vote_send": 96,
    "before_sign_state_rename": 97,
    "wal_mid_append": 98,
    "after_sign_state_persist": 99,
    "forget_sign_state": None,
    "statesync_bad_chunks": None,
    "statesync_forged_manifest": None,
    "statesync_slow_fetch": None,
}


def test_names_and_exit_codes_are_the_ones_the_crash_tests_use() -> None:
    assert {point.env_name: point.exit_code for point in Failpoint} == CONTRACT


@pytest.mark.parametrize("point", list(Failpoint))
def test_the_environment_names_the_one_active_failpoint(point: Failpoint) -> None:
    failpoints = Failpoints.from_env({FAILPOINT_ENV: point.env_name, "OTHER": "x"})
    assert failpoints.active is point
    assert [p for p in Failpoint if failpoints.is_active(p)] == [point]


@pytest.mark.parametrize("value", [None, "", "no_such_failpoint", "WAL_MID_APPEND"])
def test_no_or_an_unknown_name_activates_nothing(value: str | None) -> None:
    environ = {} if value is None else {FAILPOINT_ENV: value}
    failpoints = Failpoints.from_env(environ)
    assert failpoints == Failpoints.NONE
    assert not any(failpoints.is_active(p) for p in Failpoint)
    for point in Failpoint:
        if point.exit_code is not None:
            failpoints.crash_if_active(point)  # returns: nothing is active
