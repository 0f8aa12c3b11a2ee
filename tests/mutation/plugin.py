"""pytest plugin loaded by ``make mutation`` only (``[tool.mutmut] pytest_add_cli_args``).

For each mutant mutmut already runs just the tests that executed the mutated function. This
narrows the run per module: the simulation tests (the slowest by far) run only against the
replica's mutants, whose behaviour they exist to check, and the quick unit and property tests
run first, so a mutant that dies stops early (mutmut passes ``-x``).

Outside a mutant run (mutmut's stats, clean and forced-fail runs, or plain pytest) it does
nothing.
"""

from __future__ import annotations

import os

import pytest

SIMULATION_TESTS = "tests/simulation/"
SIMULATION_MODULE_PREFIXES = ("consensus.replica",)
"""Modules whose mutants the simulation tests also run against (the ``consensus/replica/``
package)."""


def get_mutated_module(mutant_name: str) -> str | None:
    """``consensus.safety.x_check_can_sign__mutmut_2`` -> ``consensus.safety``."""
    if "__mutmut_" not in mutant_name:
        return None
    return mutant_name.rsplit(".", 1)[0]


def is_simulation(item: pytest.Item) -> bool:
    return item.nodeid.startswith(SIMULATION_TESTS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    module = get_mutated_module(os.environ.get("MUTANT_UNDER_TEST", ""))
    if module is None:
        return
    with_simulation = module.startswith(SIMULATION_MODULE_PREFIXES)
    kept = [item for item in items if with_simulation or not is_simulation(item)]
    dropped = [item for item in items if item not in kept]
    kept.sort(key=is_simulation)  # stable: unit and property tests first, in their order
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept
