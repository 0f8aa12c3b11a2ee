"""The nemesis's cluster: a fresh 4-validator localnet run as separate node processes.

With root and ``ip`` each node runs in a network namespace of its own (``NetnsLab``): P2P and
RPC bound to the host's own address on a bridge, so partitions act on real links. Otherwise the
nodes share 127.0.0.1 and :attr:`NemesisCluster.netns_reason` says why (network faults are then
skipped with that reason).

Every stop of a node is recorded with the exit status that was expected of it (SIGKILL when the
nemesis kills it, 0 after SIGTERM, 74 after a full disk); an exit nobody caused, or a status
other than the expected one, is an unclean exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from node.config import NodeConfig, load_config, write_config
from node.home import CONFIG_FILE
from node.localnet import LocalnetInfo, prepare_localnet
from node.localnet.netns import NetnsError, NetnsLab, get_unavailable_reason

VALIDATORS = 4
HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
POLL_S = 0.1
UNCLEAN_MARKERS = ("Traceback", "node_crashed", "node crashed")


@dataclass
class ExitRecord:
    node: int
    code: int
    expected: tuple[int, ...]

    @property
    def clean(self) -> bool:
        return self.code in self.expected


@dataclass
class NodeProcess:
    index: int
    home: Path
    url: str
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0
    """Size of the log when the current fault began (log checks read what came after)."""

    @property
    def log_path(self) -> Path:
        return self.home / "node.log"

    def read_log(self, since: int = 0) -> str:
        with contextlib.suppress(FileNotFoundError), open(self.log_path, "rb") as handle:
            handle.seek(since)
            return handle.read().decode(errors="replace")
        return ""


def find_base_port() -> int:
    """A base port whose P2P and RPC ports are free on 127.0.0.1, below the ephemeral range."""
    import socket

    for base in range(20000 + (os.getpid() % 50) * 200, 32000, 200):
        ports = [base + 10 * i + offset for i in range(VALIDATORS) for offset in (0, 1)]
        free = True
        for port in ports:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    free = False
                    break
        if free:
            return base
    raise RuntimeError("no free port range for the nemesis cluster")


@dataclass
class NemesisCluster:
    home: Path
    use_netns: bool = True
    info: LocalnetInfo = field(init=False)
    nodes: list[NodeProcess] = field(init=False)
    lab: NetnsLab | None = field(init=False, default=None)
    netns_reason: str | None = field(init=False, default=None)
    exits: list[ExitRecord] = field(default_factory=list)
    disk_node: int = VALIDATORS - 1
    """The node whose data may live on a small disk (the full-disk fault's victim)."""

    def __post_init__(self) -> None:
        self.info, _ = prepare_localnet(
            self.home, validators=VALIDATORS, base_port=find_base_port()
        )
        self.netns_reason = get_unavailable_reason() if self.use_netns else "disabled (--no-netns)"
        hosts = ["127.0.0.1"] * VALIDATORS
        if self.netns_reason is None:
            try:
                self.lab = NetnsLab(VALIDATORS).__enter__()
                hosts = [host.address for host in self.lab.hosts]
            except NetnsError as exc:
                self.netns_reason, self.lab = f"network namespaces failed: {exc}", None
        self._bind_to(hosts)
        self.nodes = [
            NodeProcess(i, node.home, f"http://{hosts[i]}:{node.rpc_port}")
            for i, node in enumerate(self.info.nodes)
        ]

    def _bind_to(self, hosts: list[str]) -> None:
        """Each node listens (P2P and RPC) on its host's address and dials its peers there."""
        by_port = {node.p2p_port: hosts[i] for i, node in enumerate(self.info.nodes)}

        def peer(text: str) -> str:
            key, address = text.split("@", 1)
            port = int(address.rsplit(":", 1)[1])
            return f"{key}@{by_port.get(port, '127.0.0.1')}:{port}"

        for index, node in enumerate(self.info.nodes):
            peers = tuple(
                peer(p) for p in load_config(node.home / CONFIG_FILE).p2p.persistent_peers
            )

            def change(
                config: NodeConfig, i: int = index, dial: tuple[str, ...] = peers
            ) -> NodeConfig:
                p2p = dataclasses.replace(config.p2p, listen_host=hosts[i], persistent_peers=dial)
                rpc = dataclasses.replace(config.rpc, listen_host=hosts[i])
                return dataclasses.replace(config, p2p=p2p, rpc=rpc)

            self.edit_config(index, change)

    def edit_config(self, index: int, change: object) -> None:
        path = self.info.nodes[index].home / CONFIG_FILE
        write_config(change(load_config(path)), path)  # type: ignore[operator]

    def data_path(self, index: int) -> Path:
        home = self.info.nodes[index].home
        return load_config(home / CONFIG_FILE).get_data_path(home)

    # -- processes -----------------------------------------------------------------------------

    def start(self, index: int, env: dict[str, str] | None = None) -> None:
        node = self.nodes[index]
        argv = [sys.executable, "-m", "node.cli", "start", "--home", str(node.home)]
        environment = {**os.environ, **(env or {})}
        with open(node.log_path, "ab") as log:
            if self.lab is not None:
                node.process = self.lab.spawn(index, argv, log, env=environment)
            else:
                node.process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, env=environment,
                    start_new_session=True,
                )  # fmt: skip

    def start_all(self) -> None:
        for index in range(VALIDATORS):
            self.start(index)
        for index in range(VALIDATORS):
            self.wait_healthy(index)

    def is_running(self, index: int) -> bool:
        process = self.nodes[index].process
        return process is not None and process.poll() is None

    def wait_healthy(self, index: int, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.is_running(index):
                raise RuntimeError(f"node {index} exited:\n{self.log_tail(index)}")
            url = self.nodes[index].url + "/api/v1/status"
            with (
                contextlib.suppress(OSError, urllib.error.URLError, ValueError),
                urllib.request.urlopen(url, timeout=5),
            ):
                return
            time.sleep(POLL_S)
        raise TimeoutError(f"node {index} not healthy:\n{self.log_tail(index)}")

    def send(self, index: int, signum: int) -> None:
        process = self.nodes[index].process
        if process is not None and process.poll() is None:
            process.send_signal(signum)

    def stop(self, index: int, signum: int = signal.SIGTERM, expected: tuple[int, ...] = ()) -> int:
        """Send ``signum`` and wait for the exit; recorded as clean if its status is expected
        (by default: -signum, or 0 after SIGTERM)."""
        node = self.nodes[index]
        process = node.process
        if process is None:
            return 0
        self.send(index, signal.SIGCONT)  # a paused node cannot act on SIGTERM
        self.send(index, signum)
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        allowed = expected or ((0, -signal.SIGTERM) if signum == signal.SIGTERM else (-signum,))
        self.exits.append(ExitRecord(index, code, allowed))
        node.process = None
        return code

    def wait_exit(self, index: int, expected: tuple[int, ...], timeout_s: float) -> int | None:
        """Wait for a node to exit by itself; its status (recorded), or None if it did not."""
        node = self.nodes[index]
        deadline = time.monotonic() + timeout_s
        while node.process is not None and time.monotonic() < deadline:
            code = node.process.poll()
            if code is not None:
                self.exits.append(ExitRecord(index, code, expected))
                node.process = None
                return code
            time.sleep(POLL_S)
        return None

    def reap_unexpected(self) -> list[ExitRecord]:
        """Nodes that exited while nobody stopped them: recorded as unclean exits."""
        found = []
        for node in self.nodes:
            if node.process is not None and (code := node.process.poll()) is not None:
                found.append(ExitRecord(node.index, code, ()))
                node.process = None
        self.exits.extend(found)
        return found

    def mark_logs(self) -> None:
        for node in self.nodes:
            node.log_offset = node.log_path.stat().st_size if node.log_path.exists() else 0

    def unclean_log_lines(self) -> dict[int, list[str]]:
        """node -> its lines since :meth:`mark_logs` that show an unhandled failure."""
        found: dict[int, list[str]] = {}
        for node in self.nodes:
            for line in node.read_log(node.log_offset).splitlines():
                if any(marker in line for marker in UNCLEAN_MARKERS):
                    found.setdefault(node.index, []).append(f"node {node.index}: {line[:300]}")
        return found

    def log_tail(self, index: int, lines: int = 20) -> str:
        return "\n".join(self.nodes[index].read_log().splitlines()[-lines:])

    def close(self) -> None:
        for index in range(VALIDATORS):
            if self.nodes[index].process is not None:
                self.stop(index)
        if self.lab is not None:
            try:
                self.lab.close()
            except NetnsError:  # a veth still going away with its namespace: once more
                time.sleep(1.0)
                with contextlib.suppress(NetnsError):
                    self.lab.close()
            self.lab = None
