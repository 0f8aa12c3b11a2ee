"""M-of-N approvals: a hold's named approvers (HOLD_APPROVE, recorded in the hold, before
HOLD_EXECUTE), and the forced-transfer approvers governance names in the network policy
(co-signatures on the FORCED_TRANSFER itself)."""

from __future__ import annotations

import pytest

from consensus.codec import CodecError
from consensus.ledger import Code
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.holds import HoldRef, HoldTerms
from consensus.ledger.policies import ApprovalRule, Limits, PolicyScope, PolicyTerms
from consensus.ledger.txs import (
    ForcedTransfer,
    HoldApprove,
    HoldCreate,
    HoldExecute,
    PolicySet,
)

from .rulebook_world import START_MS, TimedChain
from .world import BANKS, CUSTOMER_FLOAT

HOUR = 3_600_000
APPROVERS = ApprovalRule(2, ("BANKA/bob", "CB", "REG"))


def approved_hold(rule: ApprovalRule | None = APPROVERS) -> HoldTerms:
    return HoldTerms("h1", "BANKB/carol", "BANKA:USD", 300, 0, START_MS + HOUR, None, "CB",
                     False, rule)  # fmt: skip


EXECUTE = HoldExecute((HoldRef("BANKA/alice", "h1", None),))
APPROVE = HoldApprove("BANKA/alice", "h1")


@pytest.fixture
def chain() -> TimedChain:
    chain = TimedChain()
    chain.ok("BANKA/alice", HoldCreate(approved_hold()))
    return chain


def test_hold_executes_only_after_m_of_n_approvals(chain: TimedChain) -> None:
    assert chain.code("CB", EXECUTE) is Code.APPROVALS_MISSING
    assert chain.code("BANKC", APPROVE) is Code.NOT_AUTHORIZED  # not named
    assert chain.code("BANKA/alice", APPROVE) is Code.NOT_AUTHORIZED  # the payer is not named
    assert chain.ok("REG", APPROVE) == (ev.HoldApproved("BANKA/alice", "h1", "REG", 1),)
    assert chain.code("REG", APPROVE) is Code.ALREADY_APPROVED
    assert chain.code("CB", EXECUTE) is Code.APPROVALS_MISSING  # 1 of 2
    assert chain.ok("BANKA/bob", APPROVE) == (ev.HoldApproved("BANKA/alice", "h1", "BANKA/bob", 2),)
    hold = q.get_hold(chain.state, "BANKA/alice", "h1")
    assert hold is not None and hold.approvals == ("BANKA/bob", "REG")
    chain.ok("CB", EXECUTE)
    assert chain.bal("BANKB/carol", "BANKB:USD").total == CUSTOMER_FLOAT + 300


def test_approval_rules_of_the_hold(chain: TimedChain) -> None:
    assert chain.code("REG", HoldApprove("BANKA/alice", "nope")) is Code.UNKNOWN_HOLD
    plain = HoldTerms("h2", "BANKA/bob", "BANKA:USD", 1, 0, START_MS + HOUR, None, None, False)
    chain.ok("BANKA/alice", HoldCreate(plain))
    assert chain.code("REG", HoldApprove("BANKA/alice", "h2")) is Code.INVALID_ARGUMENT
    chain.now = START_MS + HOUR
    assert chain.code("REG", APPROVE) is Code.HOLD_EXPIRED
    unknown = ApprovalRule(1, ("NOBODY",))
    chain.now = START_MS
    bad = HoldTerms("h3", "BANKB/carol", "BANKA:USD", 1, 0, START_MS + HOUR, None, None, False,
                    unknown)  # fmt: skip
    assert chain.code("BANKA/alice", HoldCreate(bad)) is Code.UNKNOWN_PARTICIPANT


def test_approval_rule_is_bounded_and_canonical() -> None:
    with pytest.raises(CodecError):
        ApprovalRule.of_participants([3, ["CB", "REG"]])  # M > N
    with pytest.raises(CodecError):
        ApprovalRule.of_participants([1, ["REG", "CB"]])  # not sorted
    with pytest.raises(CodecError):
        ApprovalRule.of_participants([1, [f"P{i}" for i in range(9)]])  # more than 8
    terms = approved_hold().to_wire()
    with pytest.raises(CodecError):
        HoldTerms.from_wire([*terms[:9], None, None])  # the long form without its extras


FORCE_POLICY = PolicySet(
    PolicyScope.NETWORK, "", PolicyTerms(Limits(), ApprovalRule(2, ("CB", "REG")))
)
FORCE = ForcedTransfer("BANKA/alice", "BANKA/bob", "BANKA:USD", 100, "COURT-1", None)


def test_forced_transfer_needs_the_policy_approvers_cosignatures() -> None:
    chain = TimedChain()
    assert chain.code("REG", FORCE_POLICY) is Code.INVALID_ARGUMENT  # governance's rule only
    chain.ok("BANKA", FORCE_POLICY, signers=list(BANKS))
    assert chain.code("REG", FORCE) is Code.APPROVALS_MISSING
    chain.ok("REG", FORCE, signers=["REG", "CB"])
    assert chain.bal("BANKA/bob", "BANKA:USD").total == CUSTOMER_FLOAT + 100
