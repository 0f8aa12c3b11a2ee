"""docs/deploy.md, word for word, on four hosts: four network namespaces with their own IPs.

The blocks of the guide marked ``<!-- tested: NAME -->`` are run as the guide says: keys and
a card on each bank's "host" (its own folder and address), the genesis at the coordinator,
join and start on each host (the node inside the host's namespace: P2P across the bridge, RPC
on the namespace's own 127.0.0.1), then the first payment on each host. Every bank's payment
must then show on all four nodes. Needs root and iproute2 (skips with the reason otherwise);
the namespaces and the bridge are deleted even when the test fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.localnet.netns import NetnsLab, get_unavailable_reason

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "deploy.md"
BANKS = (("bank-a", "BANK_A"), ("bank-b", "BANK_B"), ("bank-c", "BANK_C"), ("bank-d", "BANK_D"))
STEPS = ("bank-keys", "coordinator-genesis", "bank-join", "bank-start", "first-payment")
STEP_TIMEOUT_S = 240.0
UP_TIMEOUT_S = 120.0


def read_tested_blocks(text: str) -> dict[str, str]:
    """NAME -> shell text of every block the guide marks ``<!-- tested: NAME -->``."""
    pattern = re.compile(r"<!-- tested: ([a-z-]+) -->\n```sh\n(.*?)```", re.DOTALL)
    return {name: body for name, body in pattern.findall(text)}


@pytest.fixture
def lab() -> Iterator[NetnsLab]:
    reason = get_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with NetnsLab(len(BANKS)) as created:
        yield created


class Hosts:
    """The four banks' working folders and environments, and the coordinator's folder."""

    def __init__(self, root: Path, lab: NetnsLab) -> None:
        self.lab = lab
        self.coordinator = root / "coordinator"
        self.coordinator.mkdir()
        self.folders = [root / moniker for moniker, _ in BANKS]
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        self.envs = []
        for index, (moniker, bank_id) in enumerate(BANKS):
            self.folders[index].mkdir()
            home = self.folders[index] / "depochain-home"
            env = {**os.environ, "PATH": path, "BANK": moniker, "BANK_ID": bank_id}
            env |= {"HOST_IP": lab.hosts[index].address, "DEPOCHAIN_HOME": str(home)}
            self.envs.append(env)

    def run(self, block: str, index: int | None) -> str:
        """Run a guide block on bank ``index``'s host (None: the coordinator's)."""
        argv = ["bash", "-euo", "pipefail", "-c", block]
        if index is None:
            cwd, env = self.coordinator, {**os.environ, "PATH": self.envs[0]["PATH"]}
        else:
            cwd, env, argv = self.folders[index], self.envs[index], self.lab.wrap(index, argv)
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S
        )
        assert done.returncode == 0, (
            f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
        return done.stdout

    def copy(self, names: list[str], source: Path, targets: list[Path]) -> None:
        for target in targets:
            for name in names:
                shutil.copyfile(source / name, target / name)

    def query(self, index: int, *args: str) -> Any:
        """``depochain ARGS --json`` against the node on host ``index`` (its own 127.0.0.1)."""
        argv = self.lab.wrap(index, [sys.executable, "-m", "node.cli", *args, "--json"])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return json.loads(done.stdout) if done.returncode == 0 else None


def test_the_guide_runs_four_banks_on_four_hosts(lab: NetnsLab, tmp_path: Path) -> None:
    blocks = read_tested_blocks(GUIDE.read_text())
    assert tuple(blocks) == STEPS
    hosts, cards = Hosts(tmp_path, lab), [f"{moniker}.card.json" for moniker, _ in BANKS]
    for index in range(len(BANKS)):
        hosts.run(blocks["bank-keys"], index)
    for index, folder in enumerate(hosts.folders):
        hosts.copy([cards[index]], folder, [hosts.coordinator])
    built = hosts.run(blocks["coordinator-genesis"], None)
    hosts.copy([*cards, "genesis.json"], hosts.coordinator, hosts.folders)
    for index in range(len(BANKS)):
        joined = hosts.run(blocks["bank-join"], index)
        assert built.split("sha256 ")[1].split()[0] in joined  # the hash the banks compare
    nodes = []
    try:
        for index, folder in enumerate(hosts.folders):
            argv = ["bash", "-euo", "pipefail", "-c", blocks["bank-start"]]
            with open(folder / "node.out", "wb") as output:
                nodes.append(lab.spawn(index, argv, output, cwd=folder, env=hosts.envs[index]))
        wait_for_blocks(hosts, nodes)
        pay_on_every_host(hosts, blocks["first-payment"])
        for index in range(len(BANKS)):
            for _, bank_id in BANKS:
                account = hosts.query(index, "query", "account", f"{bank_id}/bob")
                assert account is not None, f"node {index} does not know {bank_id}/bob"
                assert account["balances"] == [
                    {"instrument_id": f"{bank_id}:USD", "total": 2500, "frozen": 0, "held": 0,
                     "free": 2500}
                ]  # fmt: skip
        assert_peers_dialled_by_address(hosts)
    finally:
        stop(nodes)
    assert [node.returncode for node in nodes] == [0, 0, 0, 0], [
        (folder / "node.out").read_text()[-2000:] for folder in hosts.folders
    ]


def wait_for_blocks(hosts: Hosts, nodes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + UP_TIMEOUT_S
    pending = set(range(len(nodes)))
    while pending:
        for index in sorted(pending):
            assert nodes[index].poll() is None, (hosts.folders[index] / "node.out").read_text()
            status = hosts.query(index, "status")
            if status is not None and int(status["sync_info"]["latest_block_height"]) >= 2:
                pending.discard(index)
        assert time.monotonic() < deadline, f"hosts {sorted(pending)} made no blocks"
        time.sleep(0.5)


def pay_on_every_host(hosts: Hosts, block: str) -> None:
    """The first payment on the four hosts at once (each bank on its own node)."""
    argv = ["bash", "-euo", "pipefail", "-c", block]
    running = []
    for index, folder in enumerate(hosts.folders):
        with open(folder / "payment.out", "wb") as output:
            running.append(hosts.lab.spawn(index, argv, output, cwd=folder, env=hosts.envs[index]))
    for index, process in enumerate(running):
        code = process.wait(timeout=STEP_TIMEOUT_S)
        assert code == 0, (hosts.folders[index] / "payment.out").read_text()
        assert "Transferred:" in (hosts.folders[index] / "payment.out").read_text()


def assert_peers_dialled_by_address(hosts: Hosts) -> None:
    """Each node holds P2P connections to the three other hosts' own addresses (real TCP
    across the bridge, not loopback)."""
    addresses = [host.address for host in hosts.lab.hosts]
    for index, host in enumerate(hosts.lab.hosts):
        argv = hosts.lab.wrap(index, ["ss", "-Htn", "state", "established"])
        sockets = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        remote = {line.split()[-1].rsplit(":", 1)[0] for line in sockets.splitlines()}
        assert remote - {"127.0.0.1"} == set(addresses) - {host.address}, sockets


def stop(nodes: list[subprocess.Popen[bytes]]) -> None:
    for node in nodes:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGTERM)
    for node in nodes:
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
