"""The explorer's static files: which files are published, and that an installed wheel has
them (the explorer is package data, not a file next to a checkout)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

from node.explorer.route import CONTENT_TYPES, load_static_files

STATIC = Path(resources.files("node.explorer").joinpath("static"))  # type: ignore[arg-type]
ROOT = Path(__file__).resolve().parents[2]


def test_only_known_kinds_of_top_level_files_are_published(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "app.js").write_text("export {};")
    (tmp_path / ".hidden.js").write_text("secret")
    (tmp_path / "notes.txt").write_text("not a page")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.js").write_text("nested")
    files = load_static_files(tmp_path)
    assert sorted(files) == ["app.js", "index.html"]
    assert files["app.js"].content_type == "text/javascript; charset=utf-8"
    assert files["index.html"].etag != files["app.js"].etag


def test_the_shipped_pages_have_no_inline_script_or_style() -> None:
    """The Content-Security-Policy forbids inline code: a page that needs it would break."""
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert re.findall(r"\son[a-z]+\s*=", html) == []
    assert "style=" not in html and "<style" not in html
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "eval(" not in text, script.name
        assert "http://" not in text and "https://" not in text, script.name  # no CDN


def test_every_shipped_file_is_of_a_served_kind() -> None:
    names = sorted(p.name for p in STATIC.iterdir())
    assert names and all(Path(name).suffix in CONTENT_TYPES for name in names)
    assert sorted(load_static_files(STATIC)) == names


def test_the_wheel_carries_the_explorer(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("depochain-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    for shipped in STATIC.iterdir():
        assert f"node/explorer/static/{shipped.name}" in inside
