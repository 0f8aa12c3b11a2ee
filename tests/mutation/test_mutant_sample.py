"""A fixed sample of mutants of the consensus-critical code, each of which the tests must kill.

``make mutation`` runs every mutant (slow). This runs a fixed handful in ``make test``, so a
change that blinds the tests to one of these faults fails the ordinary suite. Each mutant is
written into a scratch copy of ``consensus/`` and ``tests/consensus/`` (the tree itself is
never touched); then the tests named in ``killed_by`` run there and every one must fail. A
baseline run of the same tests on the unmutated copy must pass, so a failure is the mutant's
doing and not the copy's.

A mutant is found by its exact source text anywhere under ``consensus/`` (it must occur
exactly once), so it survives modules being moved; when the code itself changes, update the
text here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str
    original: str
    mutated: str
    killed_by: tuple[str, ...]


SAMPLE = (
    Mutant(
        "vote sign-bytes: height and round swapped",
        "return codec.encode([int(vote_type), height, round_, block_hash])",
        "return codec.encode([int(vote_type), round_, height, block_hash])",
        (
            "tests/consensus/test_sign_payloads.py::test_vote_payload_is_type_height_round_block_hash",
        ),
    ),
    Mutant(
        "replica: PersistSignState dropped before a signature leaves",
        "            out.append(PersistSignState(state))\n",
        "            pass\n",
        (
            "tests/consensus/test_replica.py::test_valid_proposal_is_prevoted",
            "tests/consensus/test_replica.py::test_started_proposer_persists_then_broadcasts_a_valid_proposal",
        ),
    ),
    Mutant(
        "safety: a conflicting message at the last (height, round, step) is signed",
        "    if here > last:\n        return True\n",
        "    if here >= last:\n        return True\n",
        ("tests/consensus/test_safety.py::test_conflicting_at_same_height_round_step_is_refused",),
    ),
    Mutant(
        "safety: a lower (height, round, step) is signed",
        'raise DoubleSignRefused(f"{here} is below the last signed {last}")',
        "return True",
        ("tests/consensus/test_safety.py::test_lower_is_refused",),
    ),
    Mutant(
        "certificate: exactly 2/3 of the power accepted as a quorum",
        "    if not validator_set.is_quorum(power):\n",
        "    if power * 3 < validator_set.total_power * 2:\n",
        ("tests/consensus/test_certificate.py::test_two_thirds_exactly_is_not_enough",),
    ),
    Mutant(
        "certificate: the same signer counted twice",
        "if sig.validator_index <= previous:",
        "if sig.validator_index < previous:",
        ("tests/consensus/test_certificate.py::test_duplicate_signer",),
    ),
    Mutant(
        "certificate: signatures not verified",
        "        if not crypto.verify(member.public_key, SignPurpose.VOTE, chain_id, payload, "
        "sig.signature):\n",
        "        if False:\n",
        ("tests/consensus/test_certificate.py::test_bad_signature",),
    ),
    Mutant(
        "vote set: a validator's second vote counted as a first one",
        "        if existing is not None:\n",
        "        if False:\n",
        ("tests/consensus/test_vote_set.py::test_added_duplicate_equivocation",),
    ),
    Mutant(
        "codec: map keys left in insertion order",
        "    keyed.sort(key=lambda entry: entry[0])\n",
        "",
        (
            "tests/consensus/test_codec.py::test_map_keys_sort_by_encoded_bytes_regardless_of_insertion",
        ),
    ),
    Mutant(
        "codec: a non-canonical encoding accepted",
        "    if _packer_for_validated(value) != data:\n",
        "    if False:\n",
        ("tests/consensus/test_codec.py::test_non_canonical_or_malformed_is_rejected",),
    ),
    Mutant(
        "replica: a proposal with a bad signature accepted",
        "    if not p.is_signature_valid(chain_id):\n",
        "    if False:\n",
        ("tests/consensus/test_replica.py::test_proposal_with_bad_signature_is_rejected",),
    ),
    Mutant(
        "replica: a locked replica prevotes a fresh proposal for another block (line 22)",
        "accept = (locked_round == -1 or locked_ok) and (",
        "accept = True and (",
        (
            "tests/consensus/test_replica.py::test_locked_replica_prevotes_nil_for_another_fresh_proposal",
        ),
    ),
    Mutant(
        "replica: timeout_prevote precommits the proposal instead of nil",
        "                self._cast_vote(VoteType.PRECOMMIT, None, out)\n"
        "            case t.StartPrecommitWait():",
        "                self._cast_vote(VoteType.PRECOMMIT, "
        "s.current.proposals[self.round].block.hash, out)\n"
        "            case t.StartPrecommitWait():",
        ("tests/consensus/test_replica.py::test_timeout_prevote_precommits_nil",),
    ),
    Mutant(
        "ledger: nonces may skip ahead",
        "if unsigned.nonce != last_nonce + 1:",
        "if unsigned.nonce < last_nonce + 1:",
        (
            "tests/consensus/ledger/test_rules.py::test_nonce_is_sequential_and_a_rule_rejection_consumes_it",
        ),
    ),
    Mutant(
        "ledger: frozen funds can be spent",
        "if amount > balance.total - balance.frozen - balance.held:",
        "if amount > balance.total - balance.held:",
        ("tests/consensus/ledger/test_rules.py::test_frozen_amount_limits_free_balance",),
    ),
)


def make_copy(into: Path) -> Path:
    """A scratch tree with what the consensus tests import: consensus/ and tests/consensus/."""
    shutil.copytree(ROOT / "consensus", into / "consensus", ignore=_ignore)
    shutil.copytree(ROOT / "tests" / "consensus", into / "tests" / "consensus", ignore=_ignore)
    for name in ("tests/__init__.py", "tests/conftest.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, into / name)
    return into


def _ignore(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("__pycache__", ".hypothesis")]


def apply_mutant(tree: Path, mutant: Mutant) -> Path:
    """Write ``mutant`` into the copy; returns the mutated file."""
    hits = [
        path
        for path in sorted((tree / "consensus").rglob("*.py"))
        for _ in range(path.read_text().count(mutant.original))
    ]
    assert len(hits) == 1, (
        f"{mutant.name}: its source text occurs {len(hits)} times under consensus/ "
        f"(expected once); update the sample to the current code"
    )
    path = hits[0]
    path.write_text(path.read_text().replace(mutant.original, mutant.mutated))
    return path


def run_tests(tree: Path, node_ids: tuple[str, ...]) -> tuple[int, set[str], str]:
    """Run ``node_ids`` in the copy; returns (exit code, failed node ids, output)."""
    report = tree / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--junitxml={report}",
            "--rootdir",
            str(tree),
            *node_ids,
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.returncode, read_failed(report), result.stdout + result.stderr


def read_failed(report: Path) -> set[str]:
    failed = set()
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            # module-level test functions only: classname is the dotted module path
            path = case.get("classname", "").replace(".", "/") + ".py"
            failed.add(f"{path}::{case.get('name', '').split('[')[0]}")
    return failed


def all_killers() -> tuple[str, ...]:
    return tuple(sorted({node for m in SAMPLE for node in m.killed_by}))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> None:
    tree = make_copy(tmp_path_factory.mktemp("baseline"))
    code, failed, output = run_tests(tree, all_killers())
    assert code == 0 and not failed, f"the unmutated copy must pass:\n{output[-3000:]}"


def test_the_sample_spans_the_mutation_targets() -> None:
    assert 10 <= len(SAMPLE) <= 20
    assert len({m.name for m in SAMPLE}) == len(SAMPLE)


@pytest.mark.parametrize("mutant", SAMPLE, ids=[m.name for m in SAMPLE])
def test_mutant_is_killed(mutant: Mutant, baseline: None, tmp_path: Path) -> None:
    tree = make_copy(tmp_path)
    apply_mutant(tree, mutant)
    code, failed, output = run_tests(tree, mutant.killed_by)
    assert code == 1, (
        f"{mutant.name}: expected test failures (exit 1), got {code}:\n{output[-3000:]}"
    )
    survivors = [node for node in mutant.killed_by if node not in failed]
    assert not survivors, f"{mutant.name} survived {survivors}:\n{output[-3000:]}"
