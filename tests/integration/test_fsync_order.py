"""Durability order on a real validator, read from its system calls under ``strace``.

A 4-validator cluster runs; ``strace -f -tt -yy -xx`` attaches to bank-d's node process (all its
threads) while it votes, acknowledges a transaction sent with ``broadcast_tx_sync`` and commits a
block holding one sent with ``broadcast_tx_commit``. The trace shows, call by call, what reached
the disk before what left the process:

(a) every sign-state update is: the temp file written and fsynced, renamed over
    ``sign_state.json``, the data folder fsynced; and no write to a peer socket happens from
    the signing until the folder's fsync. How the signing is found: the driver writes the
    message it just signed to the consensus WAL, fsyncs the WAL, and only then creates the sign
    state's temp file, all in the step where the replica signed; so the last WAL write before
    the temp file's creation is the first trace of the signature. Peer sockets are recognised
    by their TCP ends (one end is a validator's P2P port), which ``-yy`` prints at the moment of
    each call, so a reused descriptor cannot mislead. Frames are encrypted, so the trace cannot
    show which write holds the vote; it does not need to: every write that can hold it comes
    after the signing, so if the first peer write after the signing comes after the folder's
    fsync, the vote left only once its sign state was durable. (A step that sent before even
    logging its signature would not show as such; the driver's order of actions is what its unit
    tests check. This test checks what only the real process shows: the fsyncs are real system
    calls on the right files, and no thread writes to a peer in between.)
(b) the block batch holding the transaction is written to LevelDB's log file and that file is
    fdatasync'ed (or fsynced) before the reply to ``broadcast_tx_commit`` (the write on the RPC
    socket that carries the tx hash) leaves the process;
(c) a transaction answered "accepted" by ``broadcast_tx_sync`` was written to the mempool
    journal and the journal fdatasync'ed before that reply left (a ``kill -9`` cannot show a
    missing fdatasync, since the page cache survives the process; this can).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consensus.crypto import sha256
from tests.integration.harness import Cluster
from tests.integration.strace_log import Call, parse
from tests.integration.txs import b64, make_transfer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRACED = 3
SYSCALLS = "openat,write,writev,sendto,sendmsg,fsync,fdatasync,rename,renameat,renameat2"
WRITES = {"write", "writev", "sendto", "sendmsg"}
SYNCS = {"fsync", "fdatasync"}
STRING_BYTES_MAX = 1 << 20
"""Long enough for a whole block batch and an RPC reply in the trace."""
SIGNINGS_MIN = 4


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path / "localnet")
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()


def find_strace() -> str:
    path = shutil.which("strace")
    if path is None:
        message = "strace is not installed (make test installs it: apt-get install strace)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextlib.contextmanager
def traced(pid: int, out: Path) -> Iterator[None]:
    command = [find_strace(), "-f", "-tt", "-yy", "-xx", "-s", str(STRING_BYTES_MAX),
               "-e", f"trace={SYSCALLS}", "-o", str(out), "-p", str(pid)]  # fmt: skip
    tracer = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.stat().st_size > 0):  # attached and seeing calls
            assert tracer.poll() is None, tracer.communicate()[1]
            assert time.monotonic() < deadline, "strace saw no system call"
            time.sleep(0.1)
        yield
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches; the node runs on untraced
        tracer.wait(timeout=30)


def wait_signed_at(cluster: Cluster, height: int, timeout_s: float = 60) -> None:
    path = cluster.node(TRACED).home / "data" / "sign_state.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text())["height"] >= height:
                return
        time.sleep(0.1)
    raise AssertionError(f"bank-d did not sign at height {height}")


def test_sign_state_and_block_are_durable_before_they_leave_the_node(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.wait_height(TRACED, 2)
    trace = tmp_path / "trace.txt"
    key = cluster.account_key("BANKB/bob")
    acknowledged, committed = (
        make_transfer(cluster.info.chain_id, key, "BANKB/bob", "BANKB/carol", "BANKB:USD", 5, n)
        for n in (1, 2)
    )
    with traced(cluster.processes[TRACED].pid, trace):
        answer = cluster.call(TRACED, "broadcast_tx_sync", tx=b64(acknowledged))
        assert answer["code"] == 0, answer
        answer = cluster.call(TRACED, "broadcast_tx_commit", tx=b64(committed))
        assert answer["tx_result"]["code"] == 0, answer
        wait_signed_at(cluster, int(answer["height"]) + 3)
    calls = parse(trace.read_text(errors="replace").splitlines())
    check_sign_state_order(calls, cluster)
    data = os.path.realpath(cluster.node(TRACED).home / "data")
    store, journal = f"{data}/chain.db/", f"{data}/mempool_journal.log"

    def is_store_log(path: str) -> bool:
        return path.startswith(store) and path.endswith(".log")

    check_synced_before_reply(calls, cluster, is_store_log, committed.encode(), "block batch")
    check_synced_before_reply(
        calls, cluster, journal.__eq__, acknowledged.encode(), "mempool journal"
    )


def peer_ports(cluster: Cluster) -> set[int]:
    return {node.p2p_port for node in cluster.info.nodes}


def is_peer_write(call: Call, ports: set[int]) -> bool:
    tcp = call.tcp_ports
    return call.name in WRITES and tcp is not None and bool(ports & set(tcp))


def describe(calls: list[Call]) -> str:
    def target(call: Call) -> str:
        return ", ".join(call.strings) if call.name == "openat" else call.fd_target or ""

    return "; ".join(f"{call.name}({target(call)})" for call in calls)


def check_sign_state_order(calls: list[Call], cluster: Cluster) -> None:
    data = os.path.realpath(cluster.node(TRACED).home / "data")
    final, temp = f"{data}/sign_state.json", f"{data}/sign_state.json.tmp"
    ports = peer_ports(cluster)
    opened = [i for i, c in enumerate(calls) if c.name == "openat" and c.strings[-1:] == [temp]]
    checked = 0
    for start, end in itertools.pairwise(opened):  # the last step may be cut short
        signed = last_wal_write_before(calls, start, f"{data}/wal/")
        if signed is None:
            continue  # the trace began inside this step
        step = calls[start:end]
        renames = [i for i, c in enumerate(step) if c.name.startswith("rename")]
        assert renames, f"sign-state temp file never renamed: {describe(step)}"
        rename = renames[0]
        assert step[rename].strings[-2:] == [temp, final], describe(step[: rename + 1])
        temp_syncs = [c for c in step[:rename] if c.name in SYNCS and c.fd_target == temp]
        assert temp_syncs, f"temp file renamed without an fsync: {describe(step[: rename + 1])}"
        folder_syncs = [
            i for i, c in enumerate(step) if i > rename and c.name in SYNCS and c.fd_target == data
        ]
        assert folder_syncs, f"rename without a folder fsync after it: {describe(step)}"
        durable = step[folder_syncs[0]].ended
        first_send = next((c for c in calls[signed:] if is_peer_write(c, ports)), None)
        assert first_send is not None, "no peer write after the signing"
        assert first_send.began > durable, f"peer write before the sign state: {first_send}"
        checked += 1
    assert checked >= SIGNINGS_MIN, f"only {checked} sign-state updates in the trace"


def last_wal_write_before(calls: list[Call], index: int, wal: str) -> int | None:
    """Position of the last write to the consensus WAL by the thread of ``calls[index]``."""
    tid = calls[index].tid
    for position in range(index - 1, -1, -1):
        call = calls[position]
        if call.tid == tid and call.name in WRITES and (call.fd_target or "").startswith(wal):
            return position
    return None


def check_synced_before_reply(
    calls: list[Call], cluster: Cluster, is_file: Callable[[str], bool], raw: bytes, what: str
) -> None:
    """The first write of ``raw`` (or its hash) to a file ``is_file`` accepts is followed by an
    fsync/fdatasync of that file, which returns before the RPC reply carrying the tx hash."""
    rpc_port = cluster.node(TRACED).rpc_port
    tx_hash = sha256(raw)
    written = next(
        (c for c in calls if c.name in WRITES and is_file(c.fd_target or "") and
         (c.carries(raw) or c.carries(tx_hash))),
        None,
    )  # fmt: skip
    assert written is not None, f"no write of the transaction to the {what}"
    reply = next(
        (c for c in calls if c.name in WRITES and c.tcp_ports is not None and
         c.tcp_ports[0] == rpc_port and c.carries(tx_hash.hex().upper().encode())),
        None,
    )  # fmt: skip
    assert reply is not None, "no RPC reply carrying the transaction hash"
    assert reply.began > written.ended, f"replied before the {what} was written"
    synced = [
        c
        for c in calls
        if c.name in SYNCS and c.fd_target == written.fd_target and c.succeeded
        and written.ended < c.began and c.ended < reply.began
    ]  # fmt: skip
    assert synced, f"{what} ({written.fd_target}) not synced before the reply"
