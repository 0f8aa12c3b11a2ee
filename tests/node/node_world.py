"""One validator's node of a three-bank chain, assembled by ``node.app.Node`` in a temp folder,
with the other two banks played by the test (their keys sign proposals and votes).

The node's parts are all real (LevelDB store, WAL, sign-state file, mempool, driver, replica);
only its network is a recorder (tests/node/boundary.py). The driver runs as a task in the
test's event loop; the test waits for what the node sends (polling with a deadline, never a
fixed sleep) and answers as the other validators would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consensus.blocks import ChainTip, build_block
from consensus.crypto import PrivateKey, SignPurpose
from consensus.events import ProposalReceived, VoteReceived
from consensus.ledger import GenesisDoc
from consensus.ledger.txs import Transfer
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.params import ConsensusParams
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.types import ChainId, Hash32, Height, Round, TimestampMs
from node.app import Node, NodeHome
from node.clock import Clock, SystemClock
from node.config import ConsensusSection, NodeConfig, NodeSection, write_config
from node.home import (
    CONFIG_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    VALIDATOR_KEY_FILE,
    genesis_to_json,
    write_key,
)
from tests.consensus.ledger import world
from tests.node.boundary import (
    BoundaryLog,
    RecordingNetwork,
    RecordingReplica,
    SimulatedCrash,
    own_sent_messages,
)

CHAIN_ID = ChainId(world.CHAIN_ID)
ME, PROPOSER_1, OTHERS = "BANKA", "BANKB", ("BANKB", "BANKC")
"""Our node is BANKA's validator; BANKB proposes height 1 round 0, BANKA height 2 round 0."""
WAIT_S = 60.0
"""Deadline for anything the node should do soon; generous because the machine is shared."""
OTHER_BANKS_CLOCK = SystemClock()
"""The clock the other banks stamp their blocks and messages with (the node may have its own)."""


class ManualClock:
    """A node clock that moves only when the test says so (``node.clock.Clock``)."""

    def __init__(self, now_ms: int, monotonic_s: float = 1_000.0) -> None:
        self._now_ms = now_ms
        self._monotonic_s = monotonic_s
        self.monotonic_reads = 0
        """How often the node asked for the monotonic time (each gap check asks once)."""

    def now_ms(self) -> TimestampMs:
        return TimestampMs(self._now_ms)

    def monotonic_s(self) -> float:
        self.monotonic_reads += 1
        return self._monotonic_s

    def advance(self, seconds: float) -> None:
        self._now_ms += round(seconds * 1000)
        self._monotonic_s += seconds


def validator_key(bank: str) -> PrivateKey:
    return world.key(bank + "-val")


def write_home(path: Path, bank: str, **consensus: Any) -> Path:
    """A node home for ``bank``'s validator on the three-bank test chain."""
    ledger = GenesisDoc.from_json_dict(world.genesis_json())
    section = dataclasses.replace(ConsensusSection(), **consensus)
    config = NodeConfig(node=NodeSection(chain_id=world.CHAIN_ID, moniker=bank.lower()))
    config = dataclasses.replace(config, consensus=section)
    path.mkdir(parents=True)
    write_config(config, path / CONFIG_FILE)
    (path / GENESIS_FILE).write_bytes(genesis_to_json(ledger, ConsensusParams()))
    write_key(path / NODE_KEY_FILE, world.key(bank + "-node"))
    write_key(path / VALIDATOR_KEY_FILE, validator_key(bank))
    return path


def transfer(amount: int, nonce: int) -> bytes:
    """Alice pays Bob (same bank): a block with it changes two balances."""
    factory = world.TxFactory()
    return factory.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", amount), nonce=nonce)


class RunningNode:
    """A ``Node`` whose driver runs in this event loop, watched through a boundary log."""

    def __init__(self, home: Path, log: BoundaryLog, clock: Clock | None = None) -> None:
        self.log = log
        self.node = Node(NodeHome.load(home), clock=clock)
        self.network = RecordingNetwork(log)
        self.node.driver.network = self.network
        self.node.driver.replica = RecordingReplica(self.node.replica, log)  # type: ignore[assignment]
        self.node.driver.add_commit_listener(
            lambda committed: log.add("ack", "listener", "", committed.block.height)
        )
        update = self.node.mempool.update_after_block

        def recorded_update(*args: object) -> object:
            log.add("ack", "mempool_update")
            return update(*args)  # type: ignore[arg-type]

        self.node.mempool.update_after_block = recorded_update  # type: ignore[method-assign,assignment]
        self._task: asyncio.Task[None] | None = None

    @property
    def public_key(self) -> bytes:
        key = self.node.home.validator_key
        assert key is not None
        return key.public_key

    def start(self) -> None:
        self._task = asyncio.create_task(self.node.driver.run())

    async def stop(self) -> None:
        """Stop the driver (cancelled, or already ended by a simulated crash), then close the
        WAL and the store."""
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, SimulatedCrash):
            await self._task
        self.node.close()

    async def wait_for(self, what: str, predicate: Callable[[], object]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not predicate():
            assert self._task is not None
            if self._task.done():
                self._task.result()  # raise the driver's error (a SimulatedCrash too)
                raise AssertionError(f"driver stopped before {what}")
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.005)

    def own_sent(self, height: int, round_: int = 0) -> list[Proposal | Vote]:
        return [
            m
            for _, m in own_sent_messages(self.log, self.public_key)  # type: ignore[arg-type]
            if m.height == height and m.round == round_
        ]

    def own_vote(self, vote_type: VoteType, height: int, round_: int = 0) -> Vote | None:
        for message in self.own_sent(height, round_):
            if isinstance(message, Vote) and message.type == vote_type:
                return message
        return None

    async def wait_own_vote(self, vote_type: VoteType, height: int, round_: int = 0) -> Vote:
        await self.wait_for(
            f"our {vote_type.name} at {height}/{round_}",
            lambda: self.own_vote(vote_type, height, round_),
        )
        vote = self.own_vote(vote_type, height, round_)
        assert vote is not None
        return vote

    # -- the other banks -----------------------------------------------------------------------

    def propose_as(
        self, bank: str, round_: int = 0, txs: tuple[bytes, ...] = (), time_ms: int | None = None
    ) -> Proposal:
        """``bank``'s signed proposal of a block on the node's current tip (its time is
        ``time_ms``, or the other banks' clock)."""
        chain = self.node.chain.compute_chain_state()
        tip = ChainTip(
            CHAIN_ID,
            chain.height,
            chain.last_block_hash,
            chain.last_commit,
            chain.last_block_time_ms,
            chain.app_hash,
            chain.validator_sets,
        )
        height = Height(chain.height + 1)
        vset = chain.validator_sets[height]
        key = validator_key(bank)
        now = OTHER_BANKS_CLOCK.now_ms() if time_ms is None else TimestampMs(time_ms)
        block = build_block(tip, self.node.replica.params, vset, key.public_key, now, txs, ())
        payload = compute_proposal_sign_payload(height, round_, -1, block.hash)
        signature = key.sign(SignPurpose.PROPOSAL, CHAIN_ID, payload)
        return Proposal(height, Round(round_), -1, block, key.public_key, signature)

    def vote_as(
        self,
        bank: str,
        vote_type: VoteType,
        height: int,
        block_hash: Hash32 | None,
        round_: int = 0,
    ) -> Vote:
        key = validator_key(bank)
        vset = self.node.replica.get_validator_set(height)
        assert vset is not None
        index = vset.get_index(key.public_key)
        assert index is not None
        payload = compute_vote_sign_payload(vote_type, height, round_, block_hash)
        signature = key.sign(SignPurpose.VOTE, CHAIN_ID, payload)
        return Vote(
            vote_type, Height(height), Round(round_), block_hash, index, key.public_key, signature
        )

    def deliver(self, message: Proposal | Vote) -> None:
        arrival = self.node.clock.now_ms()  # as the router stamps it: the node's own clock
        event = (
            ProposalReceived(message, arrival)
            if isinstance(message, Proposal)
            else VoteReceived(message, arrival)
        )
        assert self.node.driver.deliver_from_peer(event)

    async def agree_on(self, height: int, block_hash: Hash32, others: tuple[str, ...]) -> None:
        """The other banks prevote and precommit ``block_hash`` as our node does."""
        await self.wait_own_vote(VoteType.PREVOTE, height)
        for bank in others:
            self.deliver(self.vote_as(bank, VoteType.PREVOTE, height, block_hash))
        await self.wait_own_vote(VoteType.PRECOMMIT, height)
        for bank in others:
            self.deliver(self.vote_as(bank, VoteType.PRECOMMIT, height, block_hash))
        await self.wait_for(f"commit of {height}", lambda: self.node.chain.height >= height)


async def commit_block_1(running: RunningNode, tx: bytes) -> Proposal:
    """Start the driver; height 1 is BANKB's block with ``tx`` in it, agreed by all three."""
    running.node.mempool.add(tx)
    running.start()
    proposal = running.propose_as(PROPOSER_1, txs=(tx,))
    running.deliver(proposal)
    await running.agree_on(1, proposal.block.hash, OTHERS)
    return proposal
