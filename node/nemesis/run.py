"""The nemesis run: a cluster under load, the faults one after another, the checks after each.

After each fault's heal: recovery is timed (a probe tx submitted after the heal, committed on
every node), then the load pauses, every acknowledged tx gets time to commit, and the chain is
checked (exactly once, no fork, conservation on every node, clean exits and logs); the load
resumes for the next fault.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.config import NodeConfig
from node.home import load_key
from node.nemesis import checks, disk
from node.nemesis.cluster import VALIDATORS, NemesisCluster
from node.nemesis.faults import FAULTS, FaultOutcome
from node.nemesis.load import Load, PayerSpec, build_transfer, submit_once

DISK_BYTES = 256 * 1024 * 1024
DISK_FLOOR_BYTES = 16 * 1024 * 1024
RECOVERY_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 60.0
SAMPLE_S = 0.5
LOST_DESCRIBED = 5


@dataclass
class Options:
    faults: list[str]
    duration_s: float = 10.0
    rate: float = 100.0
    workdir: Path = Path("nemesis-run")
    use_netns: bool = True


@dataclass
class PhaseResult:
    fault: str
    skipped: str | None = None
    acked: int = 0
    lost: int = 0
    duplicated: int = 0
    rejected: int = 0
    forks: int = 0
    conservation_ok: bool | None = None
    recovery_s: float | None = None
    unclean_exits: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    measures: dict[str, float | None] = field(default_factory=dict)
    """What the fault measured besides the checks (``failover``: blocks/s up and one down)."""

    @property
    def ok(self) -> bool:
        if self.skipped is not None:
            return True
        clean = self.lost == 0 and self.duplicated == 0 and self.forks == 0
        return (
            clean
            and bool(self.conservation_ok)
            and self.recovery_s is not None
            and (self.unclean_exits == 0 and not self.problems)
        )


def load_payers(cluster: NemesisCluster) -> list[PayerSpec]:
    """The localnet's demo accounts, each paying the other account of its bank."""
    document = cluster.info.document
    accounts = [(a["id"], a["instrument"], a["key_file"]) for a in document["accounts"]]
    payers = []
    for account_id, instrument, key_file in accounts:
        bank = account_id.split("/")[0]
        payee = next(a for a, _, _ in accounts if a != account_id and a.startswith(bank + "/"))
        key = load_key(cluster.info.home / key_file)
        payers.append(PayerSpec(account_id, instrument, key, payee))
    return payers


class Nemesis:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.duration_s = options.duration_s
        self.cluster = NemesisCluster(options.workdir / "localnet", use_netns=options.use_netns)
        self.disk_path: Path | None = None
        self.disk_reason: str | None = "not requested"
        if "disk" in options.faults:
            self._put_data_on_small_disk(options.workdir / "disk")
        payers = load_payers(self.cluster)
        self.probe, self.probe_nonce = payers.pop(), 0
        urls = [node.url for node in self.cluster.nodes]
        self.load = Load(self.cluster.info.chain_id, urls, payers, options.rate)
        self.scan = checks.ChainScan(urls)
        self.lost: set[str] = set()
        self.max_drift_ms = 0

    def _put_data_on_small_disk(self, path: Path) -> None:
        try:
            disk.mount_small_disk(path, DISK_BYTES)
        except disk.DiskUnavailable as exc:
            self.disk_reason = str(exc)
            return
        self.disk_path, self.disk_reason = path, None

        def change(config: NodeConfig) -> NodeConfig:
            storage = dataclasses.replace(
                config.storage, data_dir=str(path / "data"), free_bytes_min=DISK_FLOOR_BYTES
            )
            return dataclasses.replace(config, storage=storage)

        self.cluster.edit_config(self.cluster.disk_node, change)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.cluster.nodes]

    def hold(self, seconds: float) -> None:
        """Let the load run; meanwhile note how far chain time drifts from this machine's."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for url in self.urls:
                try:
                    block_ms = checks.client(url).status()["latest_block_time_ms"]
                except (checks.ClientError, KeyError):
                    continue
                if block_ms is not None:
                    # ahead only: a chain that makes no blocks (a partition) falls behind
                    # this clock without anyone pushing it
                    ahead = int(block_ms) - int(time.time() * 1000)
                    self.max_drift_ms = max(self.max_drift_ms, ahead)
                break
            time.sleep(SAMPLE_S)

    # -- a run ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.cluster.start_all()
        self.load.start()

    def close(self) -> None:
        self.load.stop()
        self.cluster.close()
        if self.disk_path is not None:
            disk.unmount(self.disk_path)

    def run_phase(self, name: str, number: int) -> PhaseResult:
        result = PhaseResult(name)
        exits_before = len(self.cluster.exits)
        self.repair(result)
        self.cluster.mark_logs()
        self.max_drift_ms = 0
        self.hold(self.duration_s / 2)  # load before the fault
        victim = number % VALIDATORS
        if victim == self.cluster.disk_node and name not in ("disk", "skew", "stop", "kill"):
            victim = (victim + 1) % VALIDATORS
        outcome: FaultOutcome = FAULTS[name](self, victim)
        result.notes, result.problems = outcome.notes, outcome.failures
        result.measures = outcome.measures
        if outcome.skipped is not None or outcome.healed_at is None:
            result.skipped = outcome.skipped or "not run"
            return result
        result.notes.append(
            f"newest block time ahead of this machine's clock: at most {self.max_drift_ms} ms"
        )
        result.recovery_s = self.measure_recovery(outcome.healed_at)
        if result.recovery_s is None:
            result.problems.append(f"no recovery within {RECOVERY_TIMEOUT_S:g} s of the heal")
        self.check(result)
        self.cluster.reap_unexpected()
        unclean = [e for e in self.cluster.exits[exits_before:] if not e.clean]
        crash_lines = self.cluster.unclean_log_lines()
        # A crash shows as an exit and as log lines: a node counts once per unclean exit, and
        # once if it only left crash lines (e.g. it crashed and was started again by a fault).
        without_exit = set(crash_lines) - {e.node for e in unclean}
        result.unclean_exits = len(unclean) + len(without_exit)
        result.problems += [f"node {e.node} exit {e.code}" for e in unclean]
        result.problems += [line for lines in crash_lines.values() for line in lines[:3]]
        return result

    def repair(self, result: PhaseResult) -> None:
        """Start again any node found dead before a fault (its exit counts as unclean in this
        phase), so every fault meets four nodes."""
        for record in self.cluster.reap_unexpected():
            result.notes.append(f"node {record.node} was down (exit {record.code}); restarted")
            self.cluster.start(record.node)
            self.cluster.wait_healthy(record.node)

    def measure_recovery(self, healed_at: float) -> float | None:
        """Seconds from the heal until a tx submitted after it is committed on every node."""
        deadline = healed_at + RECOVERY_TIMEOUT_S
        self.probe_nonce += 1
        raw = build_transfer(self.load.chain_id, self.probe, self.probe_nonce, "probe")
        tx_hash = checks.sha256_hex(raw)
        turn = 0
        while not submit_once(self.urls[turn % VALIDATORS], raw):
            turn += 1
            if time.monotonic() > deadline:
                return None
            time.sleep(checks.POLL_S)
        self.load.record(tx_hash, self.probe.account_id, self.probe_nonce)
        if checks.wait_committed_everywhere(self.urls, tx_hash, deadline) is None:
            return None
        return time.monotonic() - healed_at

    def check(self, result: PhaseResult) -> None:
        self.load.pause()
        try:
            cutoff = time.monotonic()
            acks = [h for h, ack in self.load.snapshot().items() if ack.at <= cutoff]
            missing = self._drain(acks)
            new_lost = set(missing) - self.lost
            self.lost |= new_lost
            _, duplicated, rejected = checks.count_committed(self.scan, acks)
            result.acked, result.lost, result.rejected = len(acks), len(new_lost), rejected
            result.duplicated = len(duplicated)
            result.problems += self._describe_lost(sorted(new_lost)[:LOST_DESCRIBED])
            forks = self.scan.count_forks()
            result.forks = len(forks)
            if forks:
                result.problems.append(f"nodes disagree at heights {forks[:10]}")
            result.conservation_ok = self._check_conservation(result)
            result.notes.append(
                f"{len(acks)} txs acknowledged so far ({rejected} rejected with a receipt), "
                f"{self.load.resent} sent again, checked to height {self.scan.txs_read_to}"
            )
        finally:
            self.load.resume()

    def _describe_lost(self, hashes: list[str]) -> list[str]:
        """For a few lost txs: who sent which nonce, and what each node says of the hash (so a
        loss can be followed into the nodes' mempools and logs)."""
        acks, lines = self.load.snapshot(), []
        for tx_hash in hashes:
            seen = []
            for url in self.urls:
                try:
                    seen.append(str(checks.client(url).tx(tx_hash).get("status")))
                except checks.ClientError as exc:
                    seen.append(type(exc).__name__)
            ack = acks.get(tx_hash)
            sender = f"{ack.submitter} nonce {ack.nonce}" if ack is not None else "?"
            lines.append(f"lost {tx_hash[:16]} ({sender}); per node: {', '.join(seen)}")
        return lines

    def _drain(self, acks: list[str]) -> list[str]:
        """Acknowledged txs still not committed after DRAIN_TIMEOUT_S."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            # only a scan begun after the deadline may call a tx lost: a scan reads up to the
            # top it saw when it began, and on a loaded machine one can outlast the deadline
            began = time.monotonic()
            self.scan.scan()
            missing, _, _ = checks.count_committed(self.scan, acks)
            if not missing or began > deadline:
                return missing
            time.sleep(SAMPLE_S)

    def _check_conservation(self, result: PhaseResult) -> bool:
        checks.wait_idle(self.urls, DRAIN_TIMEOUT_S)
        ok = True
        for index, url in enumerate(self.urls):
            try:
                report = checks.check_conservation(url)
            except checks.ClientError as exc:
                result.problems.append(f"node {index}: conservation not read: {exc}")
                continue
            for iid, entry in report.items():
                if not entry["ok"]:
                    ok = False
                    result.problems.append(f"node {index} {iid}: {entry}")
        return ok


def describe_setup(nemesis: Nemesis) -> str:
    cluster = nemesis.cluster
    where = (
        "each node in its own network namespace"
        if cluster.lab is not None
        else f"all nodes on 127.0.0.1 (network faults skipped: {cluster.netns_reason})"
    )
    return (
        f"nemesis: {VALIDATORS} validators, {where}; {len(nemesis.load.payers)} payers at "
        f"{nemesis.options.rate:g} tx/s over the REST API; {nemesis.duration_s:g} s per phase"
    )


def run(options: Options) -> tuple[list[PhaseResult], str]:
    """The results of every fault run, and a line describing the setup."""
    import sys

    nemesis = Nemesis(options)
    results: list[PhaseResult] = []
    setup = describe_setup(nemesis)
    print(setup, file=sys.stderr, flush=True)
    try:
        nemesis.start()
        for number, name in enumerate(options.faults):
            try:
                results.append(nemesis.run_phase(name, number))
            except Exception as exc:  # reported as a failed fault; the next one repairs first
                results.append(PhaseResult(name, problems=[f"the fault broke: {exc!r}"[:500]]))
                print_progress(results[-1])
            print_progress(results[-1])
    finally:
        nemesis.close()
    return results, setup


def print_progress(result: PhaseResult) -> None:
    import sys

    verdict = "skipped" if result.skipped else ("ok" if result.ok else "FAILED")
    print(f"nemesis: {result.fault}: {verdict}", file=sys.stderr, flush=True)


COLUMNS = ("fault", "lost", "duplicated", "forks", "conservation", "recovery s", "unclean exits")


def format_table(results: list[PhaseResult]) -> str:
    rows = [COLUMNS]
    for r in results:
        if r.skipped is not None:
            rows.append((r.fault, "-", "-", "-", "-", "-", f"skipped: {r.skipped}"))
            continue
        conservation = {True: "OK", False: "VIOLATED", None: "not read"}[r.conservation_ok]
        recovery = "none" if r.recovery_s is None else f"{r.recovery_s:.1f}"
        rows.append((r.fault, str(r.lost), str(r.duplicated), str(r.forks), conservation,
                     recovery, str(r.unclean_exits)))  # fmt: skip
    # the reason of a skipped fault runs on past the last column; it sets no width
    widths = [max(len(row[i]) for row in rows if not row[i].startswith("skipped")) for i in
              range(len(COLUMNS))]  # fmt: skip
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    for r in results:
        for line in [*r.notes, *r.problems]:
            lines.append(f"  {r.fault}: {line}")
    return "\n".join(line.rstrip() for line in lines)


def to_json(results: list[PhaseResult], extra: dict[str, Any]) -> str:
    phases = [{**dataclasses.asdict(r), "ok": r.ok} for r in results]
    return json.dumps({"phases": phases, **extra}, indent=2)
