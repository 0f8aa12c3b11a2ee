"""After a block, recheck only the pending transactions whose verdict the block can change.

The admission check (``node.checktx``) of a pending tx of submitter S reads, besides the tx
itself: the chain id; S's participant or account record (exists, active, its keys and
threshold); S's last nonce; whether S used the tx's idempotency key; and the next block's height
and time (for valid_until). Its signatures were verified once, at admission: they never change.
So a block changes that verdict only

* for the submitters of its transactions, and there only for a pending tx whose nonce is at
  most the highest the block holds for that submitter, or whose idempotency key one of the
  block's txs of that submitter carries: a tx consumes its submitter's nonce and idempotency
  key (whatever its outcome), and only its submitter's, and a higher nonce stays admissible
  (the next nonce only grows, so the window only moves on);
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
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class SenderMark:
    """What a block consumed of one submitter, at most (the bound of what to recheck)."""

    nonce_max: int
    """The highest nonce of its txs in the block."""
    keys: frozenset[str]
    """The idempotency keys of its txs in the block."""


RecheckScope = dict[str, SenderMark]


def compute_recheck_scope(txs: Sequence[bytes], receipts: Sequence[Receipt]) -> RecheckScope | None:
    """Per submitter of a block of ``txs`` (with ``receipts``), what it may have consumed; None
    when the block may have changed admission for anyone (recheck everything)."""
    nonces: dict[str, int] = {}
    keys: dict[str, set[str]] = {}
    for raw, receipt in zip(txs, receipts, strict=True):
        try:
            unsigned = decode_tx(raw).unsigned
        except CodecError:
            continue  # a tx that does not decode consumed nothing
        if receipt.code == Code.OK and unsigned.tx_type not in SENDER_LOCAL_TYPES:
            return None
        sender = unsigned.submitter
        nonces[sender] = max(nonces.get(sender, 0), unsigned.nonce)
        keys.setdefault(sender, set()).add(unsigned.idempotency_key)
    return {s: SenderMark(nonce, frozenset(keys[s])) for s, nonce in nonces.items()}


def compute_recheck_senders(
    txs: Sequence[bytes], receipts: Sequence[Receipt]
) -> frozenset[str] | None:
    """The submitters whose pending txs a block may have made inadmissible (None: anyone's)."""
    scope = compute_recheck_scope(txs, receipts)
    return None if scope is None else frozenset(scope)


def is_suspect(scope: RecheckScope, sender: str, nonce: int, raw: bytes) -> bool:
    """Whether the block of ``scope`` can have made ``sender``'s pending tx inadmissible."""
    mark = scope[sender]
    if nonce <= mark.nonce_max:
        return True
    try:
        return decode_tx(raw).unsigned.idempotency_key in mark.keys
    except CodecError:
        return True


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
        scope = None
        if self.is_targeted:
            scope = compute_recheck_scope(block.txs, committed.receipts)
        self.full_total += scope is None
        rejected = self.mempool.recheck_after_block(
            None if scope is None else scope.keys(),
            self.recheck,
            block.height,
            block.header.time_ms,
            lambda sender, nonce, raw: scope is None or is_suspect(scope, sender, nonce, raw),
        )
        if rejected:
            log.info(
                "mempool: %d pending txs dropped by the recheck after block %d",
                len(rejected),
                block.height,
                extra=fields("mempool_recheck", height=block.height),
            )
