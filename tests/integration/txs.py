"""Signed transactions for integration tests, built with the ledger's own types."""

from __future__ import annotations

import base64
import itertools

from consensus.crypto import PrivateKey
from consensus.ledger import SignedTx, UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.types import ChainId

_counter = itertools.count(1)


def make_transfer(
    chain_id: str,
    key: PrivateKey,
    from_account: str,
    to_account: str,
    instrument_id: str,
    amount: int,
    nonce: int,
    idempotency_key: str | None = None,
) -> SignedTx:
    unsigned = UnsignedTx(
        chain_id=ChainId(chain_id),
        submitter=from_account,
        nonce=nonce,
        idempotency_key=idempotency_key or f"test-{nonce}-{next(_counter)}",
        valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**9),
        memo="",
        body=Transfer(to_account, instrument_id, amount),
    )
    return sign_tx(unsigned, [key])


def b64(tx: SignedTx) -> str:
    return base64.b64encode(tx.encode()).decode()
