"""The short recheck after a block (node.mempool_recheck) drops exactly what the full recheck
drops, with the same codes, block after block, on a real chain over a real LevelDB store.

Two mempools get the same submissions: one is rechecked in full after every block (every
pending tx against the new state, as the node did before), the other only for the block's
submitters, the txs whose valid_until passed, and in full after a block that can rewrite
records. The blocks hold transfers from interleaved submitters (with gaps, repeats, short
valid_untils by height and by time), and now and then a bank's key rotation or closing of an
account, some of them never seen by either pool. Afterwards both pools must hold the same txs
and report the same status and rejection for every tx ever submitted, while the short recheck
checked far fewer txs.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from consensus.crypto import sha256
from consensus.ledger import decode_tx
from consensus.ledger.codes import Code
from consensus.ledger.events import Receipt
from consensus.ledger.queries import get_nonce
from consensus.ledger.txs import AccountUpdate, Transfer, ValidUntil, ValidUntilKind
from consensus.types import Hash32, Height
from node.chain import Chain, CommittedBlock
from node.checktx import check_tx, make_checker
from node.mempool import Check, CheckResult, Mempool
from node.mempool_recheck import BlockRecheck, compute_recheck_senders
from node.storage import LevelDBStore
from tests.consensus.ledger import world
from tests.node.ledger_blocks import _certify, _make_block, make_genesis

PAYERS = ("BANKA/alice", "BANKA/bob", "BANKB/carol", "BANKC/dave")
PAYEE = {
    "BANKA/alice": ("BANKA/bob", "BANKA:USD"),
    "BANKA/bob": ("BANKA/alice", "BANKA:USD"),
    "BANKB/carol": ("CB/BANKB", "BANKB:USD"),
    "BANKC/dave": ("CB/BANKC", "BANKC:USD"),
}
BLOCKS = 14


class Submitter:
    """Signed txs of the payers with their keys as the chain knows them (rotations tracked)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.factory = world.TxFactory()
        self.next_nonce = dict.fromkeys(PAYERS, 1)
        self.signer = {payer: payer for payer in PAYERS}
        self.bank_nonce = dict.fromkeys(world.BANKS, 1)

    def transfer(self, payer: str, height: int, time_ms: int) -> bytes:
        roll = self.rng.random()
        nonce = self.next_nonce[payer]
        if roll < 0.1:
            nonce += self.rng.randrange(1, 3)  # a gap
        elif roll < 0.15:
            nonce = max(1, nonce - 1)  # a nonce used or pending already
        else:
            self.next_nonce[payer] += 1
        until = ValidUntil(ValidUntilKind.HEIGHT, 10**9)
        if self.rng.random() < 0.15:
            until = ValidUntil(ValidUntilKind.HEIGHT, height + self.rng.randrange(0, 3))
        elif self.rng.random() < 0.15:
            until = ValidUntil(ValidUntilKind.TIME_MS, time_ms + self.rng.randrange(0, 3000))
        payee, instrument = PAYEE[payer]
        body = Transfer(payee, instrument, 1)
        signer = self.signer[payer]
        return self.factory.raw(payer, body, [signer], nonce=nonce, valid_until=until)

    def rotate_or_close(self) -> bytes:
        """A bank rotates one of its customers' keys (or tries to close the account, which
        fails while it holds money: a receipt that is not OK)."""
        payer = self.rng.choice(PAYERS[:2])
        bank = payer.split("/")[0]
        close = self.rng.random() < 0.3
        new_signer = f"{payer}-rotated-{self.rng.randrange(10**6)}"
        keys = None if close else (world.key(new_signer).public_key,)
        body = AccountUpdate(payer, keys, None if close else 1, None, None, close)
        if not close:
            self.signer[payer] = new_signer
        nonce = self.bank_nonce[bank]
        self.bank_nonce[bank] += 1
        return self.factory.raw(bank, body, nonce=nonce)


class Counted:
    def __init__(self, check: Check) -> None:
        self.check, self.calls = check, 0

    def __call__(self, raw: bytes) -> CheckResult:
        self.calls += 1
        return self.check(raw)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_short_recheck_drops_exactly_what_the_full_recheck_drops(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    store = LevelDBStore(tmp_path / "store")
    try:
        chain = Chain(make_genesis(), store)
        admit = make_checker(lambda: chain.state, lambda: chain.tip_time_ms, 8)
        full = Counted(lambda raw: check_tx(raw, chain.state, chain.tip_time_ms, nonce_window=8,
                                            verify_signatures=False))  # fmt: skip
        short = Counted(full.check)
        pools = [Mempool(10_000, 1 << 24, 8192, admit) for _ in range(2)]
        block_recheck = BlockRecheck(pools[1], short)
        submitter = Submitter(rng)
        seen: list[Hash32] = []
        for _ in range(BLOCKS):
            height, time_ms = chain.height + 1, chain.tip_time_ms
            for _ in range(rng.randrange(5, 25)):
                raw = submitter.transfer(rng.choice(PAYERS), height, time_ms)
                seen.append(sha256(raw))
                for pool in pools:
                    pool.add(raw)
            committed = _commit_next(chain, pools[0], submitter, rng)
            pools[0].update_after_block(committed.tx_hashes, full)
            pools[1].update_after_block(committed.tx_hashes, None)
            block_recheck.on_commit(committed)
            assert _contents(pools[0]) == _contents(pools[1])
        for tx_hash in seen:
            assert pools[0].get_status(tx_hash) == pools[1].get_status(tx_hash)
            assert pools[0].get_rejection(tx_hash) == pools[1].get_rejection(tx_hash)
        assert pools[0].stats() == pools[1].stats()
        assert pools[0].stats().recheck_rejected_total > 0
        assert short.calls < full.calls  # and it is shorter, even with that many admin txs
    finally:
        store.close()


def _commit_next(
    chain: Chain, pool: Mempool, submitter: Submitter, rng: random.Random
) -> CommittedBlock:
    """The next block: what the ledger takes of the pool (each sender's run from its next
    nonce), sometimes with an admin tx no pool has seen; committed with a certificate."""
    height = Height(chain.height + 1)
    reaped = pool.reap(
        rng.randrange(3, 30), 1 << 22, lambda sender: get_nonce(chain.state, sender) + 1
    )
    extra = (submitter.rotate_or_close(),) if rng.random() < 0.3 else ()
    block_time = world.GENESIS_TIME_MS + 1000 * height
    first = _from_another_node(chain, pool, submitter, rng) if rng.random() < 0.5 else ()
    txs = chain.txs_rule.select((*first, *reaped, *extra), height, block_time)
    block = _make_block(chain, height, txs)
    return chain.commit(block, _certify(chain, block))


def _from_another_node(
    chain: Chain, pool: Mempool, submitter: Submitter, rng: random.Random
) -> tuple[bytes, ...]:
    """A payer's tx of its next nonce that went to another node, not to these pools: it takes
    the nonce of the pooled one, and sometimes the idempotency key of a later pooled one."""
    pending = [decode_tx(raw).unsigned for raw in pool.reap(10_000, 1 << 30)]
    if not pending:
        return ()
    target = rng.choice(pending)
    payer = target.submitter
    later = [tx for tx in pending if tx.submitter == payer and tx.nonce > target.nonce]
    key = rng.choice(later).idempotency_key if later and rng.random() < 0.5 else None
    payee, instrument = PAYEE[payer]
    nonce = get_nonce(chain.state, payer) + 1
    signer = submitter.signer[payer]
    raw = submitter.factory.raw(
        payer, Transfer(payee, instrument, 2), [signer], nonce=nonce, idempotency_key=key
    )
    return (raw,)


def _contents(pool: Mempool) -> dict[str, list[int]]:
    return {payer: pool.get_pending_nonces(payer) for payer in PAYERS}


def test_a_block_that_can_rewrite_records_asks_for_the_full_recheck() -> None:
    factory = world.TxFactory()
    pay = factory.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))
    rotate = factory.raw(
        "BANKA", AccountUpdate("BANKA/bob", (world.key("x").public_key,), 1, None, None, False)
    )
    ok, refused = _receipt(0), _receipt(7)
    assert compute_recheck_senders([pay], [ok]) == frozenset({"BANKA/alice"})
    assert compute_recheck_senders([pay, rotate], [ok, ok]) is None
    # a refused admin tx changed nothing but its submitter's nonce
    both = frozenset({"BANKA/alice", "BANKA"})
    assert compute_recheck_senders([pay, rotate], [ok, refused]) == both
    assert compute_recheck_senders([b"garbage"], [_receipt(1)]) == frozenset()


def _receipt(code: int) -> Receipt:
    return Receipt(Code(code), "", ())
