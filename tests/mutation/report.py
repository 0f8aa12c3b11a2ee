"""Mutation score per module and the surviving mutants, after ``mutmut run`` (``make mutation``).

Run from the repository root: ``python -m tests.mutation.report``. It reads mutmut's results
under ./mutants/ and the documented equivalent mutants in tests/mutation/equivalent.md.

- killed: a test failed (a timeout counts as killed: the mutant made a test hang);
- survived: every test that executed the mutated function passed;
- no tests: no selected test executed the function (counts against the score, like a survivor);
- not checked: the run was interrupted before this mutant (left out of the score, reported);
- equivalent: a survivor documented in equivalent.md as behaving exactly like the original.

score = killed / (mutants - equivalent). Exits 1 if a module scores below ``SCORE_MIN`` or a
survivor is neither killed nor documented, or an equivalence entry no longer matches its mutant.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

SCORE_MIN = 0.90
EQUIVALENT_FILE = Path("tests/mutation/equivalent.md")
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
"""segfault is how mutmut names a worker killed by a signal (its CPU-time limit ends in SIGKILL)."""
UNCHECKED = "not checked"


@dataclass(frozen=True, slots=True)
class Equivalent:
    name: str
    removed: str
    added: str


@dataclass
class ModuleResult:
    path: str
    counts: dict[str, int] = field(default_factory=dict)
    survivors: dict[str, str] = field(default_factory=dict)
    """mutant name -> status, for the mutants not killed"""
    equivalent: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Mutants checked (an interrupted run leaves some unchecked)."""
        return sum(n for status, n in self.counts.items() if status != UNCHECKED)

    @property
    def killed(self) -> int:
        return sum(n for status, n in self.counts.items() if status in KILLED)

    @property
    def score(self) -> float:
        counted = self.total - len(self.equivalent)
        return 1.0 if counted == 0 else self.killed / counted

    @property
    def raw_score(self) -> float:
        return 1.0 if self.total == 0 else self.killed / self.total


def read_equivalents(path: Path = EQUIVALENT_FILE) -> dict[str, Equivalent]:
    """Entries are ``### <mutant name>`` headers followed by a ``- mutation: `old` -> `new```
    line (the changed line before and after, whitespace-trimmed; `` `new` `` empty when the
    mutant drops the line)."""
    found: dict[str, Equivalent] = {}
    name = None
    for line in path.read_text().splitlines():
        header = re.match(r"^### (\S+)\s*$", line)
        if header:
            name = header.group(1)
            continue
        mutation = re.match(r"^- mutation: `(.*)` -> `(.*)`\s*$", line)
        if mutation and name is not None:
            found[name] = Equivalent(name, mutation.group(1), mutation.group(2))
            name = None
    return found


def get_changed_lines(diff: str) -> tuple[list[str], list[str]]:
    lines = diff.splitlines()[2:]  # skip the ---/+++ header
    removed = [line[1:].strip() for line in lines if line.startswith("-")]
    added = [line[1:].strip() for line in lines if line.startswith("+")]
    return removed, added


def find_source_line(path: str, mutant_name: str, removed: list[str]) -> int | None:
    """The line of the original file that the mutant changes (first changed line)."""
    if not removed:
        return None
    mangled = mutant_name.rsplit(".", 1)[1].split("__mutmut_")[0]
    # mutmut's mangling: x_<function> for functions, xǁ<Class>ǁ<method> for methods
    function = mangled.split("ǁ")[-1] if mangled.startswith("xǁ") else mangled[2:]
    source = Path(path).read_text()
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            for number in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                if lines[number - 1].strip() == removed[0]:
                    return number
    return None


def collect(only_mutate: list[str]) -> list[ModuleResult]:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    results = []
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        path = str(meta.relative_to("mutants"))[: -len(".meta")]
        if not any(fnmatch.fnmatch(path, pattern) for pattern in only_mutate):
            continue
        data = SourceFileMutationData(path=path)
        data.load()
        result = ModuleResult(path)
        for name, code in sorted(data.exit_code_by_key.items(), key=lambda kv: _natural(kv[0])):
            status = status_by_exit_code[code]
            result.counts[status] = result.counts.get(status, 0) + 1
            if status not in KILLED and status != UNCHECKED:
                result.survivors[name] = status
        results.append(result)
    return results


def _natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def main() -> int:
    import tomllib

    from mutmut.mutation.diff_apply import get_diff_for_mutant

    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    equivalents = read_equivalents()
    results = collect(config["only_mutate"])
    if not results:
        print("no mutmut results under ./mutants (run `make mutation` first)")
        return 1
    problems = 0
    seen_equivalents: set[str] = set()
    print("\nSurviving mutants (neither killed nor documented as equivalent):")
    for result in results:
        for name, status in result.survivors.items():
            diff = get_diff_for_mutant(name, path=result.path)
            removed, added = get_changed_lines(diff)
            entry = equivalents.get(name)
            if entry is not None:
                seen_equivalents.add(name)
                deleted = entry.added == "" and not added  # the mutant drops the line
                if entry.removed in removed and (entry.added in added or deleted):
                    result.equivalent.append(name)
                    continue
                print(f"  STALE equivalence entry {name}: the mutant changed, re-check it")
            problems += 1
            line = find_source_line(result.path, name, removed)
            print(f"\n  {result.path}:{line}  {name}  [{status}]")
            print("    " + "\n    ".join(diff.splitlines()[2:]))
    for name in sorted(set(equivalents) - seen_equivalents):
        print(f"  note: {name} is documented as equivalent but is killed or gone")
    print("\nMutation score per module (killed / (mutants - documented equivalent)):")
    print(
        f"  {'module':40} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} "
        f"{'equiv':>5} {'score':>6} {'raw':>6}"
    )
    for r in results:
        survived = r.total - r.killed - r.counts.get("no tests", 0)
        print(
            f"  {r.path:40} {r.total:7} {r.killed:6} {survived:8} "
            f"{r.counts.get('no tests', 0):8} {len(r.equivalent):5} "
            f"{r.score:6.1%} {r.raw_score:6.1%}"
        )
        if r.score < SCORE_MIN:
            problems += 1
        if r.counts.get(UNCHECKED):
            print(f"  {'':40} ({r.counts[UNCHECKED]} not checked: the run was interrupted)")
            problems += 1
    total = sum(r.total for r in results)
    killed = sum(r.killed for r in results)
    equivalent = sum(len(r.equivalent) for r in results)
    print(
        f"  {'all':40} {total:7} {killed:6} {'':8} {'':8} {equivalent:5} "
        f"{killed / max(1, total - equivalent):6.1%} {killed / max(1, total):6.1%}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
