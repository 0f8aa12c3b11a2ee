"""The validator's last-signed state on disk: the node's memory of what it must never re-sign.

The replica emits ``PersistSignState(state)`` before the ``Broadcast`` of the signature it covers;
the driver calls :meth:`SignStateFile.persist` and only then sends. ``persist`` writes a temp
file, fsyncs it, renames it over the old one and fsyncs the folder (:mod:`node.durable`), so
after a crash at any point the file holds either the old state or the new one, never a mix; a
failed fsync raises, and the signature is never sent.

What it must never do: treat a damaged (or, for a validator with history, missing) file as
"nothing signed yet". Starting from zero would let the validator sign a second, different vote
at a height it already voted on (equivocation, which the other banks will prove and punish). A
corrupt file stops the node with a clear error; a missing one is rebuilt from the WAL or stops
it too (:mod:`node.sign_state_recovery`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from consensus import codec
from consensus.crypto import sha256
from consensus.safety import DoubleSignRefused, SignState
from node import durable
from node.errors import NodeError
from node.failpoints import Failpoint, Failpoints

FILE_BYTES_MAX = 4096
_FIELDS = ("height", "round", "step", "sign_bytes_hash", "checksum")

log = logging.getLogger("depochain.signer")


class SignStateError(NodeError):
    """The sign-state file cannot be trusted; the node must not sign until an operator looks."""


class SignStateCorruptError(SignStateError):
    """The file exists but does not hold a valid, checksummed state."""


class SignStateMissingError(SignStateError):
    """No file, and the validator's history says it may have signed: it must not start."""


def encode_sign_state_file(state: SignState) -> bytes:
    """The file's bytes: readable JSON with a sha256 checksum over the canonical encoding."""
    document = {
        "height": state.height,
        "round": state.round,
        "step": int(state.step),
        "sign_bytes_hash": None if state.sign_bytes_hash is None else state.sign_bytes_hash.hex(),
        "checksum": sha256(state.encode()).hex(),
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def decode_sign_state_file(data: bytes, name: str) -> SignState:
    """Parse and verify a sign-state file; raise SignStateCorruptError on anything wrong."""
    try:
        document = json.loads(data.decode("utf-8"))
        state = _state_from_document(document)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError) as exc:
        raise SignStateCorruptError(_corrupt_message(name, str(exc))) from exc
    if sha256(state.encode()).hex() != document["checksum"]:
        raise SignStateCorruptError(_corrupt_message(name, "checksum does not match"))
    return state


def _state_from_document(document: Any) -> SignState:
    if type(document) is not dict or sorted(document) != sorted(_FIELDS):
        raise ValueError(f"expected exactly the fields {', '.join(_FIELDS)}")
    digest = document["sign_bytes_hash"]
    if type(document["checksum"]) is not str:
        raise ValueError("checksum must be a hex string")
    wire = [
        document["height"],
        document["round"],
        document["step"],
        None if digest is None else bytes.fromhex(_expect_str(digest)),
    ]
    try:
        return SignState.from_wire(wire)
    except codec.CodecError as exc:
        raise ValueError(str(exc)) from exc


def _expect_str(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("sign_bytes_hash must be a hex string or null")
    return value


def _corrupt_message(name: str, reason: str) -> str:
    return (
        f"sign-state file {name} is corrupt ({reason}). Refusing to start: resetting it could "
        f"make this validator double-sign. Restore it from a backup, or, only if you are sure "
        f"this key never signed on this chain, delete it."
    )


class SignStateFile:
    """The persisted last-signed state at ``path`` (one writer: the node's driver).

    ``failpoints``: crash tests can stop the process before the rename or after a persist."""

    def __init__(
        self, path: str | os.PathLike[str], *, failpoints: Failpoints = Failpoints.NONE
    ) -> None:
        self.path = Path(path)
        self._failpoints = failpoints
        self._temp = durable.temp_path(self.path)
        self._last: SignState | None = None
        self._loaded = False

    def load(self) -> SignState | None:
        """The stored state, or None when no file exists. None means "never signed" only for
        a validator without history: start-up goes through
        :func:`node.sign_state_recovery.load_sign_state_at_start`, which decides.

        A leftover ``.tmp`` from a crash mid-persist is ignored: its signature never left."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            self._last, self._loaded = None, True
            return None
        if size > FILE_BYTES_MAX:
            raise SignStateCorruptError(_corrupt_message(str(self.path), f"{size} bytes"))
        state = decode_sign_state_file(self.path.read_bytes(), str(self.path))
        self._last, self._loaded = state, True
        return state

    def persist(self, state: SignState) -> None:
        """Durably store ``state`` (temp file, fsync, atomic rename, fsync folder). Call it
        BEFORE the signature it covers leaves the process. Refuses to go backwards."""
        if not self._loaded:
            self.load()
        self._validate_progress(state)
        data = encode_sign_state_file(state)
        durable.write_file_synced(self._temp, data)
        self._failpoints.crash_if_active(Failpoint.BEFORE_SIGN_STATE_RENAME)
        durable.replace_durably(self._temp, self.path)
        self._last = state
        self._failpoints.crash_if_active(Failpoint.AFTER_SIGN_STATE_PERSIST)

    def _validate_progress(self, state: SignState) -> None:
        last = self._last
        if last is None:
            return
        here = (state.height, state.round, int(state.step))
        before = (last.height, last.round, int(last.step))
        if here < before:
            raise DoubleSignRefused(f"persisting {here} would go below the stored {before}")
        if here == before and state.sign_bytes_hash != last.sign_bytes_hash:
            raise DoubleSignRefused(f"conflicting sign-bytes at height/round/step {here}")


def forget_signatures_if_asked(
    sign_state_path: Path, wal_path: Path, failpoints: Failpoints
) -> bool:
    """TEST ONLY. With the ``forget_sign_state`` failpoint, delete the sign-state file and the
    WAL before anything reads them, and return True: the caller then starts the replica with an
    empty sign state, skipping every start-up check. The validator forgets what it signed and
    can sign conflicting messages, which is exactly what the cluster double-sign detector's
    proof test needs (an operator restoring a validator without these files). Otherwise False."""
    point = Failpoint.FORGET_SIGN_STATE
    if not failpoints.is_active(point):
        return False
    log.warning("failpoint %s: deleting the sign state and the WAL", point.env_name)
    sign_state_path.unlink(missing_ok=True)
    shutil.rmtree(wal_path, ignore_errors=True)
    return True
