"""A validator's sign state at start-up (node.app → node.sign_state_recovery): a lost file is
rebuilt from the WAL before anything is handled, or the node refuses to start and says how to
recover; it is never silently taken as "nothing signed" by a validator with history.

The attack these tests replay: the node persisted its prevote and died before sending it; the
sign-state file was then lost (a restore without it, the key moved); the restarted validator
signed a different proposal at the same height and round.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from consensus.events import TxsAvailable, VoteReceived
from consensus.messages import Vote, VoteType
from consensus.proposal import Proposal
from consensus.safety import SignState, SignStep
from consensus.types import Height, Round, Signature
from node.app import Node, NodeHome
from node.cli import main
from node.gossip import ConsensusPayload
from node.sign_state_recovery import is_wal_covering
from node.signer import SignStateFile, SignStateMissingError
from node.storage import LevelDBStore
from node.wal import WriteAheadLog
from node.wal_events import decode_event, encode_event
from tests.node import boundary
from tests.node.boundary import BoundaryLog, SimulatedCrash
from tests.node.node_world import ME, RunningNode, commit_block_1, transfer, write_home


def _sign_path(home: Path) -> Path:
    return home / "data" / "sign_state.json"


def _is_own_prevote_at(height: int) -> Callable[[object], bool]:
    def is_it(payload: object) -> bool:
        message = payload.message if isinstance(payload, ConsensusPayload) else None
        return (
            isinstance(message, Vote)
            and message.height == height
            and message.type == VoteType.PREVOTE
        )

    return is_it


async def _crash_before_sending_prevote(home: Path, log: BoundaryLog, height: int) -> None:
    """Sign our proposal and prevote of ``height`` (committing height 1 first if ``height`` is
    2), persist the prevote's sign state and die before sending the prevote."""
    running = RunningNode(home, log)
    running.network.crash_before = _is_own_prevote_at(height)
    try:
        if height == 2:
            await commit_block_1(running, transfer(10, nonce=1))
        else:
            running.start()
        with pytest.raises(SimulatedCrash):
            await running.wait_own_vote(VoteType.PREVOTE, height)  # never sent: the driver died
    finally:
        await running.stop()


def _own_signed(log: BoundaryLog, public_key: bytes, height: int) -> list[Proposal | Vote]:
    return [m for _, m in boundary.own_sent_messages(log, public_key) if m.height == height]  # type: ignore[arg-type]


def test_a_new_validator_starts_with_nothing_signed(tmp_path: Path) -> None:
    home = write_home(tmp_path / "bank-a", ME)
    node = Node(NodeHome.load(home))
    try:
        assert node.chain.height == 0
        assert node.replica.sign_state == SignState()
        assert not _sign_path(home).exists()
    finally:
        node.close()


@pytest.mark.parametrize(
    ("bank", "height"),
    [("BANKB", 1), ("BANKA", 2)],  # each proposes round 0 of that height; store at height - 1
)
def test_lost_sign_state_is_rebuilt_from_the_wal_before_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bank: str, height: int
) -> None:
    home = write_home(tmp_path / bank.lower(), bank, timeout_commit_ms=0)
    first = BoundaryLog()
    boundary.install(monkeypatch, first)
    asyncio.run(_crash_before_sending_prevote(home, first, height))
    persisted = SignStateFile(_sign_path(home)).load()
    assert persisted is not None
    assert (persisted.height, persisted.step) == (height, SignStep.PREVOTE)
    _sign_path(home).unlink()  # lost: a restore without it, or the key moved without it

    second = BoundaryLog()
    boundary.install(monkeypatch, second)
    running = RunningNode(home, second)
    assert running.node.replica.sign_state == persisted
    assert SignStateFile(_sign_path(home)).load() == persisted  # written again ...
    [rebuilt] = boundary.find_durable_persists(second, _sign_path(home))
    assert rebuilt.state == persisted
    assert not second.find("replica")  # ... before the replica handled anything

    async def resume() -> None:
        running.node.mempool.add(transfer(7, nonce=height))  # a different block to tempt it
        running.start()
        try:
            await running.wait_own_vote(VoteType.PREVOTE, height)
        finally:
            await running.stop()

    asyncio.run(resume())
    public_key = running.public_key
    signed = _own_signed(first, public_key, height) + _own_signed(second, public_key, height)
    proposals = {m.block.hash for m in signed if isinstance(m, Proposal)}
    prevotes = {m.block_hash for m in signed if isinstance(m, Vote)}
    assert len(proposals) == 1, f"signed two different proposals at height {height} round 0"
    assert prevotes == proposals


def _home_with_block_1(tmp_path: Path, **consensus: int) -> Path:
    home = write_home(tmp_path / "bank-a", ME, **consensus)

    async def run() -> None:
        running = RunningNode(home, BoundaryLog())
        try:
            await commit_block_1(running, transfer(10, nonce=1))
        finally:
            await running.stop()

    asyncio.run(run())
    return home


def test_validator_with_blocks_and_no_way_to_rebuild_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _home_with_block_1(tmp_path)
    _sign_path(home).unlink()
    shutil.rmtree(home / "data" / "wal")  # a data folder moved without its WAL
    with pytest.raises(SignStateMissingError) as refused:
        Node(NodeHome.load(home))
    message = str(refused.value)
    assert str(_sign_path(home)) in message and "double-sign" in message
    assert "restore" in message and "depochain sign-state floor" in message
    assert main(["start", "--home", str(home)]) == 1  # the operator's view of the same
    err = capsys.readouterr().err
    assert "sign-state floor" in err and "Traceback" not in err
    with LevelDBStore(home / "data" / "chain.db", create=False) as store:
        assert store.latest_height() >= 1  # the refused start released the store's lock
    assert not _sign_path(home).exists()


def test_floor_lets_a_refused_validator_start_signing_only_above_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home_with_block_1(tmp_path, timeout_commit_ms=0)
    _sign_path(home).unlink()
    shutil.rmtree(home / "data" / "wal")
    floor = ["sign-state", "floor", "--home", str(home), "--height"]
    assert main([*floor, "1"]) == 1  # not above the committed height: protects nothing
    assert "must be above" in capsys.readouterr().err
    assert main([*floor, "10"]) == 0
    expected = SignState(Height(10), Round(0), SignStep.NONE, None)
    assert SignStateFile(_sign_path(home)).load() == expected
    assert main([*floor, "20"]) == 1  # never replaces an existing file
    assert "exists" in capsys.readouterr().err
    assert main(["sign-state", "show", "--home", str(home)]) == 0
    assert "height 10 round 0 step NONE" in capsys.readouterr().out
    log = BoundaryLog()
    boundary.install(monkeypatch, log)
    running = RunningNode(home, log)
    assert running.node.replica.sign_state == expected

    async def run() -> None:
        running.start()  # height 2: BANKA is the proposer of round 0, but below the floor
        try:
            await running.wait_for(
                "a proposal chance",
                lambda: any(isinstance(e, TxsAvailable) for _, e in boundary.handled_events(log)),
            )
        finally:
            await running.stop()

    asyncio.run(run())
    assert _own_signed(log, running.public_key, 2) == []


def test_lost_file_right_after_a_commit_is_rebuilt_as_nothing_signed_above_it(
    tmp_path: Path,
) -> None:
    home = _home_with_block_1(tmp_path, timeout_commit_ms=600_000)  # height 2 not begun
    _sign_path(home).unlink()
    node = Node(NodeHome.load(home))
    try:
        floor = SignState(Height(1), Round(0), SignStep.NONE, None)
        assert node.replica.sign_state == floor
        assert SignStateFile(_sign_path(home)).load() == floor
    finally:
        node.close()


def test_a_forged_vote_under_our_key_in_the_wal_is_not_taken_as_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write_home(tmp_path / "bank-a", ME, timeout_commit_ms=0)
    log = BoundaryLog()
    boundary.install(monkeypatch, log)
    asyncio.run(_crash_before_sending_prevote(home, log, 2))
    persisted = SignStateFile(_sign_path(home)).load()
    [real] = [m for m in _own_logged(home) if isinstance(m, Vote)]
    forged = Vote(
        real.type,
        Height(2),
        Round(7),
        None,
        real.validator_index,
        real.validator,
        Signature(bytes(64)),
    )
    with WriteAheadLog(home / "data" / "wal") as wal:  # peers' messages are logged unchecked
        wal.append(encode_event(VoteReceived(forged)), sync=True)
    _sign_path(home).unlink()
    node = Node(NodeHome.load(home))
    try:
        assert node.replica.sign_state == persisted
    finally:
        node.close()


def _own_logged(home: Path) -> list[Proposal | Vote]:
    key = NodeHome.load(home).validator_key
    assert key is not None
    with WriteAheadLog(home / "data" / "wal") as wal:
        events = [decode_event(record) for record in wal.replay()]
    own: list[Proposal | Vote] = []
    for event in events:
        if isinstance(event, VoteReceived) and event.vote.validator == key.public_key:
            own.append(event.vote)
    return own


@pytest.mark.parametrize(
    ("marker", "records", "store_height", "covering"),
    [
        (None, 0, 0, True),  # a new validator
        (None, 1, 0, True),  # height 1 in progress
        (3, 0, 3, True),  # just after committing 3
        (3, 2, 3, True),  # height 4 in progress
        (2, 2, 3, True),  # died between storing block 3 and marking it
        (2, 0, 3, False),  # ... but then height 3's inputs would be there
        (None, 0, 1, False),  # a fresh WAL behind a store with blocks
        (None, 3, 2, False),
        (1, 2, 3, False),  # an old WAL
        (4, 1, 3, False),  # a WAL ahead of the store
        (1, 0, 0, False),
    ],
)
def test_which_wal_can_prove_what_was_signed(
    tmp_path: Path, marker: int | None, records: int, store_height: int, covering: bool
) -> None:
    with WriteAheadLog(tmp_path / "wal") as wal:
        if marker is not None:
            wal.mark_height(marker)
        for index in range(records):
            wal.append(b"record %d" % index, sync=False)
        assert is_wal_covering(wal, store_height) is covering
