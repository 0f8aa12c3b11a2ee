"""The deposit-token ledger: a pure state machine from (state, block of raw txs) to a new state.

Public surface (see DOMAIN.md for the rules):

* transactions: :mod:`consensus.ledger.txs` (``UnsignedTx``, bodies, ``sign_tx``, ``decode_tx``,
  ``verify_tx_signatures``);
* execution: :func:`execute_block` -> :class:`BlockResult`; :func:`get_validators`;
* state: :class:`State` (``from_kv``, ``items``, ``get``), queries in
  :mod:`consensus.ledger.queries`;
* genesis: :class:`GenesisDoc`, :func:`build_genesis_state`;
* receipts: :class:`Receipt`, events, :class:`Code`.
"""

from consensus.ledger.codes import Code, Rejected
from consensus.ledger.events import Receipt, decode_receipts, encode_receipts
from consensus.ledger.execute import BlockResult, execute_block, get_validators
from consensus.ledger.genesis import GenesisDoc, GenesisError, build_genesis_state
from consensus.ledger.state import State
from consensus.ledger.txs import (
    SignedTx,
    TxType,
    UnsignedTx,
    ValidUntil,
    ValidUntilKind,
    decode_tx,
    sign_tx,
    verify_tx_signatures,
)

__all__ = [
    "BlockResult",
    "Code",
    "GenesisDoc",
    "GenesisError",
    "Receipt",
    "Rejected",
    "SignedTx",
    "State",
    "TxType",
    "UnsignedTx",
    "ValidUntil",
    "ValidUntilKind",
    "build_genesis_state",
    "decode_receipts",
    "decode_tx",
    "encode_receipts",
    "execute_block",
    "get_validators",
    "sign_tx",
    "verify_tx_signatures",
]
