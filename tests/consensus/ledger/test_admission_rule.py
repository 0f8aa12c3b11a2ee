"""The ledger's rule for a block's txs (``consensus.ledger.admission``) and the replica using it:
a block holds only txs authenticated by their submitter's registered keys, in nonce sequence and
unexpired; a proposal holding any other is invalid (prevoted nil), and an honest proposer leaves
such txs out."""

from __future__ import annotations

from dataclasses import replace

from consensus.crypto import sha256
from consensus.events import ProposalReceived, Started, TxsAvailable
from consensus.ledger import Code, execute_block
from consensus.ledger.admission import LedgerTxsRule, check_authenticated
from consensus.ledger.txs import SignedTx, Transfer, ValidUntil, ValidUntilKind, decode_tx
from consensus.proposal import Proposal
from consensus.replica import Replica
from consensus.types import Signature, TimestampMs
from tests.consensus.replica_fixtures import (
    CHAIN,
    PARAMS,
    block_at_1,
    broadcast_votes,
    broadcasts,
    genesis,
    key_of,
    proposal,
    proposer_index,
)

from .world import TxFactory, genesis_state

HEIGHT, TIME_MS = 1, 2_000
PAY = Transfer("BANKA/bob", "BANKA:USD", 1)


def rule() -> LedgerTxsRule:
    return LedgerTxsRule(genesis_state())


def tampered(raw: bytes) -> bytes:
    tx = decode_tx(raw)
    key, sig = tx.signatures[0]
    return SignedTx(tx.unsigned, ((key, Signature(bytes([sig[0] ^ 1]) + sig[1:])),)).encode()


def test_authentic_txs_in_sequence_make_a_valid_block() -> None:
    f = TxFactory()
    txs = [f.raw("BANKA/alice", PAY), f.raw("BANKA/alice", PAY), f.raw("BANKB/carol", PAY)]
    assert rule().get_invalidity(txs, HEIGHT, TIME_MS) is None
    assert rule().select(txs, HEIGHT, TIME_MS) == tuple(txs)


def test_a_tx_signed_by_a_stranger_in_a_real_submitters_name_is_invalid() -> None:
    raw = TxFactory().raw("BANKA/alice", PAY, signers=["stranger"])
    reason = rule().get_invalidity([raw], HEIGHT, TIME_MS)
    assert reason is not None and "NOT_AUTHORIZED" in reason


def test_a_tx_of_an_unknown_submitter_is_invalid() -> None:
    raw = TxFactory().raw("EVIL", PAY, signers=["EVIL"])
    reason = rule().get_invalidity([raw], HEIGHT, TIME_MS)
    assert reason is not None and "UNKNOWN_SUBMITTER" in reason


def test_a_signature_that_does_not_verify_is_invalid() -> None:
    raw = tampered(TxFactory().raw("BANKA/alice", PAY))
    reason = rule().get_invalidity([raw], HEIGHT, TIME_MS)
    assert reason is not None and "BAD_SIGNATURE" in reason


def test_a_cached_false_verdict_is_honoured_and_a_true_one_saves_the_verification() -> None:
    raw = TxFactory().raw("BANKA/alice", PAY)
    lying = LedgerTxsRule(genesis_state(), lambda _h: False)
    assert lying.get_invalidity([raw], HEIGHT, TIME_MS) is not None
    fresh = rule()
    assert fresh.get_invalidity([raw], HEIGHT, TIME_MS) is None
    assert fresh.verdict(sha256(raw)) is True  # remembered for the block's execution


def test_nonces_must_follow_in_the_block() -> None:
    f = TxFactory()
    first, second = f.raw("BANKA/alice", PAY), f.raw("BANKA/alice", PAY)
    gap = TxFactory().raw("BANKA/alice", PAY, nonce=2)
    assert rule().get_invalidity([second, first], HEIGHT, TIME_MS) is not None
    assert rule().get_invalidity([first, first], HEIGHT, TIME_MS) is not None  # a replay
    assert rule().get_invalidity([gap], HEIGHT, TIME_MS) is not None


def test_an_expired_tx_is_invalid() -> None:
    raw = TxFactory().raw("BANKA/alice", PAY, valid_until=ValidUntil(ValidUntilKind.HEIGHT, 0))
    reason = rule().get_invalidity([raw], HEIGHT, TIME_MS)
    assert reason is not None and "EXPIRED" in reason


def test_garbage_and_another_height_are_invalid() -> None:
    assert rule().get_invalidity([b"\x00junk"], HEIGHT, TIME_MS) is not None
    assert rule().get_invalidity([], HEIGHT + 1, TIME_MS) is not None


def test_select_keeps_the_passing_txs_and_drops_what_follows_a_dropped_nonce() -> None:
    f = TxFactory()
    a1, a2 = f.raw("BANKA/alice", PAY), f.raw("BANKA/alice", PAY)
    stranger = TxFactory().raw("BANKA/alice", PAY, signers=["stranger"])
    carol = f.raw("BANKB/carol", PAY)
    assert rule().select([stranger, a1, a2, carol], HEIGHT, TIME_MS) == (a1, a2, carol)
    assert rule().select([tampered(a1), a2, carol], HEIGHT, TIME_MS) == (carol,)


def test_every_tx_of_a_valid_block_consumes_its_nonce() -> None:
    f = TxFactory()
    broke = Transfer("BANKA/bob", "BANKA:USD", 10**12)
    txs = [f.raw("BANKA/alice", broke), f.raw("BANKA/alice", PAY)]
    assert rule().get_invalidity(txs, HEIGHT, TIME_MS) is None
    result = execute_block(genesis_state(), txs, HEIGHT, TIME_MS)
    assert [r.code for r in result.receipts] == [Code.INSUFFICIENT_FREE_BALANCE, Code.OK]


def test_check_authenticated_names_the_failure() -> None:
    state = genesis_state()
    good = decode_tx(TxFactory().raw("BANKA/alice", PAY))
    assert check_authenticated(state, good, True) is None
    bad = check_authenticated(state, good, False)
    assert bad is not None and bad[0] is Code.BAD_SIGNATURE
    stranger = decode_tx(TxFactory().raw("BANKA/alice", PAY, signers=["stranger"]))
    failure = check_authenticated(state, stranger, True)
    assert failure is not None and failure[0] is Code.NOT_AUTHORIZED
    unknown = decode_tx(TxFactory().raw("EVIL", PAY, signers=["EVIL"]))
    failure = check_authenticated(state, unknown, True)
    assert failure is not None and failure[0] is Code.UNKNOWN_SUBMITTER


# -- the replica ------------------------------------------------------------------------------


def replica_with_rule(index: int) -> Replica:
    return Replica(CHAIN, key_of(index), PARAMS, replace(genesis(), txs_rule=rule()))


def test_a_proposal_holding_a_strangers_tx_is_prevoted_nil() -> None:
    me = 0 if proposer_index(1, 0) != 0 else 1
    replica = replica_with_rule(me)
    replica.handle(Started(TimestampMs(1_500)))
    stranger = TxFactory().raw("BANKA/alice", PAY, signers=["stranger"])
    block = block_at_1(txs=(stranger,), proposer=proposer_index(1, 0))
    [vote] = broadcast_votes(replica.handle(ProposalReceived(proposal(block))))
    assert vote.block_hash is None


def test_a_proposal_of_authentic_txs_is_prevoted() -> None:
    me = 0 if proposer_index(1, 0) != 0 else 1
    replica = replica_with_rule(me)
    replica.handle(Started(TimestampMs(1_500)))
    block = block_at_1(txs=(TxFactory().raw("BANKA/alice", PAY),), proposer=proposer_index(1, 0))
    [vote] = broadcast_votes(replica.handle(ProposalReceived(proposal(block))))
    assert vote.block_hash == block.hash


def test_the_proposer_leaves_out_what_the_rule_refuses() -> None:
    replica = replica_with_rule(proposer_index(1, 0))
    f = TxFactory()
    good = f.raw("BANKA/alice", PAY)
    junk = [TxFactory().raw(f"EVIL{i}", PAY, signers=["EVIL"]) for i in range(3)]
    replica.handle(TxsAvailable((junk[0], good, *junk[1:])))
    message = broadcasts(replica.handle(Started(TimestampMs(3_000))))[0]
    assert isinstance(message, Proposal)
    assert message.block.txs == (good,)
