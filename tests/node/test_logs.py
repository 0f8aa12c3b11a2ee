"""node.logs: the JSON line format and size-bounded rotation, on a real log file."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from node import start
from node.cli import main
from node.config import NodeSection, load_config, write_config
from node.logs import JsonFormatter, fields, make_handler, read_json_lines

REQUIRED_KEYS = {"time", "level", "node", "module", "event", "message"}


def make_record(message: str, extra: dict[str, object] | None = None) -> logging.LogRecord:
    logger = logging.getLogger("depochain.test")
    return logger.makeRecord(
        "depochain.test", logging.INFO, __file__, 1, message, (), None, extra=extra
    )


def test_a_json_line_carries_the_context_fields() -> None:
    extra = fields("block_committed", height=7, round=1, peer=b"\xab\xcd", tx_hash="ff")
    line = JsonFormatter("bank-a").format(make_record("committed block 7", extra))
    document = json.loads(line)
    assert "\n" not in line
    assert document.keys() >= REQUIRED_KEYS
    assert document["node"] == "bank-a" and document["module"] == "depochain.test"
    assert document["event"] == "block_committed" and document["level"] == "info"
    assert (document["height"], document["round"], document["peer"]) == (7, 1, "abcd")
    assert document["time"].endswith("Z") and document["time"][10] == "T"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter("n"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_a_record_without_fields_gets_a_stable_event_and_no_context() -> None:
    logger, capture = logging.getLogger("depochain.test.plain"), Capture()
    logger.addHandler(capture)
    try:
        logger.warning("plain %s", "text")
    finally:
        logger.removeHandler(capture)
    document = json.loads(capture.lines[0])
    assert document["message"] == "plain text" and document["level"] == "warning"
    assert (
        document["event"]
        == "test_logs.test_a_record_without_fields_gets_a_stable_event_and_no_context"
    )
    assert not {"height", "round", "peer", "tx_hash"} & document.keys()


def test_a_traceback_stays_on_one_line() -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record = make_record("failed")
        record.exc_info = sys.exc_info()
    line = JsonFormatter("n").format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["error"]


def test_the_log_file_rotates_at_its_size_bound(tmp_path: Path) -> None:
    bound = 4096
    section = NodeSection(
        chain_id="c",
        moniker="bank-a",
        log_format="json",
        log_file="logs/node.log",
        log_file_bytes_max=bound,
        log_file_backups=3,
    )
    handler = make_handler(section, tmp_path)
    try:
        for number in range(400):
            handler.handle(make_record(f"record {number}", fields("test", height=number)))
    finally:
        handler.close()
    files = sorted((tmp_path / "logs").iterdir())
    assert [path.name for path in files] == ["node.log", "node.log.1", "node.log.2", "node.log.3"]
    for path in files:
        assert path.stat().st_size <= bound, path
        assert all(set(r) >= REQUIRED_KEYS for r in read_json_lines(path.read_text()))
    # the newest records are in node.log, and no record was split across two files
    last = read_json_lines((tmp_path / "logs" / "node.log").read_text())[-1]
    assert last["height"] == 399


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_a_crash_is_one_json_record_with_its_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_root_logger: None,
) -> None:
    home = tmp_path / "node"
    assert (
        main(["init", "--home", str(home), "--chain-id", "c-1"]) == 0
    )  # never binds: crashes first
    config = load_config(home / "config.toml")
    section = dataclasses.replace(config.node, log_format="json")
    write_config(dataclasses.replace(config, node=section), home / "config.toml")
    capsys.readouterr()

    def crash(node: object) -> None:
        raise RuntimeError("a bug in the node")

    monkeypatch.setattr(start, "_run_profiled_if_asked", crash)
    assert main(["start", "--home", str(home)]) == 1
    records = read_json_lines(capsys.readouterr().err)
    (crashed,) = [r for r in records if r["event"] == "node_crashed"]
    assert crashed["level"] == "critical" and "RuntimeError: a bug" in crashed["error"]
