"""Known-answer vectors: the consensus-critical bytes are pinned, per protocol version.

For every stored vector of ``PROTOCOL_VERSION`` (``tests/vectors/v<N>/``):

* today's code, from the vector's fixed inputs, computes exactly the stored bytes (a swapped
  field, a changed hash or domain, a new KDF label all fail here, naming the vector and field);
* today's decoders read the stored bytes back as exactly the stated inputs, and the signatures,
  proofs and certificates in them verify.

A failure is a protocol change, never a vector to refresh: see tests/vectors/README.md.
"""

from __future__ import annotations

import json
import pathlib
import traceback
from collections.abc import Callable

import pytest

from consensus.version import PROTOCOL_VERSION
from tests.vectors import generate, sets, store
from tests.vectors.decoding import CHECKS
from tests.vectors.generate import EXIT_DIFFERENT, EXIT_OK, EXIT_REFUSED
from tests.vectors.jsonform import Json
from tests.vectors.sets import DOCUMENTS, compute_available, compute_document
from tests.vectors.store import (
    COMPARED_PARTS,
    PROTOCOL_CHANGE,
    REGENERATE_COMMAND,
    compare,
    diff_paths,
    load_all,
    render,
    vectors_by_name,
)

STORED = load_all()
CASES = [(file_name, name) for file_name, doc in STORED.items() for name in vectors_by_name(doc)]
IDS = [f"{file_name.removesuffix('.json')}-{name}" for file_name, name in CASES]


def test_vectors_of_this_protocol_version_are_stored() -> None:
    assert STORED, f"no vectors for protocol version {PROTOCOL_VERSION}: run `{REGENERATE_COMMAND}`"
    assert set(STORED) == set(DOCUMENTS), "a vectors file is missing or unknown"
    for file_name, document in STORED.items():
        assert document["protocol_version"] == PROTOCOL_VERSION, f"{file_name}: wrong version"


def computed(file_name: str) -> Json:
    try:
        return compute_document(file_name)
    except Exception as exc:
        failure = repr(exc)
    pytest.fail(
        f"{PROTOCOL_CHANGE}\ncomputing {file_name} from its inputs raised {failure}", pytrace=False
    )


def test_code_produces_every_stored_vector_and_no_unstored_one() -> None:
    documents, _errors = compute_available()  # a file that raises fails its own tests below
    comparison = compare({name: STORED[name] for name in documents if name in STORED}, documents)
    assert not comparison.removed, f"{PROTOCOL_CHANGE}\n{comparison.report()}"
    assert not comparison.added, f"new vectors not stored: run `{REGENERATE_COMMAND}`"


@pytest.mark.parametrize(("file_name", "vector_name"), CASES, ids=IDS)
def test_code_computes_the_stored_bytes(file_name: str, vector_name: str) -> None:
    stored = vectors_by_name(STORED[file_name])[vector_name]
    fresh = vectors_by_name(computed(file_name)).get(vector_name)
    if fresh is None:
        pytest.fail(f"{PROTOCOL_CHANGE}\n{file_name}: {vector_name} is no longer produced")
    paths = [p for part in COMPARED_PARTS for p in diff_paths(stored[part], fresh[part], part)]
    if paths:
        listing = "\n".join(f"  {path}" for path in paths[:20])
        pytest.fail(f"{PROTOCOL_CHANGE}\n{file_name}: {vector_name}:\n{listing}", pytrace=False)


@pytest.mark.parametrize(("file_name", "vector_name"), CASES, ids=IDS)
def test_stored_bytes_decode_to_the_stated_values(file_name: str, vector_name: str) -> None:
    vector = vectors_by_name(STORED[file_name])[vector_name]
    try:
        CHECKS[file_name](vector, STORED[file_name], STORED)
        return
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{pathlib.Path(frame.filename).name}:{frame.lineno}: {frame.line}"
        failure = f"{type(exc).__name__}: {exc}\n  at {where}"
    pytest.fail(
        f"{PROTOCOL_CHANGE}\nthe stored bytes of {file_name}: {vector_name} no longer decode "
        f"(or verify) as stated: {failure}",
        pytrace=False,
    )


# -- the generator's protocol-version rule -----------------------------------------------------


# These run on a scratch directory filled from today's code (two of the files, the rule does not
# depend on which), so they test the rule itself whether or not the code still matches the
# stored vectors.

RULE_FILES = ("merkle.json", "votes.json")


@pytest.fixture
def vectors_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """An empty vectors directory the generator reads and writes instead of the real one."""
    monkeypatch.setattr(store, "VECTORS_DIR", tmp_path)
    monkeypatch.setattr(sets, "DOCUMENTS", {name: DOCUMENTS[name] for name in RULE_FILES})
    return tmp_path


def rewrite(path: pathlib.Path, change: Callable[[Json], None]) -> str:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(render(document))
    return path.read_text()


def test_generator_only_checks_unless_asked_to_write(vectors_home: pathlib.Path) -> None:
    assert generate.main([]) == EXIT_DIFFERENT  # nothing stored here yet
    assert list(vectors_home.iterdir()) == []
    assert generate.main(["--write"]) == EXIT_OK
    assert generate.main([]) == EXIT_OK


def test_generator_writes_the_vectors_of_a_new_protocol_version(vectors_home: pathlib.Path) -> None:
    assert generate.main(["--write"]) == EXIT_OK
    written = vectors_home / f"v{PROTOCOL_VERSION}"
    assert sorted(p.name for p in written.iterdir()) == sorted(RULE_FILES)
    for name in RULE_FILES:
        assert (written / name).read_text() == render(compute_document(name))
        assert json.loads((written / name).read_text())["protocol_version"] == PROTOCOL_VERSION


def test_generator_refuses_to_change_stored_bytes(
    vectors_home: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate.main(["--write"]) == EXIT_OK
    path = vectors_home / f"v{PROTOCOL_VERSION}" / "votes.json"

    def forge(document: Json) -> None:
        document["vectors"][0]["expected"]["signature"] = "00" * 64

    before = rewrite(path, forge)
    assert generate.main(["--write"]) == EXIT_REFUSED
    assert path.read_text() == before
    out = capsys.readouterr().out
    assert "votes.json: prevote_block_1: expected.signature" in out
    assert "consensus encoding changed: this is a protocol change — bump PROTOCOL_VERSION" in out


def test_generator_adds_vectors_without_touching_stored_ones(vectors_home: pathlib.Path) -> None:
    assert generate.main(["--write"]) == EXIT_OK
    path = vectors_home / f"v{PROTOCOL_VERSION}" / "merkle.json"
    rewrite(path, lambda document: document["vectors"].pop())
    assert generate.main([]) == EXIT_DIFFERENT
    assert generate.main(["--write"]) == EXIT_OK
    assert path.read_text() == render(compute_document("merkle.json"))
