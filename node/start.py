"""Running a node as a process (``depochain start``): logging, signals, and how it stops.

:func:`run_node` loads the home folder, sets up the log, assembles a :class:`node.app.Node` and
runs it until SIGINT/SIGTERM. Whatever stops it is reported once: a full disk (one line, exit
:data:`node.disk_space.EXIT_DISK_FULL`), an operating-system error such as a taken port (one
line, exit 1), anything else (``node_crashed`` with its traceback, exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from node.app import Node, NodeHome
from node.clock import system_clock_from_env
from node.disk_space import EXIT_DISK_FULL, describe_disk_full, is_disk_full
from node.failpoints import Failpoints
from node.gc_tuning import enlarge_young_generation, freeze_start_up_heap
from node.gc_watch import GcWatch
from node.logs import configure_logging, fields
from node.memtrace import start_if_asked as start_memtrace_if_asked
from node.statesync.join import needs_state_sync, run_state_sync
from node.statesync.restore import Phase, Progress, StateSyncFailed
from node.statesync.status_server import SyncingRpc

log = logging.getLogger("depochain.node")


async def _run_until_signalled(node: Node) -> None:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, main.cancel)
    gc_watch = GcWatch(node.loop_watch)
    gc_watch.install()
    frozen = freeze_start_up_heap()
    young = enlarge_young_generation()
    log.info(
        "start-up heap frozen: %d objects; young collections every %d allocations",
        frozen,
        young,
        extra=fields("gc_frozen"),
    )
    try:
        await node.run()
    except asyncio.CancelledError:
        log.info("stopping: signal received", extra=fields("node_stopping"))
    finally:
        gc_watch.uninstall()


def _run_profiled_if_asked(node: Node) -> None:
    """``DEPOCHAIN_PROFILE=FILE`` writes cProfile stats of the whole run (for developers)."""
    target = os.environ.get("DEPOCHAIN_PROFILE", "").replace(
        "{moniker}", node.home.config.node.moniker
    )
    if not target:
        asyncio.run(_run_until_signalled(node))
        return
    import cProfile
    import time

    # DEPOCHAIN_PROFILE_TIMER=cpu: count CPU, not time spent waiting (depochain bench --profile).
    cpu = os.environ.get("DEPOCHAIN_PROFILE_TIMER") == "cpu"
    profiler = cProfile.Profile(time.thread_time) if cpu else cProfile.Profile()
    try:
        profiler.runcall(asyncio.run, _run_until_signalled(node))
    finally:
        profiler.dump_stats(target)


def run_node(home_path: Path) -> int:
    """``depochain start``: run the node in ``home_path`` until SIGINT/SIGTERM. Once the log is
    set up, a failure is logged as one record (one JSON line in the json format: an OSError
    without its traceback, anything else with it), exit status 1, or EXIT_DISK_FULL when the
    disk filled up (at start or while running); refusals to start (a missing sign state, a
    locked store) are the caller's to report."""
    home = NodeHome.load(home_path)
    configure_logging(home.config.node, home.path)
    start_memtrace_if_asked(home.config.node.moniker)  # developers only: DEPOCHAIN_MEMTRACE
    failpoints = Failpoints.from_env(os.environ)  # read once: TEST-ONLY, none on a real node
    syncing = None
    if needs_state_sync(home):  # the RPC port shows the restore's progress meanwhile
        syncing = SyncingRpc(home, Progress())
        syncing.start()
        if not _join_by_state_sync(home, syncing.progress, failpoints):
            syncing.stop()
            return 1
    try:
        node = _open_node(home, failpoints)
    finally:
        if syncing is not None:
            syncing.stop()  # just before the node proper binds the port
    return node if isinstance(node, int) else _run_and_close(node)


def _join_by_state_sync(home: NodeHome, progress: Progress, failpoints: Failpoints) -> bool:
    try:
        asyncio.run(run_state_sync(home, progress, failpoints))
    except StateSyncFailed as exc:
        log.error("cannot start: %s", exc, extra=fields("statesync_failed"))
        return False
    progress.phase = Phase.STARTING
    return True


def _open_node(home: NodeHome, failpoints: Failpoints) -> Node | int:
    """The assembled node, or EXIT_DISK_FULL (logged) if the disk is full."""
    try:
        clock = system_clock_from_env(os.environ)  # TEST-ONLY skew when asked; else the system's
        return Node(home, clock=clock, failpoints=failpoints)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        log.critical(
            "cannot start: the disk is full (%s); free space and start again",
            describe_disk_full(exc),
            extra=fields("node_disk_full"),
        )
        return EXIT_DISK_FULL


def _report_failure(node: Node, exc: Exception) -> int:
    with contextlib.suppress(OSError):  # closing may need the disk too; the data is safe
        node.close()
    if is_disk_full(exc):
        log.critical(
            "stopping: the disk is full (%s); nothing was half written: free space "
            "and restart, the node catches up",
            describe_disk_full(exc),
            extra=fields("node_disk_full"),
        )
        return EXIT_DISK_FULL
    if isinstance(exc, OSError):  # a port taken, a disk failing: the operator's, no traceback
        log.error("node stopped: %s", exc, extra=fields("node_failed", reason=exc.strerror))
        return 1
    log.critical("node crashed", exc_info=exc, extra=fields("node_crashed"))
    return 1


def _run_and_close(node: Node) -> int:
    try:
        _run_profiled_if_asked(node)
    except Exception as exc:
        return _report_failure(node, exc)
    height = node.chain.height
    node.close()
    log.info("stopped cleanly at height %d", height, extra=fields("node_stopped", height=height))
    return 0
