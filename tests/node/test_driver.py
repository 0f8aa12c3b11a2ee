"""node.driver at its I/O boundary: the order of WAL appends, fsyncs, sign-state writes, block
batches and sends, observed on a real node (tests/node/node_world.py, tests/node/boundary.py).

The promises (DESIGN.md, "persist before you act"):

- every consensus input is in the WAL before ``replica.handle`` sees it;
- the message a sign state covers is in the WAL, fsynced, before that sign state is written;
- the sign state is durable (temp file fsynced, renamed, folder fsynced) before any message
  carrying a signature it covers goes to the network;
- a block's batch is written with ``sync=True`` before anyone hears of the commit;
- on restart the WAL comes back in order, our own messages included, and is not logged again.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from consensus.events import BlockExecuted, ProposalReceived, Started, VoteReceived
from consensus.ledger.queries import get_balance
from consensus.messages import Vote, VoteType
from consensus.proposal import Proposal
from consensus.types import PublicKey
from node.gossip import StatusPayload
from node.storage import keys
from node.wal import WriteAheadLog
from node.wal_events import encode_event, is_logged
from tests.consensus.ledger.world import CUSTOMER_FLOAT
from tests.node import boundary
from tests.node.boundary import BoundaryLog
from tests.node.node_world import (
    CHAIN_ID,
    ME,
    RunningNode,
    commit_block_1,
    transfer,
    write_home,
)

AMOUNT = 25


@dataclass(frozen=True)
class Run:
    log: BoundaryLog
    home: Path
    sign_path: Path
    public_key: PublicKey
    block_1_proposal: Proposal


async def _commit_1_then_prevote_2(running: RunningNode) -> Proposal:
    """Height 1 from BANKB's proposal (with a payment in it), then our own proposal of 2."""
    proposal = await commit_block_1(running, transfer(AMOUNT, nonce=1))
    await running.wait_own_vote(VoteType.PREVOTE, 2)
    return proposal


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    home = write_home(tmp_path_factory.mktemp("driver") / "bank-a", ME, timeout_commit_ms=0)
    log = BoundaryLog()
    with pytest.MonkeyPatch.context() as patch:
        boundary.install(patch, log)

        async def scenario() -> tuple[Proposal, PublicKey, Path]:
            running = RunningNode(home, log)
            try:
                proposal = await _commit_1_then_prevote_2(running)
                alice = get_balance(running.node.chain.state, "BANKA/alice", "BANKA:USD")
                assert alice.total == CUSTOMER_FLOAT - AMOUNT  # the block changed balances
            finally:
                await running.stop()
            return proposal, PublicKey(running.public_key), running.node.sign_state_file.path

        proposal, public_key, sign_path = asyncio.run(scenario())
    return Run(log, home, sign_path, public_key, proposal)


def test_every_input_is_in_the_wal_before_the_replica_handles_it(first_run: Run) -> None:
    log = first_run.log
    handled = boundary.handled_events(log)
    logged = [(i, e) for i, e in handled if is_logged(e)]
    assert len(logged) >= 6  # a proposal, two prevotes, two precommits, and more
    previous = -1
    for index, event in handled:
        if is_logged(event):
            window = [op for i, op in log.find("wal", "write") if previous < i < index]
            records = boundary.flatten(boundary.wal_data_records(op) for op in window)
            record = encode_event(event)  # type: ignore[arg-type]
            assert record in records, f"{event} handled before it was logged"
        previous = index


def test_signed_message_is_in_the_synced_wal_before_its_sign_state(first_run: Run) -> None:
    """Each message we sent is in the WAL, and the WAL fsynced, before the first sign state
    that covers it is written. Our proposal of height 2 and our prevote on it come from one
    ``handle``: node.persister writes them as one batch (one WAL fsync, then the prevote's sign
    state, which covers both), so there are three persists for four signatures."""
    log = first_run.log
    persists = boundary.find_durable_persists(log, first_run.sign_path)
    assert len(persists) >= 3  # prevote and precommit of 1, then proposal + prevote of 2
    sent = boundary.own_sent_messages(log, first_run.public_key)
    assert len(sent) >= 4
    for _, message in sent:
        state = boundary.compute_sign_state(message, CHAIN_ID)
        persist = next(p for p in persists if boundary.is_covered(state, p.state))
        record = encode_event(_as_event(message))
        writes = [i for i, op in log.find("wal", "write") if i < persist.first_op]
        logged = [i for i in writes if record in boundary.wal_data_records(log.ops[i])]
        assert logged, f"{state} not in the WAL before the sign state covering it"
        synced = [i for i, _ in log.find("wal", "fsync") if writes[-1] < i < persist.first_op]
        assert synced, f"WAL not fsynced between its last write and persisting {persist.state}"


def test_sign_state_is_durable_before_a_signature_it_covers_is_sent(first_run: Run) -> None:
    log = first_run.log
    persists = boundary.find_durable_persists(log, first_run.sign_path)
    sent = boundary.own_sent_messages(log, first_run.public_key)
    kinds = {(m.height, type(m).__name__, getattr(m, "type", None)) for _, m in sent}
    assert {(1, "Vote", VoteType.PREVOTE), (1, "Vote", VoteType.PRECOMMIT)} <= kinds
    assert {(2, "Proposal", None), (2, "Vote", VoteType.PREVOTE)} <= kinds
    for index, message in sent:
        state = boundary.compute_sign_state(message, CHAIN_ID)
        durable = [p for p in persists if p.done_op < index and boundary.is_covered(state, p.state)]
        assert durable, f"{type(message).__name__} {state} sent before its sign state was durable"


def test_block_batch_is_synced_before_the_commit_is_acknowledged(first_run: Run) -> None:
    log = first_run.log
    [(write_at, write)] = [
        (i, op)
        for i, op in log.find("store", "batch_write")
        if op.data[1].get(keys.LATEST_HEIGHT_KEY) == keys.encode_height(1)
    ]
    sync, puts = write.data
    assert sync is True, "block 1's batch was not written with sync=True"
    assert keys.block_key(1) in puts and any(k.startswith(keys.state_key(b"")) for k in puts)
    [(listener_at, _)] = [(i, op) for i, op in log.find("ack", "listener") if op.data == 1]
    mempool_at = log.find("ack", "mempool_update")[0][0]
    status_at = next(
        i for i, op in log.find("net") if isinstance(op.data, StatusPayload) and op.data.height == 1
    )
    assert write_at < min(listener_at, mempool_at, status_at)


def test_the_next_height_starts_only_once_the_block_is_stored(first_run: Run) -> None:
    """The worker writes the block off the loop, but nothing of height 2 reaches the replica,
    and nothing of height 2 is signed, before block 1's synced batch is written; the mempool
    update comes after the replica moved on (it does not hold up the next height)."""
    log = first_run.log
    [write_at] = [
        i
        for i, op in log.find("store", "batch_write")
        if op.data[1].get(keys.LATEST_HEIGHT_KEY) == keys.encode_height(1)
    ]
    handled = boundary.handled_events(log)
    [executed_at] = [i for i, e in handled if isinstance(e, BlockExecuted) and e.height == 1]
    of_height_2 = [i for i, e in handled if getattr(e, "height", 0) >= 2] + [
        i for i, e in handled if isinstance(e, ProposalReceived | VoteReceived) and _height(e) >= 2
    ]
    own_2 = [i for i, m in boundary.own_sent_messages(log, first_run.public_key) if m.height >= 2]
    assert own_2, "the node never signed for height 2"
    assert write_at < executed_at < min(of_height_2 + own_2)
    assert executed_at < log.find("ack", "mempool_update")[0][0]


def _height(event: ProposalReceived | VoteReceived) -> int:
    message = event.proposal if isinstance(event, ProposalReceived) else event.vote
    return message.height


def test_restart_replays_the_wal_in_order_and_gets_own_messages_back(
    first_run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "bank-a"
    shutil.copytree(first_run.home, home)
    with WriteAheadLog(home / "data" / "wal") as wal:
        records = list(wal.replay())
    log = BoundaryLog()
    boundary.install(monkeypatch, log)

    async def scenario() -> None:
        running = RunningNode(home, log)
        running.start()
        try:
            await running.wait_for(
                "the replay", lambda: len(boundary.handled_events(log)) > len(records)
            )
            await running.wait_own_vote(VoteType.PREVOTE, 2)
        finally:
            await running.stop()

    asyncio.run(scenario())
    handled = boundary.handled_events(log)
    assert isinstance(handled[0][1], Started)
    replayed = handled[1 : 1 + len(records)]
    assert [encode_event(e) for _, e in replayed] == records  # type: ignore[arg-type]
    during = [op for i, op in log.find("wal", "write") if i < replayed[-1][0]]
    assert not boundary.flatten(boundary.wal_data_records(op) for op in during)
    before = dict(boundary.own_sent_messages(first_run.log, first_run.public_key)).values()
    own_2 = [m for m in before if m.height == 2]
    assert len(own_2) == 2  # our proposal and our prevote of height 2 ...
    replayed_events = [e for _, e in replayed]
    for message in own_2:  # ... came back from the log ...
        assert _as_event(message) in replayed_events
    again = boundary.own_sent_messages(log, first_run.public_key)
    prevote = next(m for m in own_2 if not isinstance(m, Proposal))
    assert prevote in [m for _, m in again]  # ... and the prevote is sent again, identical


def _as_event(message: Proposal | Vote) -> ProposalReceived | VoteReceived:
    if isinstance(message, Proposal):
        return ProposalReceived(message)
    return VoteReceived(message)
