"""Durability order on a real validator, read from its system calls under ``strace``.

A 4-validator cluster runs; ``strace -f -tt -yy -xx`` attaches to bank-d's node process (all its
threads) while it votes, acknowledges a transaction sent with ``broadcast_tx_sync`` and commits a
block holding one sent with ``broadcast_tx_commit``. The trace shows, call by call, what reached
the disk before what left the process:

(a) every sign-state update is: the messages it covers written to the consensus WAL and the
    WAL fsynced, then the temp file written and fsynced, renamed over ``sign_state.json``, the
    data folder fsynced, all by one thread (node.persister's worker; the event loop meanwhile
    keeps serving peers and clients, so other peer writes do happen in between). The covered
    messages are read back from the WAL writes of that thread since its previous update (our
    own proposals and votes). Frames are encrypted but their length header is not, and a
    message's frame length is known from its encoding: each covered message must go out to a
    peer after the folder's fsync, and a covered proposal (its block makes its length unique
    in practice) must not go out in any peer write before it. A vote's frame has the length of
    our other votes of that height (the prevote can still be on its way when the precommit is
    signed), so for votes the trace shows only that they were sent after; that nothing is sent
    before its sign state is durable is what the driver's tests check (tests/node/test_driver.py,
    test_persist_off_loop.py). Peer sockets are recognised by their TCP ends (one end is a
    validator's P2P port), which ``-yy`` prints at the moment of each call, so a reused
    descriptor cannot mislead.
(b) the block batch holding the transaction is written to LevelDB's log file and that file is
    fdatasync'ed (or fsynced) before the reply to ``broadcast_tx_commit`` (the write on the RPC
    socket that carries the tx hash) leaves the process;
(c) a transaction answered "accepted" by ``broadcast_tx_sync`` was written to the mempool
    journal and the journal fdatasync'ed before that reply left (a ``kill -9`` cannot show a
    missing fdatasync, since the page cache survives the process; this can).
"""

from __future__ import annotations

import contextlib
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
from consensus.events import ProposalReceived, VoteReceived
from consensus.messages import Vote
from consensus.proposal import Proposal
from consensus.types import PublicKey
from node.gossip import ConsensusPayload, encode_gossip
from node.p2p.frames import HEADER, TAG_LEN
from node.wal import RecordKind, scan_segment
from node.wal_events import decode_event
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
    with Cluster(tmp_path / "localnet").running() as running:
        yield running


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
        wait_own_proposal_in_trace(cluster, int(answer["height"]))
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


def wait_own_proposal_in_trace(cluster: Cluster, after: int, timeout_s: float = 180) -> None:
    """Trace on until a block above ``after`` proposed by bank-d is committed and bank-d has
    signed at the next height (so the update covering that proposal is whole in the trace)."""
    me = cluster.call(TRACED, "status")["validator_info"]["address"]
    deadline = time.monotonic() + timeout_s
    height = after + 1
    while time.monotonic() < deadline:
        cluster.wait_height(TRACED, height)
        header = cluster.call(TRACED, "block", height=str(height))["block"]["header"]
        if header["proposer_address"] == me:
            wait_signed_at(cluster, height + 1)
            return
        height += 1
    raise AssertionError(f"bank-d proposed no block from height {after + 1} to {height}")


def check_sign_state_order(calls: list[Call], cluster: Cluster) -> None:
    data = os.path.realpath(cluster.node(TRACED).home / "data")
    final, temp, wal = f"{data}/sign_state.json", f"{data}/sign_state.json.tmp", f"{data}/wal/"
    frames = peer_frames(calls, peer_ports(cluster))
    me = cluster.validator_key(TRACED)
    opened = [i for i, c in enumerate(calls) if c.name == "openat" and c.strings[-1:] == [temp]]
    checked = proposals = 0
    for previous, start, end in zip([-1, *opened], opened, opened[1:], strict=False):
        signed = last_wal_write_before(calls, start, wal)
        if signed is None or previous < 0:
            continue  # the trace began inside this update
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
        covered = covered_messages(calls, previous, start, wal, me)
        assert covered, f"no message of ours logged before the update at {start}"
        first_logged = covered[0][0]
        wal_syncs = [
            c for c in calls[covered[-1][0] : start]
            if c.name in SYNCS and (c.fd_target or "").startswith(wal)
        ]  # fmt: skip
        assert wal_syncs, "sign state written before the WAL holding its messages was fsynced"
        for _, message in covered:
            length = compute_frame_length(message)
            sent = [began for began, n in frames if n == length]
            if isinstance(message, Proposal):
                early = [b for b in sent if calls[first_logged].began < b < durable]
                assert not early, f"our proposal left before its sign state was durable: {early}"
                proposals += 1
            assert any(b > durable for b in sent), f"{message!r} not sent after its update"
        checked += 1
    assert checked >= SIGNINGS_MIN, f"only {checked} sign-state updates in the trace"
    assert proposals >= 1, "no proposal of ours in the trace"


def covered_messages(
    calls: list[Call], previous: int, start: int, wal: str, me: PublicKey
) -> list[tuple[int, Proposal | Vote]]:
    """Our proposals and votes the updating thread wrote to the WAL since its last update."""
    tid = calls[start].tid
    found: list[tuple[int, Proposal | Vote]] = []
    for position in range(previous + 1, start):
        call = calls[position]
        if call.tid != tid or call.name not in WRITES:
            continue
        if not (call.fd_target or "").startswith(wal):
            continue
        for record in scan_segment(written_bytes(call), "trace").records:
            if record.kind is not RecordKind.DATA:
                continue
            event = decode_event(record.body)
            if isinstance(event, ProposalReceived) and event.proposal.proposer == me:
                found.append((position, event.proposal))
            elif isinstance(event, VoteReceived) and event.vote.validator == me:
                found.append((position, event.vote))
    return found


def compute_frame_length(message: Proposal | Vote) -> int:
    """The length header of the frame that carries ``message`` to a peer."""
    return 1 + len(encode_gossip(ConsensusPayload(message))) + TAG_LEN


def written_bytes(call: Call) -> bytes:
    """The bytes a write call wrote (its buffers, cut to the byte count it returned)."""
    data = b"".join(call.buffers)
    result = call.text.rsplit(" = ", 1)[-1].split()[0]
    return data[: int(result)] if result.isdigit() else b""


def peer_frames(calls: list[Call], ports: set[int]) -> list[tuple[int, int]]:
    """(position the write began, length header) of every frame written to a peer, reading
    each connection's byte stream from its first write in the trace."""
    streams: dict[tuple[int, int], bytes] = {}
    found = []
    for call in calls:
        if not is_peer_write(call, ports):
            continue
        tcp = call.tcp_ports
        assert tcp is not None
        pending = streams.get(tcp, b"") + written_bytes(call)
        while len(pending) >= HEADER.size:
            (length,) = HEADER.unpack_from(pending)
            if len(pending) < HEADER.size + length:
                break
            found.append((call.began, length))
            pending = pending[HEADER.size + length :]
        streams[tcp] = pending
    return found


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
