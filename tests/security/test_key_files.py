"""Key files on a hostile disk: a key path (or its temp file) planted as a symlink, or an old
key file left world-readable, must never receive or expose a seed.

``write_key`` used to open the path itself with ``O_TRUNC`` (following a symlink, so the seed
went to the link's target, and keeping an existing file's 0644 mode). Now it writes a new
0600 file that it creates itself and renames it over the path.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from node.home import load_key, new_key, write_key

VICTIM_TEXT = "a file the attacker wants the seed written into\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_symlinked_key_path_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    path = tmp_path / "keys" / "validator_key.json"
    path.parent.mkdir()
    path.symlink_to(victim)
    key = new_key()
    write_key(path, key)
    assert victim.read_text() == VICTIM_TEXT
    assert not path.is_symlink() and _mode(path) == 0o600
    assert load_key(path).seed == key.seed


def test_a_symlink_planted_at_the_temp_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    path = tmp_path / "node_key.json"
    for leftover in tmp_path.glob("node_key.json*"):
        leftover.unlink()
    (tmp_path / "node_key.json.tmp").symlink_to(victim)
    write_key(path, new_key())
    assert victim.read_text() == VICTIM_TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node_key.json", "victim.txt"]


def test_an_old_world_readable_key_file_is_replaced_by_a_0600_one(tmp_path: Path) -> None:
    path = tmp_path / "operator.json"
    path.write_text(json.dumps({"seed": "00" * 32}))
    os.chmod(path, 0o644)
    write_key(path, new_key())
    assert _mode(path) == 0o600
