"""The read-only pre-check: the code a transaction would get in the next block, without
changing the state, for accepted and rejected transactions alike."""

from __future__ import annotations

from consensus.ledger import Code, execute_block
from consensus.ledger import queries as q
from consensus.ledger.pauses import PauseScope
from consensus.ledger.txs import Pause, Transfer

from .rulebook_world import START_MS, TimedChain


def test_precheck_answers_what_the_block_would_say_and_changes_nothing() -> None:
    chain = TimedChain()
    ok = chain.f.raw("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 100))
    too_much = chain.f.raw("BANKA/bob", Transfer("BANKA/alice", "BANKA:USD", 10**9))
    before = chain.state.to_kv()
    assert q.precheck_tx(chain.state, ok, START_MS) == (Code.OK, "")
    code, log = q.precheck_tx(chain.state, too_much, START_MS)
    assert code is Code.INSUFFICIENT_FREE_BALANCE and "free balance" in log
    assert q.precheck_tx(chain.state, b"\x01garbage", START_MS)[0] is Code.MALFORMED
    assert chain.state.to_kv() == before  # read-only
    # the block agrees with the pre-check
    result = execute_block(chain.state, [ok, too_much], chain.state.height + 1, START_MS)
    assert [r.code for r in result.receipts] == [Code.OK, Code.INSUFFICIENT_FREE_BALANCE]


def test_precheck_sees_a_pause() -> None:
    chain = TimedChain()
    chain.ok("REG", Pause(PauseScope.INSTRUMENT, "BANKA:USD", True, "REG-1"))
    raw = chain.f.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))
    assert q.precheck_tx(chain.state, raw, START_MS)[0] is Code.PAUSED
