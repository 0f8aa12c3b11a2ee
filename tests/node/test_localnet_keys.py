"""`depochain keys new|list|show` over a keyring folder."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from node.cli import main
from node.home import load_key


def keys(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["keys", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_new_show_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring = str(tmp_path / "ring")
    code, out, _ = keys(capsys, "new", "ops-1", "--keyring", ring)
    public = load_key(tmp_path / "ring" / "ops-1.json").public_key.hex()
    assert code == 0 and public in out
    assert stat.S_IMODE((tmp_path / "ring" / "ops-1.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ring").stat().st_mode) == 0o700
    assert keys(capsys, "show", "ops-1", "--keyring", ring) == (0, public + "\n", "")
    keys(capsys, "new", "alpha", "--keyring", ring)
    code, out, _ = keys(capsys, "list", "--keyring", ring)
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == ["alpha", "ops-1"]
    assert lines[1].split()[1] == public


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring = str(tmp_path / "ring")
    _, out, _ = keys(capsys, "new", "k", "--keyring", ring, "--json")
    created = json.loads(out)
    assert created == {"name": "k", "public_key": created["public_key"]}
    assert "seed" not in out
    assert json.loads(keys(capsys, "show", "k", "--keyring", ring, "--json")[1]) == created
    assert json.loads(keys(capsys, "list", "--keyring", ring, "--json")[1]) == [created]


def test_existing_key_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ring = str(tmp_path / "ring")
    keys(capsys, "new", "k", "--keyring", ring)
    before = (tmp_path / "ring" / "k.json").read_bytes()
    code, _, err = keys(capsys, "new", "k", "--keyring", ring)
    assert code == 1 and "already exists" in err
    assert (tmp_path / "ring" / "k.json").read_bytes() == before


def test_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring = str(tmp_path / "ring")
    code, _, err = keys(capsys, "show", "nobody", "--keyring", ring)
    assert code == 1 and "not found" in err
    for bad in ("../evil", ".hidden", "a/b", "x" * 65, ""):
        code, _, err = keys(capsys, "new", bad, "--keyring", ring)
        assert code == 1 and "invalid key name" in err, bad
    code, _, err = keys(capsys, "new", "--keyring", ring)
    assert code == 1 and "needs a NAME" in err
    assert not (tmp_path / "evil.json").exists()
    code, out, _ = keys(capsys, "list", "--keyring", ring)
    assert code == 0 and "no keys" in out


def test_a_damaged_key_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring = tmp_path / "ring"
    keys(capsys, "new", "good", "--keyring", str(ring))
    (ring / "bad.json").write_text('{"seed": "zz"}')
    code, out, _ = keys(capsys, "list", "--keyring", str(ring))
    assert code == 1 and "bad" in out and "unreadable" in out and "good" in out
    code, _, err = keys(capsys, "show", "bad", "--keyring", str(ring))
    assert code == 1 and "invalid key file" in err


def test_default_keyring_is_under_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keys(capsys, "new", "me")[0] == 0
    assert (tmp_path / ".depochain" / "keys" / "me.json").is_file()
