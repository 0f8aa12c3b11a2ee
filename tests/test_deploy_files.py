"""The deployment files agree with the guide and with the node: deploy/compose.yaml lays out
four validators with the ports and volumes docs/deploy.md lists, the Dockerfile runs the real
CLI as a non-root user with the home as a volume, the example alerts name only metrics the
node serves, and the systemd unit is what systemd accepts (where systemd-analyze exists)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from node import metrics
from node.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
HOME = "/var/lib/depochain"
BANKS = ("bank-a", "bank-b", "bank-c", "bank-d")


def read_guide_table() -> dict[str, tuple[str, str, str]]:
    """service -> (volume, P2P published, RPC published) from the guide's compose table."""
    text = (REPO / "docs" / "deploy.md").read_text()
    row = re.compile(r"^\| `([a-z-]+)` \| `([a-z-]+)` \| `([0-9]+)` \| `([0-9.:]+)` \|$", re.M)
    return {name: (volume, p2p, rpc) for name, volume, p2p, rpc in row.findall(text)}


def load_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def read_dockerfile() -> dict[str, list[str]]:
    """Instruction -> arguments of each occurrence (continuation lines joined)."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.setdefault(word.upper(), []).append(rest.strip())
    return found


def test_compose_runs_four_validators_with_the_guides_ports_and_volumes() -> None:
    compose, table = load_compose(), read_guide_table()
    assert sorted(table) == list(BANKS)
    assert sorted(compose["services"]) == list(BANKS)
    for name, service in compose["services"].items():
        volume, p2p, rpc = table[name]
        assert service["volumes"] == [f"{volume}:{HOME}"]
        assert service["ports"] == [f"{p2p}:26656", f"{rpc}:26657"]
        assert rpc.startswith("127.0.0.1:"), "the RPC is published on the loopback only"
        assert service["command"] == ["start", "--home", HOME]
        assert service["restart"] == "on-failure" and service["read_only"] is True
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    volumes = [table[name][0] for name in BANKS]
    assert sorted(compose["volumes"]) == sorted(volumes) and len(set(volumes)) == 4
    published = [port for service in compose["services"].values() for port in service["ports"]]
    assert len(set(published)) == 8


def test_the_dockerfile_runs_the_cli_as_a_non_root_user_with_the_home_as_a_volume() -> None:
    docker = read_dockerfile()
    assert docker["USER"] == ["depochain"]
    assert json.loads(docker["VOLUME"][0]) == [HOME]
    assert docker["EXPOSE"] == ["26656 26657"]
    assert any(
        "--require-hashes" in run and "requirements-runtime.lock" in run for run in docker["RUN"]
    )
    assert json.loads(docker["ENTRYPOINT"][0]) == ["depochain"]
    command = json.loads(docker["CMD"][0])
    args = build_parser().parse_args(command)  # the real CLI accepts the default command
    assert (args.command, args.home) == ("start", HOME)
    assert load_compose()["services"]["bank-a"]["command"] == command


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    lines = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line]
    rules = [line for line in lines if not line.startswith("#")]
    assert rules[0] == "*", "everything is excluded first (no keys, venvs or localnets)"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set()
    for copy in read_dockerfile()["COPY"]:
        if not copy.startswith("--from"):
            copied |= {source.rstrip("/") for source in copy.split()[:-1]}
    assert copied == allowed
    assert all((REPO / name).exists() for name in copied)


def test_every_alert_names_only_metrics_the_node_serves() -> None:
    snapshot = metrics.NodeSnapshot(
        **{f.name: ({} if "Mapping" in str(f.type) else 0) for f in dataclasses.fields(
            metrics.NodeSnapshot)}
    )  # fmt: skip
    served = set(re.findall(r"^# TYPE (\S+) ", metrics.render(metrics.collect(snapshot)), re.M))
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    assert len(rules) >= 8
    named = set()
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        names = set(re.findall(r"\bdepochain_[a-z_]+", rule["expr"]))
        assert names <= served, f"{rule['alert']}: {sorted(names - served)} not served"
        named |= names
    assert len(named) >= 8


def read_unit() -> dict[str, str]:
    text = (DEPLOY / "depochain.service").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Za-z]+=", line))


def test_the_systemd_unit_runs_the_node_as_a_dedicated_user_in_a_sandbox() -> None:
    unit = read_unit()
    assert unit["User"] == "depochain" and unit["Restart"] == "on-failure"
    assert unit["ExecStart"].endswith(f"depochain start --home {HOME}")
    assert unit["NoNewPrivileges"] == "yes" and unit["ProtectSystem"] == "strict"
    assert unit["ReadWritePaths"] == HOME and unit["CapabilityBoundingSet"] == ""
    assert unit["KillSignal"] == "SIGTERM"  # the node's clean stop


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (DEPLOY / "depochain.service").read_text()
    # the same unit, pointed at this checkout's CLI (no /opt/depochain on a test machine)
    cli = Path(sys.executable).parent / "depochain"
    unit = tmp_path / "depochain.service"
    unit.write_text(text.replace("/opt/depochain/bin/depochain", str(cli)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0 and "Unknown" not in done.stderr, done.stderr


def read_pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9_.\-]+)==(\S+)", path.read_text(), re.M))


def test_the_runtime_lock_pins_the_main_locks_versions_with_hashes() -> None:
    runtime, full = (
        read_pins(REPO / "requirements-runtime.lock"),
        read_pins(REPO / "requirements.lock"),
    )
    assert {"aiohttp", "plyvel", "pynacl", "msgpack", "setuptools"} <= runtime.keys()
    assert not {"pytest", "mypy", "ruff", "schemathesis", "hypothesis"} & runtime.keys()
    assert {name: full.get(name) for name in runtime} == runtime
    hashed = re.findall(
        r"^([a-z0-9_.\-]+)==\S+ \\\n    --hash=sha256:[0-9a-f]{64}",
        (REPO / "requirements-runtime.lock").read_text(),
        re.M,
    )
    assert sorted(hashed) == sorted(runtime)


def find_compose() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose`, whichever this machine has."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return None if legacy is None else [legacy]


def test_docker_compose_accepts_the_file() -> None:
    compose = find_compose()
    if compose is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    done = subprocess.run(
        [*compose, "-f", str(DEPLOY / "compose.yaml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == list(BANKS)
