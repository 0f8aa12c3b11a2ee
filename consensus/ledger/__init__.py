"""The deposit-token ledger: a pure state machine from (state, block of raw txs) to a new state.

Public surface (rules: ``docs/domain.md``):

* transactions: :mod:`consensus.ledger.txs` (``UnsignedTx``, bodies, ``sign_tx``, ``decode_tx``,
  ``verify_tx_signatures``);
* execution: :func:`execute_block` -> :class:`BlockResult`; :func:`get_validators`;
* state: :class:`State` (``from_kv``, ``items``, ``get``), queries in
  :mod:`consensus.ledger.queries`;
* genesis: :class:`GenesisDoc`, :func:`build_genesis_state`;
* receipts: :class:`Receipt`, events, :class:`Code`.

Decisions worth knowing:

* Submitters are participants (``BANKA``) or accounts (``BANKA/alice``: the prefix is the bank
  that keeps the account). Nonces are per submitter and sequential: the last accepted + 1.
* A receipt is final. A tx that is not authenticated (unknown submitter, signatures not by
  enough of its registered keys) or not the submitter's next nonce changes nothing; any other
  tx consumes its nonce and idempotency key even when a rule rejects it (no fee), so its signed
  bytes cannot succeed later. A block may hold only authenticated, in-sequence, unexpired txs
  (:mod:`consensus.ledger.admission`), so every tx in a block consumes its nonce.
* Accounts hold only instruments issued by their bank. The settlement account of bank ``B`` for
  a settlement asset issued by agent ``CB`` is, by convention, the account ``CB/B``.
* Governance transactions are submitted by an active bank and need strictly more than the
  governance fraction of the active banks to sign (each with its own M-of-N keys; default
  > 2/3); INSTRUMENT_REGISTER also needs the issuer's signature. A change of a participant's
  keys, roles or status also needs that participant, or waits out a delay it may cancel in
  (``rules/governance.py``). Validator-set changes take effect at height + 2 and move less
  than 1/3 of the power within the trust window (``rules/validators.py``).
* App hash: the root of the state tree over every state key (``consensus.merkle``, see
  ``docs/state.md``), updated once per block in a batch; it depends on the state alone, and
  membership, absence and one instrument's complete balance list can be proven against it.
"""

from consensus.ledger.codes import Code, InvalidTransaction
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
    "InvalidTransaction",
    "Receipt",
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
