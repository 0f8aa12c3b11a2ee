"""Every hypothesis test takes its example budget from the active profile (``dev`` or ``ci``).

A hard-coded ``max_examples`` silently overrides the profile, so CI would run such a test no
deeper than a laptop does. Expensive tests take a share of the profile's budget instead
(:func:`tests.profiles.share_of_max_examples`).
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import settings

import tests.consensus.ledger.test_stateful as ledger_machine
import tests.node.test_mempool as mempool_machine
import tests.node.test_storage_model as storage_machine
import tests.simulation.test_stateful as cluster_machine
from tests.profiles import share_of_max_examples

TESTS = Path(__file__).parent
HARD_CODED = re.compile(r"max_examples\s*=\s*\d")


def test_no_test_hard_codes_max_examples() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "conftest.py"  # where the profiles themselves are defined
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HARD_CODED.search(line)
    ]
    assert offenders == []


def test_state_machines_follow_the_active_profile() -> None:
    profile = settings.default.max_examples
    assert ledger_machine.TestLedger.settings.max_examples == profile
    assert ledger_machine.TestLedgerDeep.settings.max_examples == profile
    assert mempool_machine.MempoolMachine.TestCase.settings.max_examples == profile
    assert storage_machine.StoresAgree.TestCase.settings.max_examples == profile
    assert cluster_machine.TestCluster.settings.max_examples == share_of_max_examples(3)
