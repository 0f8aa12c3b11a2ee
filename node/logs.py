"""The node's log output: human text or one JSON object per line, to stderr or a rotated file.

``[node].log_format = "json"`` is for log pipelines: every line is one JSON object with
``time`` (RFC 3339, UTC, milliseconds), ``level``, ``node`` (the moniker), ``module`` (the
logger's name), ``event`` (a stable name of what happened), ``message`` (the text a person
reads), and, where the log site knows them, ``height``, ``round``, ``peer`` and ``tx_hash``.
Log sites pass those through ``extra=`` (:func:`fields` builds it), so the text format keeps
its sentences and the JSON format gets the same facts as typed fields.

``[node].log_file`` sends the output to a file that rotates at ``log_file_bytes_max`` with
``log_file_backups`` old files kept (``node.log.1`` …), so a node under a flood of refused
transactions cannot fill its disk with logs. Nothing here may raise into the node: a record
that cannot be encoded is written with its fields turned to strings.
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.handlers
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # only read: the log setup needs no part of the node at run time
    from node.config import NodeSection
CONTEXT_FIELDS = ("height", "round", "peer", "tx_hash", "code", "reason")
"""The ``extra=`` fields a JSON line carries when a log site sets them (also ``event``)."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def fields(
    event: str,
    *,
    height: int | None = None,
    round: int | None = None,
    peer: bytes | str | None = None,
    tx_hash: bytes | str | None = None,
    code: int | None = None,
    reason: str | None = None,
) -> dict[str, object]:
    """The ``extra=`` of a log call: an event name and the context fields that are known
    (keys as bytes are written in hex; keyword-only, so a misspelt field fails type checks)."""
    given = {"height": height, "round": round, "peer": peer, "tx_hash": tx_hash}
    given |= {"code": code, "reason": reason}
    extra: dict[str, object] = {"event": event}
    for name, value in given.items():
        if value is not None:
            extra[name] = value.hex() if isinstance(value, bytes) else value
    return extra


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (tracebacks go in the ``error`` field)."""

    def __init__(self, moniker: str) -> None:
        super().__init__()
        self._moniker = moniker

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": compute_rfc3339(record.created),
            "level": record.levelname.lower(),
            "node": self._moniker,
            "module": record.name,
            "event": getattr(record, "event", None) or compute_default_event(record),
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                document[name] = value
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False, separators=(",", ":"))


def compute_json_line(node: str, module: str, event: str, message: str, time_s: float) -> str:
    """One JSON log line written by a tool beside a node's own (e.g. the localnet's banner),
    so a JSON-format log file stays one object per line."""
    document = {"time": compute_rfc3339(time_s), "level": "info", "node": node}
    document |= {"module": module, "event": event, "message": message}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def compute_rfc3339(created_s: float) -> str:
    moment = datetime.datetime.fromtimestamp(created_s, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def compute_default_event(record: logging.LogRecord) -> str:
    """A stable name for a log site that set none: its module and function."""
    return f"{record.module}.{record.funcName}"


def make_handler(section: NodeSection, base: Path, stream: TextIO | None = None) -> logging.Handler:
    """The handler ``section`` asks for; a relative ``log_file`` lives under ``base`` (home)."""
    handler: logging.Handler
    if section.log_file:
        path = Path(section.log_file).expanduser()
        path = path if path.is_absolute() else base / path
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path,
            maxBytes=section.log_file_bytes_max,
            backupCount=section.log_file_backups,
            encoding="utf-8",
        )
    else:
        handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    if section.log_format == "json":
        handler.setFormatter(JsonFormatter(section.moniker))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at each record (a test may swap it meanwhile)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure_logging(section: NodeSection, base: Path) -> None:
    """Install the handler the config asks for on the root logger, replacing the one an
    earlier call installed (handlers others added, such as a test runner's, stay)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "is_depochain", False):
            root.removeHandler(old)
            old.close()
    handler = make_handler(section, base)
    handler.is_depochain = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, section.log_level.upper(), logging.INFO))


def read_json_lines(text: str) -> list[Mapping[str, Any]]:
    """Every line of a JSON-format log, parsed (raises ValueError on a line that is not)."""
    records: list[Mapping[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError(f"line {number} is not a JSON object: {line!r}")
        records.append(record)
    return records
