"""After a block, recheck only the pending transactions whose verdict the block can change.

The admission check (``node.checktx``) of a pending tx of submitter S reads, besides the tx
itself: the chain id; S's participant or account record (exists, active, its keys and
threshold); S's last nonce; whether S used the tx's idempotency key; and the next block's height
and time (for valid_until). Its signatures were verified once, at admission: they never change.
So a block changes that verdict only

* for the submitters of its transactions: a tx consumes its submitter's nonce and idempotency
  key (whatever its outcome), and only its submitter's;
* for anyone, when one of its transactions that succeeded can rewrite records: participants
  (governance), accounts (opening, updates), the chain's parameters. A block holding one is
  followed by the full recheck; the types below cannot (they move value and holds: at most an
  account's balance count changes, which admission does not read), so they are the only ones
  that allow the short one, and a new type gets the full recheck until it is listed here;
* for a tx whose own valid_until the next block passes, which the mempool finds in its expiry
  index (``node.mempool_expiry``) without checking anything else.

A block whose transactions cannot be decoded changed nothing for them (they consume nothing).
``tests/node/test_mempool_recheck.py`` replays blocks of every kind and checks that this
recheck drops exactly what the full recheck drops.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from consensus.codec import CodecError
from consensus.ledger import Code, decode_tx
from consensus.ledger.events import Receipt
from consensus.ledger.txs import TxType
from node.chain import CommittedBlock
from node.logs import fields
from node.mempool import Check, Mempool

log = logging.getLogger("depochain.mempool")

SENDER_LOCAL_TYPES = frozenset(
    (
        TxType.MINT,
        TxType.REDEEM,
        TxType.TRANSFER,
        TxType.HOLD_CREATE,
        TxType.HOLD_EXECUTE,
        TxType.HOLD_CANCEL,
    )
)
"""Types whose success changes no record an admission check reads, but for their submitter's
nonce and idempotency key."""


def compute_recheck_senders(
    txs: Sequence[bytes], receipts: Sequence[Receipt]
) -> frozenset[str] | None:
    """The submitters whose pending txs a block of ``txs`` (with ``receipts``) may have made
    inadmissible; None when it may have changed that for anyone (recheck everything)."""
    senders: set[str] = set()
    for raw, receipt in zip(txs, receipts, strict=True):
        try:
            unsigned = decode_tx(raw).unsigned
        except CodecError:
            continue  # a tx that does not decode consumed nothing
        senders.add(unsigned.submitter)
        if receipt.code == Code.OK and unsigned.tx_type not in SENDER_LOCAL_TYPES:
            return None
    return frozenset(senders)


class BlockRecheck:
    """The node's recheck after each commit (a commit listener)."""

    def __init__(self, mempool: Mempool, recheck: Check, *, is_targeted: bool = True) -> None:
        self.mempool = mempool
        self.recheck = recheck
        self.is_targeted = is_targeted
        """False: every pending tx is rechecked after every block (as before, for comparison)."""
        self.full_total = 0
        """Blocks after which everything was rechecked."""

    def on_commit(self, committed: CommittedBlock) -> None:
        block = committed.block
        senders = None
        if self.is_targeted:
            senders = compute_recheck_senders(block.txs, committed.receipts)
        self.full_total += senders is None
        rejected = self.mempool.recheck_after_block(
            senders, self.recheck, block.height, block.header.time_ms
        )
        if rejected:
            log.info(
                "mempool: %d pending txs dropped by the recheck after block %d",
                len(rejected),
                block.height,
                extra=fields("mempool_recheck", height=block.height),
            )
