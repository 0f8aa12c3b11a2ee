"""Run a generated localnet: one OS process per node, health checks, clean shutdown.

Every node runs as ``python -P -m node.cli start --home <node home>`` with this supervisor's own
interpreter and its own code: ``-P`` keeps the current directory off the module path (run from
another checkout, a plain ``-m`` would load that checkout's ``node``) and ``PYTHONPATH`` names
the folder this installation's ``node`` package was loaded from. Each node has its own session (so
a terminal's Ctrl-C reaches only this supervisor, which then stops the nodes in order), with
stdout and stderr appended to ``<node home>/node.log``. Shutdown is SIGTERM to each node, a grace
period, then SIGKILL for stragglers; every child is reaped before we return. On Linux the
children also get SIGTERM if the supervisor dies without cleaning up (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

import node as node_package
from node.config import load_config
from node.home import CONFIG_FILE
from node.localnet.generate import LocalnetInfo, NodeEndpoint, write_endpoints
from node.localnet.plan import ACCOUNTS_DIR, ENDPOINTS_FILE, PARTICIPANTS_DIR, LocalnetError
from node.logs import compute_json_line

NodeCommand = Callable[[Path], list[str]]
"""The argv that starts the node whose home is given (injectable for tests)."""

HEALTH_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
POLL_INTERVAL_S = 0.25
HEALTH_REQUEST_TIMEOUT_S = 1.0
LOG_TAIL_LINES = 20
_PR_SET_PDEATHSIG = 1


def default_node_command(home: Path) -> list[str]:
    return [sys.executable, "-P", "-m", "node.cli", "start", "--home", str(home)]


def compute_node_environment() -> dict[str, str]:
    """The nodes' environment: ours, with this installation's code first on PYTHONPATH."""
    code_root = str(Path(node_package.__file__).resolve().parents[1])  # the folder holding node/
    paths = [code_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1")


def compute_start_banner(endpoint: NodeEndpoint) -> str:
    """The line the supervisor writes in a node's log before starting it: a JSON object when
    the node logs JSON (so every line of the file parses), else a ==== line for people."""
    now = time.time()
    text = f"depochain localnet: starting {endpoint.moniker}"
    if load_config(endpoint.home / CONFIG_FILE).node.log_format == "json":
        line = compute_json_line(
            endpoint.moniker, "depochain.localnet", "localnet_starting", text, now
        )
        return line + "\n"
    return f"==== {text} at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now))}\n"


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived while the nodes were starting."""


# ---------------------------------------------------------------------------------------------
# ports and logs


def is_port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Can a listener bind ``host:port`` right now (with SO_REUSEADDR, as asyncio's does)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def find_busy_ports(info: LocalnetInfo) -> list[str]:
    """A line per port that another process holds, e.g. ``26657 (RPC of bank-a)``."""
    busy = []
    for node in info.nodes:
        for port, kind in ((node.p2p_port, "P2P"), (node.rpc_port, "RPC")):
            if not is_port_free(port):
                busy.append(f"{port} ({kind} of {node.moniker})")
    return busy


def read_log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    | {line}" for line in tail) if tail else "    | (empty log)"


def is_healthy(node: NodeEndpoint) -> bool:
    try:
        with urllib.request.urlopen(
            f"{node.rpc_url}/health", timeout=HEALTH_REQUEST_TIMEOUT_S
        ) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# the supervised processes


def _load_prctl() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def set_parent_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return set_parent_death_signal


@dataclass(slots=True)
class RunningNode:
    endpoint: NodeEndpoint
    process: subprocess.Popen[bytes]

    @property
    def is_alive(self) -> bool:
        return self.process.poll() is None


class Cluster:
    """The node processes of one localnet; owns them from ``start`` until ``stop`` returns."""

    def __init__(self, info: LocalnetInfo, command: NodeCommand = default_node_command) -> None:
        self.info = info
        self.command = command
        self.nodes: list[RunningNode] = []

    def start(self) -> None:
        preexec = _load_prctl()
        env = compute_node_environment()
        for endpoint in self.info.nodes:
            with open(endpoint.log_path, "ab") as log:
                log.write(compute_start_banner(endpoint).encode())
                log.flush()
                argv = self.command(endpoint.home)
                try:
                    process = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=preexec,  # single-threaded here, so preexec_fn is safe
                        env=env,
                    )
                except OSError as exc:
                    raise LocalnetError(
                        f"cannot start {endpoint.moniker} ({argv[0]}): {exc}"
                    ) from exc
            self.nodes.append(RunningNode(endpoint, process))
            self.write_pids()  # after each start: a failure later still leaves a true record

    def write_pids(self) -> None:
        """Record pids in endpoints.json (and the folder's current paths, should it have moved)."""
        pids = {n.endpoint.moniker: n.process.pid if n.is_alive else None for n in self.nodes}
        document = dict(self.info.document)
        document["nodes"] = [
            dict(entry, pid=pids.get(node.moniker), home=str(node.home), log=str(node.log_path))
            for entry, node in zip(document["nodes"], self.info.nodes, strict=True)
        ]
        write_endpoints(self.info.home, document)

    def wait_healthy(self, timeout_s: float, stop: threading.Event) -> None:
        """Return once every node answers /health; raise LocalnetError or Interrupted."""
        deadline = time.monotonic() + timeout_s
        pending = list(self.nodes)
        while pending:
            if stop.is_set():
                raise Interrupted()
            for node in list(pending):
                self.validate_alive(node, "before it became healthy")
                if is_healthy(node.endpoint):
                    pending.remove(node)
            if pending and time.monotonic() > deadline:
                late = pending[0].endpoint
                raise LocalnetError(
                    f"{late.moniker} did not answer GET {late.rpc_url}/health within "
                    f"{timeout_s:g} s; last lines of {late.log_path}:\n"
                    f"{read_log_tail(late.log_path)}"
                )
            if pending:
                stop.wait(POLL_INTERVAL_S)

    def validate_alive(self, node: RunningNode, when: str) -> None:
        code = node.process.poll()
        if code is not None:
            endpoint = node.endpoint
            raise LocalnetError(
                f"{endpoint.moniker} exited with code {code} {when}; last lines of "
                f"{endpoint.log_path}:\n{read_log_tail(endpoint.log_path)}"
            )

    def stop(self, grace_s: float = STOP_GRACE_S) -> dict[str, int]:
        """SIGTERM every node, wait up to ``grace_s``, SIGKILL the rest; return exit codes."""
        for node in self.nodes:
            _signal_group(node, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for node in self.nodes:
            try:
                node.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(node, signal.SIGKILL)
                node.process.wait()
        codes = {n.endpoint.moniker: n.process.returncode for n in self.nodes}
        with contextlib.suppress(OSError):
            self.write_pids()
        return codes


def _signal_group(node: RunningNode, signum: signal.Signals) -> None:
    if node.is_alive:  # not reaped yet, so its pid (= its process group) is still ours
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.process.pid, signum)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` instead of raising, while inside the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------------------
# the `localnet` run


def run_localnet(
    info: LocalnetInfo,
    *,
    command: NodeCommand = default_node_command,
    health_timeout_s: float = HEALTH_TIMEOUT_S,
    grace_s: float = STOP_GRACE_S,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Start every node, wait for health, supervise until a signal; 0 after a clean stop."""
    out = out or sys.stdout
    busy = find_busy_ports(info)
    if busy:
        print(
            f"depochain localnet: port {', '.join(busy)} already in use: is a localnet already "
            f"running? Stop it, or pass --base-port to use other ports.",
            file=sys.stderr,
        )
        return 1
    stop = stop or threading.Event()
    cluster = Cluster(info, command)
    with stop_on_signals(stop):
        try:
            cluster.start()
            cluster.wait_healthy(health_timeout_s, stop)
            print_running(info, cluster, out)
            supervise(cluster, stop)
            print("depochain localnet: stopping the nodes…", file=out, flush=True)
            return 0
        except Interrupted:
            print("depochain localnet: interrupted, stopping the nodes…", file=out, flush=True)
            return 130
        except LocalnetError as exc:
            print(f"depochain localnet: {exc}", file=sys.stderr)
            return 1
        finally:
            report_stopped(cluster.stop(grace_s), out)


def supervise(cluster: Cluster, stop: threading.Event) -> None:
    """Block until ``stop`` is set; raise LocalnetError if a node dies meanwhile."""
    while not stop.wait(POLL_INTERVAL_S * 2):
        for node in cluster.nodes:
            cluster.validate_alive(node, "while the localnet was running")


def report_stopped(codes: dict[str, int], out: TextIO) -> None:
    summary = ", ".join(f"{moniker} exit {code}" for moniker, code in codes.items())
    if summary:
        print(f"depochain localnet: all nodes stopped ({summary}).", file=out, flush=True)


def print_running(info: LocalnetInfo, cluster: Cluster, out: TextIO) -> None:
    lines = [f"DepoChain localnet '{info.chain_id}': {len(info.nodes)} validators are up.", ""]
    lines += [
        f"  {n.endpoint.moniker}  rpc {n.endpoint.rpc_url}  p2p 127.0.0.1:{n.endpoint.p2p_port}"
        f"  pid {n.process.pid}"
        for n in cluster.nodes
    ]
    first = info.nodes[0]
    lines += [
        "",
        f"  status:    curl -s {first.rpc_url}/status",
        f"  endpoints: {info.home / ENDPOINTS_FILE}",
        f"  keys:      {info.home / PARTICIPANTS_DIR}/ (bank operators), "
        f"{info.home / ACCOUNTS_DIR}/ (demo accounts)",
        f"  logs:      {info.home}/<node>/node.log, e.g. tail -f {first.log_path}",
        f"  stop:      Ctrl-C (or kill -TERM {os.getpid()}); run again to resume this chain, "
        "add --fresh to start over.",
        "",
    ]
    print("\n".join(lines), file=out, flush=True)


def print_generated(info: LocalnetInfo, generated: bool, out: TextIO) -> None:
    """What `localnet --no-start` prints: where things are and how to start."""
    verb = "Generated" if generated else "Reusing"
    lines = [f"{verb} localnet '{info.chain_id}' in {info.home} ({len(info.nodes)} validators):"]
    lines += [
        f"  {n.moniker}  rpc {n.rpc_url}  p2p 127.0.0.1:{n.p2p_port}  home {n.home}"
        for n in info.nodes
    ]
    lines += [
        f"  keys: {info.home / PARTICIPANTS_DIR}/, {info.home / ACCOUNTS_DIR}/; "
        f"endpoints: {info.home / ENDPOINTS_FILE}",
        f"Start all nodes: depochain localnet --home {info.home}",
        f"Or one node:     depochain start --home {info.nodes[0].home}",
    ]
    print("\n".join(lines), file=out, flush=True)
