"""``depochain bench statesync``: how fast an empty node joins a large chain by state sync.

Builds a 4-validator localnet (node.bench.statesync_setup) that takes a snapshot every
``--interval`` heights; opens ``--accounts`` accounts by transactions; runs the chain to
``--blocks`` (timing the validators' live commit rate); then starts an empty fifth node with
state sync and watches it through its ``/status``, which shows the restore's phases. Prints:

- time to join: from the joiner's start to its state installed, to its node up, to the tip;
- the restore's phases (discover and prove, fetch, verify, install) as ``/status`` showed them;
- the block-sync catch-up rate after the install beside the validators' live commit rate,
  measured over the same minutes (and over the build);
- whether the joiner's app hash equals the validators' at the height it reached.

Real processes, sockets and LevelDB; the machine's load average is printed with the figures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.bench.statesync_setup import (
    BenchChain,
    ChainSettings,
    open_accounts,
    prepare,
    sign_account_opens,
)
from node.localnet.run import Cluster, read_log_tail

POLL_S = 0.5
START_TIMEOUT_S = 900.0


@dataclass(frozen=True, slots=True)
class StateSyncBenchArgs:
    accounts: int
    blocks: int
    interval: int
    chunk_bytes: int
    timeout_commit_ms: int
    base_port: int
    workdir: Path | None
    json_output: bool
    join_timeout_s: float = 7200.0
    """Longest wait for the accounts, the blocks, the restore and the catch-up, each."""


def _rpc(url: str, method: str, params: dict[str, Any] | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        document = json.loads(answer.read())
    if "error" in document:
        raise ValueError(f"{method}: {document['error']}")
    return document["result"]


def _height(url: str) -> int:
    return int(_rpc(url, "status")["sync_info"]["latest_block_height"])


def _wait_height(url: str, height: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        current = _height(url)
        if current >= height:
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} at height {current}, wanted {height}")
        time.sleep(POLL_S)


@dataclass
class JoinWatch:
    """What the joiner's /status showed, with the monotonic time of each first sighting."""

    started: float
    phases: dict[str, float]
    node_up: float = 0.0
    height_up: int = 0


def _watch_restore(
    joiner: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float
) -> JoinWatch:
    """Poll the joiner's /status until the node proper answers it (no ``state_sync``)."""
    watch = JoinWatch(time.monotonic(), {})
    deadline = watch.started + timeout_s
    while time.monotonic() < deadline:
        if joiner.poll() is not None:
            raise RuntimeError(f"the joiner exited: {read_log_tail(log)}")
        try:
            sync = _rpc(url, "status")["sync_info"]
        except (OSError, ValueError, KeyError):
            time.sleep(POLL_S)  # the port is closed before the restore and between servers
            continue
        progress = sync.get("state_sync")
        now = time.monotonic()
        if progress is None:
            watch.node_up, watch.height_up = now, int(sync["latest_block_height"])
            return watch
        watch.phases.setdefault(progress["phase"], now)
        time.sleep(POLL_S)
    raise TimeoutError(f"the joiner did not finish its restore: {read_log_tail(log)}")


def _wait_caught_up(
    chain: BenchChain, joiner: subprocess.Popen[bytes], timeout_s: float
) -> tuple[float, int]:
    """When the joiner first reaches the validators' height of that moment, and that height."""
    deadline = time.monotonic() + timeout_s
    validator = chain.info.nodes[0].rpc_url
    while time.monotonic() < deadline:
        if joiner.poll() is not None:
            log = chain.joiner_home / "node.log"
            raise RuntimeError(f"the joiner exited: {read_log_tail(log)}")
        ours, theirs = _height(chain.joiner_rpc_url), _height(validator)
        if ours >= theirs:
            return time.monotonic(), ours
        time.sleep(POLL_S)
    raise TimeoutError("the joiner did not catch up")


def _start_joiner(home: Path) -> subprocess.Popen[bytes]:
    with open(home / "node.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "node.cli", "start", "--home", str(home)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _build(chain: BenchChain, args: StateSyncBenchArgs, figures: dict[str, Any]) -> None:
    """Open the accounts and run the chain to ``args.blocks``, timing it."""
    url = chain.info.nodes[0].rpc_url
    _wait_height(url, 2, START_TIMEOUT_S)
    signed = sign_account_opens(chain.info, args.accounts)
    first, start_height = time.monotonic(), _height(url)
    opened_s = open_accounts(chain.info, signed, args.join_timeout_s)
    figures["accounts_open_s"] = round(opened_s, 1)
    opened_at = figures["height_after_accounts"] = _height(url)
    # The joiner must find a snapshot that holds every account: one taken after the last opened.
    first_full_snapshot = (opened_at // args.interval + 1) * args.interval + 1
    _wait_height(url, max(args.blocks, first_full_snapshot), 10 * args.join_timeout_s)
    top = _height(url)
    figures["build_blocks_per_s"] = round((top - start_height) / (time.monotonic() - first), 2)
    figures["height_at_join"] = top


def _join(chain: BenchChain, timeout_s: float, figures: dict[str, Any]) -> None:
    validator = chain.info.nodes[0].rpc_url
    joiner = _start_joiner(chain.joiner_home)
    try:
        live_from = (time.monotonic(), _height(validator))
        log = chain.joiner_home / "node.log"
        watch = _watch_restore(joiner, chain.joiner_rpc_url, log, timeout_s)
        done_at, reached = _wait_caught_up(chain, joiner, timeout_s)
        live_to = (time.monotonic(), _height(validator))
        _record_join(figures, watch, log, done_at, reached)
        live = (live_to[1] - live_from[1]) / max(live_to[0] - live_from[0], 1e-3)
        figures["live_blocks_per_s"] = round(live, 2)
        figures["ratio_catch_up_to_live"] = round(figures["catch_up_blocks_per_s"] / live, 2)
        ours = _app_hash(chain.joiner_rpc_url, reached)
        figures["same_app_hash"] = ours == _app_hash(validator, reached)
    finally:
        _stop(joiner)


INSTALLED = re.compile(
    r"installed the state of height (\d+) \((\d+) chunks, (\d+) accounts\) in ([\d.]+) s"
)
"""The joiner's log line once its restore is installed (the figures /status may show only
briefly: a small state verifies between two polls)."""


def _record_join(
    figures: dict[str, Any], watch: JoinWatch, log: Path, done_at: float, reached: int
) -> None:
    installed = INSTALLED.search(log.read_text(errors="replace"))
    if installed is None:
        raise RuntimeError(f"the joiner logged no installed state: {read_log_tail(log)}")
    figures["snapshot_height"] = int(installed[1])
    figures["chunks"] = int(installed[2])
    figures["accounts_restored"] = int(installed[3])
    figures["restore_s"] = float(installed[4])
    start = watch.started
    figures["phases_first_seen_s"] = {
        name: round(at - start, 1) for name, at in watch.phases.items()
    }
    figures["node_up_s"] = round(watch.node_up - start, 1)
    figures["join_to_tip_s"] = round(done_at - start, 1)
    figures["blocks_synced"] = reached - watch.height_up
    rate = (reached - watch.height_up) / max(done_at - watch.node_up, 1e-3)
    figures["catch_up_blocks_per_s"] = round(rate, 2)


def _app_hash(url: str, height: int) -> str:
    return str(_rpc(url, "block", {"height": str(height)})["block"]["header"]["app_hash"])


def run_bench(args: StateSyncBenchArgs) -> dict[str, Any]:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="depochain-bench-statesync-"))
    settings = ChainSettings(
        args.interval, args.chunk_bytes, args.timeout_commit_ms, int(args.join_timeout_s)
    )
    chain = prepare(workdir, args.base_port, settings)
    figures: dict[str, Any] = {"accounts": args.accounts, "blocks": args.blocks,
                               "interval": args.interval,
                               "timeout_commit_ms": args.timeout_commit_ms}  # fmt: skip
    cluster = Cluster(chain.info)
    try:
        cluster.start()
        cluster.wait_healthy(START_TIMEOUT_S, threading.Event())
        _build(chain, args, figures)
        _join(chain, args.join_timeout_s, figures)
    finally:
        cluster.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    figures["load_average_1m"] = round(os.getloadavg()[0], 1)
    return figures


def main(args: StateSyncBenchArgs) -> int:
    figures = run_bench(args)
    if args.json_output:
        print(json.dumps(figures, indent=1))
        return 0
    for name, value in figures.items():
        print(f"{name:>26}: {value}")
    return 0
