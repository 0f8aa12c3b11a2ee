"""Which transactions a block may hold: each one authenticated and in sequence, checked in block
order against the state the block executes on.

A transaction *passes* here when it decodes, is for this chain, every signature verifies, its
submitter exists and enough of the submitter's registered keys signed (the submitter's M of N),
its nonce is the submitter's next one (counting the block's earlier transactions), and it has
not expired at the block's height and time. Such a transaction consumes its nonce when the block
executes (``execute.py``), so a block of passing transactions makes every receipt final, and a
transaction signed by anyone but its submitter never reaches a block.

:class:`LedgerTxsRule` gives the replica both sides of that rule: ``get_invalidity`` (a proposal
holding a transaction that does not pass is invalid) and ``select`` (the proposer keeps only
passing transactions). :func:`check_authenticated` is the same authentication for the mempool,
and :func:`check_submitter` adds that the submitter is active.

Pure: a function of the immutable state, the transactions and the block's height and time. A
signature verdict comes from a lookup of verdicts computed earlier (the mempool's) or is
computed here once and remembered: a memo of a pure function, only speed depends on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from consensus.codec import CodecError
from consensus.ledger.auth import SubmitterRecords, authenticate, require_active
from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.records import Account, Participant
from consensus.ledger.state import ACCOUNT_PREFIX, PARTICIPANT_PREFIX, State
from consensus.ledger.txs import SignedTx, decode_tx, verify_tx_signatures
from consensus.ledger.view import BlockView
from consensus.types import Hash32

VerdictLookup = Callable[[Hash32], "bool | None"]
"""tx hash -> ``verify_tx_signatures`` of that tx if known, else None."""

VERDICT_MEMO_MAX = 20_000
"""Most verdicts one rule remembers (it lives for one height; a block holds far fewer txs)."""


BAD_SIGNATURE_REFUSAL = (Code.BAD_SIGNATURE, "a signature does not verify")


def _no_verdict(_tx_hash: Hash32) -> bool | None:
    return None


class StateRecords:
    """A submitter's record read straight from a state: what a ``BlockView`` of it would read,
    without building one (with its overlay) for each transaction the mempool checks. A key's
    prefix fixes the type of the record under it, so each ``cast`` states a fact (as in
    ``BlockView``)."""

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        self._state = state

    def get_account(self, account_id: str) -> Account | None:
        return cast("Account | None", self._state.get_record(ACCOUNT_PREFIX + account_id.encode()))

    def get_participant(self, participant_id: str) -> Participant | None:
        key = PARTICIPANT_PREFIX + participant_id.encode()
        return cast("Participant | None", self._state.get_record(key))


def check_authenticated(state: State, tx: SignedTx, signatures_ok: bool) -> tuple[Code, str] | None:
    """Why ``tx`` is not authenticated against ``state`` (None if it is): another chain, a
    signature that does not verify, an unknown submitter, too few of its registered keys."""
    return _authenticate(StateRecords(state), state, tx, signatures_ok)


def check_submitter(state: State, tx: SignedTx, signatures_ok: bool) -> tuple[Code, str] | None:
    """:func:`check_authenticated`, and the submitter may act now (not suspended or closed):
    what the mempool admits."""
    return _authenticate(StateRecords(state), state, tx, signatures_ok, need_active=True)


def _authenticate(
    view: SubmitterRecords,
    state: State,
    tx: SignedTx,
    signatures_ok: bool,
    need_active: bool = False,
) -> tuple[Code, str] | None:
    unsigned = tx.unsigned
    chain_id = state.config.chain_id
    if unsigned.chain_id != chain_id:
        return Code.WRONG_CHAIN, f"transaction is for chain {unsigned.chain_id!r}, not {chain_id!r}"
    if not signatures_ok:
        return BAD_SIGNATURE_REFUSAL
    try:
        record = authenticate(view, unsigned, frozenset([key for key, _ in tx.signatures]))
        if need_active:
            require_active(record)
    except InvalidTransaction as refused:
        return refused.code, refused.log
    return None


@dataclass(frozen=True, slots=True)
class LedgerTxsRule:
    """The rule for the txs of the block after ``state`` (height ``state.height + 1``)."""

    state: State
    known_verdict: VerdictLookup = _no_verdict
    """Verdicts computed earlier (the mempool's); the others are verified here, once."""
    _verified: dict[Hash32, bool] = field(default_factory=dict, compare=False, repr=False)

    def get_invalidity(self, txs: Sequence[bytes], height: int, time_ms: int) -> str | None:
        """Why a block at ``height`` and ``time_ms`` may not hold ``txs`` (None if it may)."""
        if height != self.state.height + 1:
            return f"the ledger state is at height {self.state.height}, not {height - 1}"
        view, next_nonces = BlockView(self.state), dict[str, int]()
        for index, raw in enumerate(txs):
            reason = self._check(view, next_nonces, raw, height, time_ms)
            if reason is not None:
                return f"tx {index}: {reason}"
        return None

    def select(self, txs: Sequence[bytes], height: int, time_ms: int) -> tuple[bytes, ...]:
        """The txs of ``txs`` (in order) that a block at ``height`` and ``time_ms`` may hold;
        a tx left out also leaves out its submitter's later ones (their nonces no longer
        follow)."""
        if height != self.state.height + 1:
            return ()
        view, next_nonces = BlockView(self.state), dict[str, int]()
        return tuple(
            raw for raw in txs if self._check(view, next_nonces, raw, height, time_ms) is None
        )

    def verdict(self, tx_hash: Hash32) -> bool | None:
        """A verdict this rule knows (given or computed), for the block's execution."""
        known = self.known_verdict(tx_hash)
        return self._verified.get(tx_hash) if known is None else known

    def _check(
        self, view: BlockView, next_nonces: dict[str, int], raw: bytes, height: int, time_ms: int
    ) -> str | None:
        try:
            tx = decode_tx(raw)
        except CodecError as exc:
            return f"malformed: {exc}"
        failure = _authenticate(view, self.state, tx, self._verify(tx, raw))
        if failure is not None:
            return f"{failure[0].name}: {failure[1]}"
        unsigned = tx.unsigned
        submitter = unsigned.submitter
        expected = next_nonces.get(submitter)
        if expected is None:
            expected = view.get_nonce(submitter) + 1
        if unsigned.nonce != expected:
            return f"BAD_NONCE: nonce {unsigned.nonce} of {submitter}, the next is {expected}"
        if unsigned.valid_until.is_expired(height, time_ms):
            return "EXPIRED: valid_until has passed"
        next_nonces[submitter] = expected + 1
        return None

    def _verify(self, tx: SignedTx, raw: bytes) -> bool:
        tx_hash = Hash32(hashlib.sha256(raw).digest())
        verdict = self.verdict(tx_hash)
        if verdict is None:
            verdict = verify_tx_signatures(tx)
            if len(self._verified) < VERDICT_MEMO_MAX:
                self._verified[tx_hash] = verdict
        return verdict
