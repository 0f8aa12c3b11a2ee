"""The cluster double-sign detector sees a real double sign, and none after a clean restart.

Real node processes, sockets and LevelDB, plus an observer peer. The nodes make no empty blocks,
so the chain only moves when a transaction arrives and every step is the test's doing:

1. one transaction per block until the next height H (> 2) is validator ALONE's to propose at
   round 0;
2. the other three validators are killed; a transaction makes ALONE propose block B at (H, 0)
   and prevote it; alone it can go no further (no quorum, so no round change either); the
   observer sees both messages;
3. ALONE is killed with SIGKILL and restarted:
   - with the TEST-ONLY failpoint ``forget_sign_state`` (sign state and WAL deleted at start) it
     is back at (H, 0) knowing nothing; the same transaction makes it propose a new block (its
     time is later) and prevote that: the observer must report both double signs;
   - restarted normally, its WAL and sign state give back B and its prevote; two validators
     return, H commits (with B if in round 0) and the chain goes on: the observer sees ALONE's
     precommits at H and after, and no double sign.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from consensus.evidence import verify_evidence
from consensus.leader import (
    LeaderWindow,
    compute_proposer_skips,
    compute_window_size,
    get_proposer,
)
from consensus.types import PublicKey
from node.config import NodeConfig
from node.failpoints import FAILPOINT_ENV, Failpoint
from node.rpc.comet.shapes import address
from tests.integration.double_sign import DoubleSign, SignedKind, Slot
from tests.integration.harness import Cluster
from tests.integration.observer import Observer, observed_cluster
from tests.integration.txs import b64, make_transfer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALONE = 3
"""The validator left running, then killed and restarted."""
WAIT_S = 120.0
"""Generous: the machine is shared."""
COMMITTED_FLAG = 2
"""``block_id_flag`` of a validator whose precommit a CometBFT-shaped commit carries."""


def no_empty_blocks(config: NodeConfig) -> NodeConfig:
    return replace(config, consensus=replace(config.consensus, create_empty_blocks=False))


@pytest.fixture
def observed(tmp_path: Path) -> Iterator[tuple[Cluster, Observer]]:
    with observed_cluster(tmp_path / "localnet", configure=no_empty_blocks) as running:
        yield running


class Payer:
    """Signed transfers with consecutive nonces from one demo account."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.key = cluster.account_key("BANKB/bob")
        self.nonce = 0

    def next_tx(self) -> str:
        self.nonce += 1
        chain = self.cluster.info.chain_id
        tx = make_transfer(chain, self.key, "BANKB/bob", "BANKB/carol", "BANKB:USD", 1, self.nonce)
        return b64(tx)

    def submit(self, index: int, tx: str) -> None:
        answer = self.cluster.call(index, "broadcast_tx_sync", tx=tx)
        assert answer["code"] == 0, answer


def commit_until_alone_proposes_next(cluster: Cluster, payer: Payer) -> int:
    """Commit one transaction per block until ALONE proposes round 0 of the next height; that
    height."""
    proposers = cluster.validator_set()
    key = cluster.validator_key(ALONE)
    # Its plain turns come every n heights; leader skipping may give one of them away (if the
    # window shows it absent), so allow a few rounds of the rotation.
    for _ in range(4 * len(proposers) + 2):
        height = cluster.height(ALONE) + 1
        if height > 2 and round_0_proposer(cluster, height) == key:
            return height  # (with blocks behind it, as a validator that lost its files has)
        payer.submit(ALONE, payer.next_tx())
        cluster.wait_height(ALONE, height)
    raise AssertionError("the proposer rotation never reached ALONE")


def round_0_proposer(cluster: Cluster, height: int) -> PublicKey:
    """Round 0's proposer of ``height``: the rotation, skipping validators that none of the last
    W blocks shows present (neither their proposer nor with a precommit in the certificate they
    carry; leader skipping, docs/consensus-leader.md), read from ALONE's RPC."""
    proposers = cluster.validator_set()
    by_address = {address(v.public_key).hex().upper(): v.public_key for v in proposers.validators}
    first = max(1, height - compute_window_size(proposers))
    window = LeaderWindow.empty_after(first - 1)
    for at in range(first, height):
        block = cluster.call(ALONE, "block", height=str(at))["block"]
        present = {by_address[block["header"]["proposer_address"]]}
        present |= {
            proposers.validators[index].public_key
            for index, signature in enumerate(block["last_commit"]["signatures"])
            if signature["block_id_flag"] == COMMITTED_FLAG
        }
        window = window.advanced(at, present)
    skips = compute_proposer_skips(window, proposers, height)
    return get_proposer(proposers, height, 0, skips).public_key


def propose_alone(cluster: Cluster, observer: Observer, payer: Payer) -> tuple[Slot, str]:
    """Steps 1 and 2: the slot of ALONE's proposal at (H, 0), seen by the observer, and the
    transaction in it."""
    height = commit_until_alone_proposes_next(cluster, payer)
    for index in range(cluster.validators):
        if index != ALONE:
            cluster.kill(index)
    tx = payer.next_tx()
    payer.submit(ALONE, tx)
    key = cluster.validator_key(ALONE)
    proposed = Slot(key, height, 0, SignedKind.PROPOSAL)
    prevoted = Slot(key, height, 0, SignedKind.PREVOTE)
    observer.wait_for(
        lambda: observer.get_signed(proposed) and observer.get_signed(prevoted),
        WAIT_S,
        f"ALONE's proposal and prevote at height {height} round 0",
    )
    assert not observer.double_signs(), observer.describe_double_signs()
    return proposed, tx


def double_signs_at(observer: Observer, slots: list[Slot]) -> list[DoubleSign]:
    found = [d for d in observer.double_signs() if d.slot in slots]
    return found if {d.slot for d in found} == set(slots) else []


def test_forgetting_the_sign_state_double_signs_and_the_observer_reports_it(
    observed: tuple[Cluster, Observer],
) -> None:
    cluster, observer = observed
    payer = Payer(cluster)
    proposed, tx = propose_alone(cluster, observer, payer)
    cluster.kill(ALONE)
    cluster.start(ALONE, env={FAILPOINT_ENV: Failpoint.FORGET_SIGN_STATE.env_name})
    cluster.wait_healthy(ALONE)
    payer.submit(ALONE, tx)  # the same request as before the crash
    prevoted = replace(proposed, kind=SignedKind.PREVOTE)
    found = observer.wait_for(
        lambda: double_signs_at(observer, [proposed, prevoted]),
        WAIT_S,
        f"double signs at {proposed} and {prevoted}",
    )
    report = observer.describe_double_signs()
    print("double signs the observer reported:", *report, sep="\n")
    assert {d.slot for d in observer.double_signs()} == {proposed, prevoted}, report
    evidence = next(d.to_evidence() for d in found if d.slot == prevoted)
    assert evidence is not None
    verify_evidence(evidence, cluster.validator_set(), observer.checker.chain_id)


def test_clean_restart_signs_nothing_conflicting_and_keeps_signing(
    observed: tuple[Cluster, Observer],
) -> None:
    cluster, observer = observed
    payer = Payer(cluster)
    proposed, _ = propose_alone(cluster, observer, payer)
    (before,) = observer.get_signed(proposed)
    proposed_block = before.block_hash
    assert proposed_block is not None  # (a proposal always names its block)
    cluster.kill(ALONE)
    cluster.start(ALONE)
    cluster.wait_healthy(ALONE)
    for index in (0, 1):  # with ALONE, a quorum again
        cluster.start(index)
        cluster.wait_healthy(index)
    cluster.wait_height(ALONE, proposed.height)
    payer.submit(ALONE, payer.next_tx())
    key, height = proposed.validator, proposed.height

    def precommitted_at_and_after_height() -> bool:
        return {height, height + 1} <= observer.get_heights(key, SignedKind.PRECOMMIT)

    observer.wait_for(precommitted_at_and_after_height, WAIT_S, f"precommits at {height}, +1")
    assert not observer.double_signs(), observer.describe_double_signs()
    # Whether H commits in round 0 is timing: the returning validators may time the round
    # out before B reaches them (a later round then commits another proposer's block, which is
    # legal: ALONE only prevoted B). A round-0 commit, though, can only be ALONE's B, given
    # back by its WAL; a forgotten B would have been a second proposal, a double sign above.
    commit = cluster.call(ALONE, "commit", height=str(height))["signed_header"]["commit"]
    if int(commit["round"]) == 0:
        assert commit["block_id"]["hash"].lower() == proposed_block.hex(), "H's round 0 is not B"
