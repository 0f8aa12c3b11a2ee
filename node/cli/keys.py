"""`depochain keys new|list|show`: Ed25519 keys in a keyring folder, one ``NAME.json`` each.

Key files have the format of node.home (``{"public_key": hex, "seed": hex}``), are created 0600 in
a 0700 folder, and are never overwritten. Only public keys are ever printed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from node.home import HomeError, load_key, new_key, write_key

DEFAULT_KEYRING = "~/.depochain/keys"
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


class KeysError(Exception):
    """A keyring operation failed; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class KeyEntry:
    name: str
    public_key: str | None
    """None when the file is unreadable (``error`` says why)."""
    error: str | None = None

    def to_json(self) -> dict[str, str | None]:
        document: dict[str, str | None] = {"name": self.name, "public_key": self.public_key}
        if self.error is not None:
            document["error"] = self.error
        return document


def get_keyring_path(keyring: str | None) -> Path:
    return Path(os.path.expanduser(keyring or DEFAULT_KEYRING))


def validate_key_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise KeysError(
            f"invalid key name {name!r}: use 1..64 of [A-Za-z0-9_.-], not starting with '.' or '-'"
        )
    return name


def create_key(keyring: Path, name: str) -> KeyEntry:
    """Write a fresh key ``NAME.json``; refuse to replace an existing one."""
    path = keyring / f"{validate_key_name(name)}.json"
    keyring.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        raise KeysError(f"key {name!r} already exists in {keyring}")
    key = new_key()
    write_key(path, key)
    return KeyEntry(name, key.public_key.hex())


def get_key(keyring: Path, name: str) -> KeyEntry:
    path = keyring / f"{validate_key_name(name)}.json"
    if not path.is_file():
        raise KeysError(f"key {name!r} not found in {keyring}")
    try:
        return KeyEntry(name, load_key(path).public_key.hex())
    except HomeError as exc:
        raise KeysError(str(exc)) from exc


def list_keys(keyring: Path) -> list[KeyEntry]:
    """Every ``*.json`` in the keyring, sorted by name; unreadable files carry an error."""
    if not keyring.is_dir():
        return []
    entries = []
    for path in sorted(keyring.glob("*.json")):
        try:
            entries.append(KeyEntry(path.stem, load_key(path).public_key.hex()))
        except HomeError as exc:
            entries.append(KeyEntry(path.stem, None, str(exc)))
    return entries


def run_keys(
    action: str,
    name: str | None,
    keyring: str | None,
    json_output: bool,
    out: TextIO | None = None,
) -> int:
    """The `keys` sub-command; returns the exit code."""
    out = out or sys.stdout
    folder = get_keyring_path(keyring)
    try:
        if action == "list":
            return _print_list(list_keys(folder), folder, json_output, out)
        if name is None:
            raise KeysError(f"`keys {action}` needs a NAME")
        entry = create_key(folder, name) if action == "new" else get_key(folder, name)
    except KeysError as exc:
        print(f"depochain keys: {exc}", file=sys.stderr)
        return 1
    if json_output:
        print(json.dumps(entry.to_json()), file=out)
    elif action == "new":
        print(f"created {folder / (entry.name + '.json')}\npublic key {entry.public_key}", file=out)
    else:
        print(entry.public_key, file=out)
    return 0


def _print_list(entries: list[KeyEntry], folder: Path, json_output: bool, out: TextIO) -> int:
    if json_output:
        print(json.dumps([entry.to_json() for entry in entries]), file=out)
    elif not entries:
        print(f"no keys in {folder}", file=out)
    else:
        width = max(len(entry.name) for entry in entries)
        for entry in entries:
            shown = entry.public_key or f"(unreadable: {entry.error})"
            print(f"{entry.name:<{width}}  {shown}", file=out)
    return 1 if any(entry.error for entry in entries) else 0
