"""consensus/ has one root error, and each public name in it means one thing.

Every exception class defined in consensus/ derives from ``ConsensusError`` (so a caller can
catch the core's expected failures in one place), and the kinds that were ``ValueError`` stay
so. No two modules of consensus/ define the same public top-level name (``Event``,
``ValidatorSet``, ``TX_BYTES_MAX``... once each meant two different things); an alias of the
very same object is not a second meaning.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import pkgutil
from types import ModuleType

import consensus
from consensus.blocks import InvalidBlock
from consensus.certificate import CertificateError, WrongBlock
from consensus.codec import CodecError
from consensus.errors import ConsensusError, InvalidMessage
from consensus.evidence import InvalidEvidence
from consensus.ledger.genesis import GenesisError
from consensus.replica import RejectedInput
from consensus.validators import InvalidValidatorSet
from consensus.vote_set import InvalidVote

CONSENSUS = pathlib.Path(consensus.__file__).parent


def _modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(consensus.__path__, "consensus.")]
    return [importlib.import_module(name) for name in ["consensus", *names]]


def test_every_exception_of_consensus_derives_from_consensus_error() -> None:
    exceptions = {
        cls
        for module in _modules()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__.startswith("consensus")
    }
    assert len(exceptions) >= 15  # the walk found the core's errors
    assert sorted(c.__qualname__ for c in exceptions if not issubclass(c, ConsensusError)) == []


def test_the_kinds_that_were_value_errors_still_are() -> None:
    kinds = (CodecError, InvalidBlock, InvalidValidatorSet, RejectedInput, GenesisError)
    assert all(issubclass(kind, ValueError) for kind in kinds)
    messages = (InvalidVote, InvalidEvidence, CertificateError, WrongBlock)
    assert all(issubclass(kind, InvalidMessage) for kind in messages)


def _defined_names(path: pathlib.Path) -> set[str]:
    """Public names a module defines at top level (not those it imports)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") and n != "__all__"}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(CONSENSUS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_two_consensus_modules_define_the_same_public_name() -> None:
    where: dict[str, list[str]] = {}
    for path in sorted(CONSENSUS.rglob("*.py")):
        for name in _defined_names(path):
            where.setdefault(name, []).append(_module_name(path))
    assert len(where) > 300  # the walk sees the whole package
    clashes = {}
    for name, modules in where.items():
        values = {id(getattr(importlib.import_module(m), name)) for m in modules}
        if len(values) > 1:
            clashes[name] = modules
    assert clashes == {}
