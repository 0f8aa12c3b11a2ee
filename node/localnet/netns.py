"""Hosts on one machine: one Linux network namespace per node, each with its own IP address.

Real multi-host TCP without the hosts: every node gets a namespace (``ip netns``) holding one
end of a veth pair whose other end is a port of a bridge in the root namespace, plus its own
loopback. Nodes then listen on the same ports at different addresses, dial each other by
address, and keep their RPC on the namespace's own 127.0.0.1, as separate hosts would.

Faults for partitions: :meth:`NetnsLab.cut` drops all traffic between two hosts (a blackhole
route each way; open connections stall, as on a real link cut) and :meth:`NetnsLab.heal` lifts
it; :meth:`NetnsLab.isolate` takes a host's link down, :meth:`NetnsLab.rejoin` brings it up.

Needs root and iproute2. :func:`get_unavailable_reason` says why a lab cannot run here (tests
skip with it). Names carry the creating process id (``dc<pid>-…``, at most 15 characters, the
kernel's limit), so :func:`remove_stale` can delete what a crashed run left behind without
touching the namespaces of another run still alive. :meth:`NetnsLab.close` deletes everything
the lab made, also after a failure; processes started in a namespace must be stopped first.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

IP_TIMEOUT_S = 10.0
SUBNET_POOL = ipaddress.IPv4Network("10.213.0.0/16")
"""Each lab takes a free /24 from here; the bridge is .1, host i is .(i + 2)."""
HOSTS_MAX = 200
_NAME_RE = re.compile(r"dc(\d+)-(n\d+|v\d+|i\d+|br)")


class NetnsError(Exception):
    """An ``ip`` command failed; the message carries its output."""


@dataclass(frozen=True, slots=True)
class NetnsHost:
    index: int
    namespace: str
    address: str
    """The host's IPv4 address on the lab's bridge."""
    veth: str
    """The root-namespace end of the host's link (down = the host is isolated)."""


def run_ip(*args: str, namespace: str | None = None) -> str:
    """Run ``ip ARGS`` (inside ``namespace`` if given); its stdout, or NetnsError."""
    argv = ["ip", *args] if namespace is None else ["ip", "netns", "exec", namespace, "ip", *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=IP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def get_unavailable_reason() -> str | None:
    """None when labs can run here; else why not (for a skip message)."""
    if os.geteuid() != 0:
        return "network namespaces need root (run as root, as CI does)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is missing (`make tools` installs it)"
    probe = f"dc{os.getpid()}-n999"
    try:
        run_ip("netns", "add", probe)
        run_ip("netns", "del", probe)
    except NetnsError as exc:
        return f"cannot create a network namespace here: {exc}"
    return None


def is_process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Delete namespaces and links of labs whose process is gone; the names deleted."""
    removed = []
    namespaces = [line.split()[0] for line in run_ip("netns", "list").splitlines() if line]
    links = [name for name in os.listdir("/sys/class/net") if _NAME_RE.fullmatch(name) is not None]
    for name in [*namespaces, *links]:
        match = _NAME_RE.fullmatch(name)
        if match is None or is_process_alive(int(match.group(1))):
            continue
        try:
            run_ip("netns", "del", name) if name in namespaces else run_ip("link", "del", name)
        except NetnsError:
            continue  # a veth went with its namespace
        removed.append(name)
    return removed


def delete_link(name: str) -> None:
    """Delete link ``name``; one that vanishes meanwhile is fine. The kernel tears down a
    deleted namespace's devices asynchronously, so a host-side veth listed a moment after
    ``netns del`` may be gone by the time ``link del`` reaches it."""
    try:
        run_ip("link", "del", name)
    except NetnsError:
        if Path(f"/sys/class/net/{name}").exists():
            raise


def choose_subnet() -> ipaddress.IPv4Network:
    """A /24 of SUBNET_POOL that no route of this machine uses yet; the search starts at one
    derived from the process id, so two labs created at the same moment pick different ones."""
    used = run_ip("-4", "route", "show")
    subnets = list(SUBNET_POOL.subnets(new_prefix=24))
    start = os.getpid() % len(subnets)
    for subnet in subnets[start:] + subnets[:start]:
        if f"{subnet.network_address}/24" not in used:
            return subnet
    raise NetnsError(f"no free /24 left in {SUBNET_POOL}")


class NetnsLab:
    """``count`` hosts on one bridge; a context manager that always cleans up."""

    def __init__(self, count: int) -> None:
        if not 1 <= count <= HOSTS_MAX:
            raise ValueError(f"count must be in 1..{HOSTS_MAX}")
        self.prefix = f"dc{os.getpid()}"
        self.bridge = f"{self.prefix}-br"
        self.count = count
        self.hosts: list[NetnsHost] = []
        self.subnet: ipaddress.IPv4Network | None = None

    def __enter__(self) -> NetnsLab:
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def create(self) -> None:
        remove_stale()
        self.subnet = choose_subnet()
        addresses = list(self.subnet.hosts())
        run_ip("link", "add", self.bridge, "type", "bridge")
        run_ip("addr", "add", f"{addresses[0]}/24", "dev", self.bridge)
        run_ip("link", "set", self.bridge, "up")
        for index in range(self.count):
            self.hosts.append(self._add_host(index, str(addresses[index + 1])))

    def _add_host(self, index: int, address: str) -> NetnsHost:
        host = NetnsHost(index, f"{self.prefix}-n{index}", address, f"{self.prefix}-v{index}")
        inner = f"{self.prefix}-i{index}"
        run_ip("netns", "add", host.namespace)
        run_ip("link", "add", host.veth, "type", "veth", "peer", "name", inner)
        run_ip("link", "set", inner, "netns", host.namespace)
        run_ip("link", "set", host.veth, "master", self.bridge)
        run_ip("link", "set", host.veth, "up")
        run_ip("addr", "add", f"{address}/24", "dev", inner, namespace=host.namespace)
        run_ip("link", "set", inner, "up", namespace=host.namespace)
        run_ip("link", "set", "lo", "up", namespace=host.namespace)
        return host

    def close(self) -> None:
        """Delete every namespace and link of this lab (their veths go with them)."""
        names = [f"{self.prefix}-n{index}" for index in range(self.count)]
        existing = run_ip("netns", "list")
        for name in names:
            if re.search(rf"^{re.escape(name)}\b", existing, re.MULTILINE):
                run_ip("netns", "del", name)
        for link in sorted(os.listdir("/sys/class/net")):
            if link.startswith(f"{self.prefix}-"):
                delete_link(link)  # the bridge, and a veth left by a failed create
        self.hosts = []

    # -- running commands on a host -----------------------------------------------------------

    def wrap(self, index: int, argv: Sequence[str]) -> list[str]:
        """``argv`` as run on host ``index``."""
        return ["ip", "netns", "exec", self.hosts[index].namespace, *argv]

    def spawn(self, index: int, argv: Sequence[str], output: IO[Any], **options: Any) -> Any:
        """Start ``argv`` on host ``index`` in a session of its own (so a signal to its
        process group reaches every process it starts); stdout and stderr to ``output``."""
        return subprocess.Popen(
            self.wrap(index, argv),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **options,
        )

    # -- faults --------------------------------------------------------------------------------

    def cut(self, a: int, b: int) -> None:
        """Drop every packet between hosts ``a`` and ``b``, both ways."""
        for src, dst in ((a, b), (b, a)):
            route = f"{self.hosts[dst].address}/32"
            run_ip("route", "add", "blackhole", route, namespace=self.hosts[src].namespace)

    def heal(self, a: int, b: int) -> None:
        for src, dst in ((a, b), (b, a)):
            route = f"{self.hosts[dst].address}/32"
            run_ip("route", "del", "blackhole", route, namespace=self.hosts[src].namespace)

    def isolate(self, index: int) -> None:
        run_ip("link", "set", self.hosts[index].veth, "down")

    def rejoin(self, index: int) -> None:
        run_ip("link", "set", self.hosts[index].veth, "up")
