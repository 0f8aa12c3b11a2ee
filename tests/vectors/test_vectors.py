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
import shutil

import pytest

from consensus.version import PROTOCOL_VERSION
from tests.vectors import generate, store
from tests.vectors.decoding import CHECKS
from tests.vectors.generate import EXIT_DIFFERENT, EXIT_OK, EXIT_REFUSED
from tests.vectors.sets import DOCUMENTS, compute_all
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


def test_code_produces_every_stored_vector_and_no_unstored_one() -> None:
    comparison = compare(STORED, compute_all())
    assert not comparison.removed, f"{PROTOCOL_CHANGE}\n{comparison.report()}"
    assert not comparison.added, f"new vectors not stored: run `{REGENERATE_COMMAND}`"


@pytest.mark.parametrize(("file_name", "vector_name"), CASES, ids=IDS)
def test_code_computes_the_stored_bytes(file_name: str, vector_name: str) -> None:
    stored = vectors_by_name(STORED[file_name])[vector_name]
    fresh = vectors_by_name(compute_all()[file_name]).get(vector_name)
    if fresh is None:
        pytest.fail(f"{PROTOCOL_CHANGE}\n{file_name}: {vector_name} is no longer produced")
    paths = [p for part in COMPARED_PARTS for p in diff_paths(stored[part], fresh[part], part)]
    if paths:
        listing = "\n".join(f"  {path}" for path in paths[:20])
        pytest.fail(f"{PROTOCOL_CHANGE}\n{file_name}: {vector_name}:\n{listing}", pytrace=False)


@pytest.mark.parametrize(("file_name", "vector_name"), CASES, ids=IDS)
def test_stored_bytes_decode_to_the_stated_values(file_name: str, vector_name: str) -> None:
    vector = vectors_by_name(STORED[file_name])[vector_name]
    CHECKS[file_name](vector, STORED[file_name], STORED)


# -- the generator's protocol-version rule -----------------------------------------------------


SOURCE_DIR = pathlib.Path(__file__).resolve().parent / f"v{PROTOCOL_VERSION}"


@pytest.fixture
def vectors_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """An empty vectors directory the generator reads and writes instead of the real one."""
    monkeypatch.setattr(store, "VECTORS_DIR", tmp_path)
    return tmp_path


def copy_stored(home: pathlib.Path) -> pathlib.Path:
    target = home / SOURCE_DIR.name
    shutil.copytree(SOURCE_DIR, target)
    return target


def test_generator_only_checks_unless_asked_to_write(vectors_home: pathlib.Path) -> None:
    assert generate.main([]) == EXIT_DIFFERENT  # nothing stored here yet
    assert list(vectors_home.iterdir()) == []
    copy_stored(vectors_home)
    assert generate.main([]) == EXIT_OK


def test_generator_writes_the_vectors_of_a_new_protocol_version(vectors_home: pathlib.Path) -> None:
    assert generate.main(["--write"]) == EXIT_OK
    written = vectors_home / SOURCE_DIR.name
    for path in SOURCE_DIR.glob("*.json"):
        assert (written / path.name).read_text() == path.read_text(), path.name


def test_generator_refuses_to_change_stored_bytes(
    vectors_home: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_stored(vectors_home) / "votes.json"
    document = json.loads(path.read_text())
    document["vectors"][0]["expected"]["signature"] = "00" * 64
    path.write_text(render(document))
    before = path.read_text()
    assert generate.main(["--write"]) == EXIT_REFUSED
    assert path.read_text() == before
    out = capsys.readouterr().out
    assert "votes.json: prevote_block_1: expected.signature" in out
    assert "consensus encoding changed: this is a protocol change — bump PROTOCOL_VERSION" in out


def test_generator_adds_vectors_without_touching_stored_ones(vectors_home: pathlib.Path) -> None:
    path = copy_stored(vectors_home) / "merkle.json"
    document = json.loads(path.read_text())
    document["vectors"].pop()
    path.write_text(render(document))
    assert generate.main([]) == EXIT_DIFFERENT
    assert generate.main(["--write"]) == EXIT_OK
    assert path.read_text() == (SOURCE_DIR / "merkle.json").read_text()
