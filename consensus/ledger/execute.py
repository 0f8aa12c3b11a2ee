"""The ledger's one entry point: ``execute_block(state, raw_txs, height, time_ms, verdicts)``.

Pure: the parent state is not mutated, the result depends only on the arguments. Per tx:
decode -> chain id -> signatures (cached verdict or verify) -> submitter exists and enough of
its registered keys signed -> nonce is the next one; then expiry -> idempotency key -> submitter
active -> the type's rule.

A receipt is final. A tx that fails before its nonce is known to be the next one (it is not
authenticated, or out of sequence) changes nothing: nobody but the submitter may consume the
submitter's nonce. From there on the tx consumes its nonce and its idempotency key whatever the
outcome: a rejected tx's signed bytes can never be executed again (they would repeat a nonce).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consensus.codec import CodecError
from consensus.ledger.auth import TxContext, authenticate, require_active
from consensus.ledger.codes import LOG_LEN_MAX, Code, InvalidTransaction
from consensus.ledger.commitment import root_of
from consensus.ledger.events import Receipt, TxEvent
from consensus.ledger.records import Account, Participant, ValidatorPowers
from consensus.ledger.rules.admin import (
    apply_account_open,
    apply_account_update,
    apply_instrument_register,
)
from consensus.ledger.rules.forced import apply_forced_transfer
from consensus.ledger.rules.freeze import apply_freeze
from consensus.ledger.rules.governance import (
    apply_governance_params_set,
    apply_participant_change_cancel,
    apply_participant_upsert,
)
from consensus.ledger.rules.holds import (
    apply_hold_approve,
    apply_hold_cancel,
    apply_hold_create,
    apply_hold_execute,
)
from consensus.ledger.rules.pause import apply_pause
from consensus.ledger.rules.policy import apply_policy_set
from consensus.ledger.rules.recovery import apply_account_recovery_cancel
from consensus.ledger.rules.tokens import apply_mint, apply_redeem, apply_transfer
from consensus.ledger.rules.validators import select_validators
from consensus.ledger.state import (
    META_KEY,
    SCHEDULE_KEY,
    State,
    commit_block_changes,
    encode_meta,
    idempotency_key,
)
from consensus.ledger.txs import SignedTx, TxType, UnsignedTx, decode_tx, verify_tx_signatures
from consensus.ledger.view import BlockView
from consensus.types import Hash32, PublicKey

RULES: dict[TxType, Callable[[TxContext, Any], tuple[TxEvent, ...]]] = {
    TxType.PARTICIPANT_UPSERT: apply_participant_upsert,
    TxType.INSTRUMENT_REGISTER: apply_instrument_register,
    TxType.ACCOUNT_OPEN: apply_account_open,
    TxType.ACCOUNT_UPDATE: apply_account_update,
    TxType.MINT: apply_mint,
    TxType.REDEEM: apply_redeem,
    TxType.TRANSFER: apply_transfer,
    TxType.FREEZE: apply_freeze,
    TxType.GOVERNANCE_PARAMS_SET: apply_governance_params_set,
    TxType.PARTICIPANT_CHANGE_CANCEL: apply_participant_change_cancel,
    TxType.PAUSE: apply_pause,
    TxType.HOLD_CREATE: apply_hold_create,
    TxType.HOLD_EXECUTE: apply_hold_execute,
    TxType.HOLD_CANCEL: apply_hold_cancel,
    TxType.FORCED_TRANSFER: apply_forced_transfer,
    TxType.POLICY_SET: apply_policy_set,
    TxType.HOLD_APPROVE: apply_hold_approve,
    TxType.ACCOUNT_RECOVERY_CANCEL: apply_account_recovery_cancel,
}

Verdicts = Mapping[Hash32, bool]
"""tx hash -> verify_tx_signatures(tx), computed once (by the mempool) and reused here."""

ValidatorUpdate = tuple[PublicKey, int]
"""(public_key, new power); power 0 removes the validator. Effective at height + 2."""


@dataclass(frozen=True, slots=True)
class BlockResult:
    state: State
    """The state after the block (the parent state is unchanged)."""
    receipts: tuple[Receipt, ...]
    """One per raw tx, in block order."""
    app_hash: Hash32
    state_changes: Mapping[bytes, bytes | None]
    """Every KV write of the block (None deletes), for storage's atomic batch."""
    validator_updates: tuple[ValidatorUpdate, ...]
    tree_writes: Mapping[bytes, bytes | None] = field(default_factory=dict)
    """The state tree's new nodes, root and stale index entries, for the same atomic batch."""


@dataclass(frozen=True, slots=True)
class PendingBlock:
    """What every tx of a block is executed against: the block's view, chain, height, time."""

    view: BlockView
    chain_id: str
    height: int
    time_ms: int
    verdicts: Verdicts | None


_OK_LOG = ""


def execute_block(
    state: State,
    raw_txs: Sequence[bytes],
    height: int,
    time_ms: int,
    verdicts: Verdicts | None = None,
) -> BlockResult:
    """Execute one block on top of ``state`` (whose height must be ``height - 1``).

    ``verdicts`` maps tx hash -> result of :func:`verify_tx_signatures` computed earlier (by
    the mempool); txs without a verdict are verified here."""
    if height != state.height + 1:
        raise ValueError(f"block {height} does not follow state height {state.height}")
    view = BlockView(state)
    block = PendingBlock(view, state.config.chain_id, height, time_ms, verdicts)
    receipts = tuple(execute_tx(block, raw) for raw in raw_txs)
    changes = view.compute_changes()
    tree, tree_writes = commit_block_changes(state, height, changes)
    app_hash = root_of(tree)
    changes[META_KEY] = encode_meta(height, app_hash)
    new_state = state.with_changes(changes, tree)
    updates: tuple[ValidatorUpdate, ...] = ()
    if SCHEDULE_KEY in changes:
        updates = compute_validator_updates(
            get_validators(state, height + 2), get_validators(new_state, height + 2)
        )
    return BlockResult(new_state, receipts, app_hash, changes, updates, tree_writes)


def execute_tx(block: PendingBlock, raw: bytes) -> Receipt:
    try:
        tx = decode_tx(raw)
    except CodecError as exc:
        return Receipt(Code.MALFORMED, str(exc)[:LOG_LEN_MAX], ())
    view = block.view
    try:
        record, signers = authenticate_in_sequence(block, tx, raw)
    except InvalidTransaction as rejected:  # consumes nothing
        view.discard_tx()
        return Receipt(rejected.code, rejected.log[:LOG_LEN_MAX], ())
    unsigned = tx.unsigned
    used_at = idempotency_key(unsigned.submitter, unsigned.idempotency_key)  # asked twice
    try:
        events = apply_tx(block, unsigned, record, signers, used_at)
    except InvalidTransaction as rejected:  # the rule's writes go; nonce and key are consumed
        view.discard_tx()
        consume_nonce_and_key(block, unsigned, used_at)
        view.commit_tx()
        return Receipt(rejected.code, rejected.log[:LOG_LEN_MAX], ())
    consume_nonce_and_key(block, unsigned, used_at)
    view.commit_tx()
    return Receipt(Code.OK, _OK_LOG, events)


def is_signature_valid(block: PendingBlock, tx: SignedTx, raw: bytes) -> bool:
    if block.verdicts is not None:
        verdict = block.verdicts.get(Hash32(hashlib.sha256(raw).digest()))
        if verdict is not None:
            return verdict
    return verify_tx_signatures(tx)


def authenticate_in_sequence(
    block: PendingBlock, tx: SignedTx, raw: bytes
) -> tuple[Participant | Account, frozenset[PublicKey]]:
    """The checks a tx must pass before it may consume anything: it is for this chain, every
    signature verifies, its submitter exists and enough of its registered keys signed, and its
    nonce is exactly the next one."""
    unsigned = tx.unsigned
    if unsigned.chain_id != block.chain_id:
        raise InvalidTransaction(Code.WRONG_CHAIN, f"tx for chain {unsigned.chain_id}")
    if not is_signature_valid(block, tx, raw):
        raise InvalidTransaction(Code.BAD_SIGNATURE, "a signature does not verify")
    signers = frozenset([key for key, _ in tx.signatures])
    record = authenticate(block.view, unsigned, signers)
    last_nonce = block.view.get_nonce(unsigned.submitter)
    # Exactly the next nonce: with gaps allowed, gossip that delivers n+1 before n would let
    # n+1 commit first and make n fail, losing a transaction its submitter saw accepted.
    if unsigned.nonce != last_nonce + 1:
        raise InvalidTransaction(Code.BAD_NONCE, f"nonce must be {last_nonce + 1}")
    return record, signers


def apply_tx(
    block: PendingBlock,
    unsigned: UnsignedTx,
    record: Participant | Account,
    signers: frozenset[PublicKey],
    used_at: bytes,
) -> tuple[TxEvent, ...]:
    """The checks and the rule of an authenticated tx in sequence (it consumes its nonce and
    key whatever this raises); ``used_at`` is the state key of its idempotency key."""
    if unsigned.valid_until.is_expired(block.height, block.time_ms):
        raise InvalidTransaction(Code.EXPIRED, "valid_until has passed")
    view = block.view
    if view.is_idempotency_key_used_at(used_at):
        raise InvalidTransaction(Code.DUPLICATE_IDEMPOTENCY_KEY, "idempotency key already used")
    require_active(record)
    ctx = TxContext(view, block.height, block.time_ms, unsigned, signers, record)
    return RULES[unsigned.tx_type](ctx, unsigned.body)


def consume_nonce_and_key(block: PendingBlock, unsigned: UnsignedTx, used_at: bytes) -> None:
    """Record the nonce, and the idempotency key (state key ``used_at``) unless an earlier tx
    used it (that tx's height stays the key's answer)."""
    view = block.view
    view.put_nonce(unsigned.submitter, unsigned.nonce)
    if not view.is_idempotency_key_used_at(used_at):
        view.write(used_at, block.height)


def get_validators(state: State, height: int) -> ValidatorPowers:
    """The validator set that signs ``height``: sorted (public_key, power) pairs.

    Known for every height from the state's own height up to height + 2 (later changes
    are not decided yet; earlier sets may have been pruned)."""
    validators = select_validators(BlockView(state).get_schedule(), height)
    if validators is None:
        raise LookupError(f"no validator set retained for height {height}")
    return validators


def compute_validator_updates(
    old: ValidatorPowers, new: ValidatorPowers
) -> tuple[ValidatorUpdate, ...]:
    """CometBFT-style diff: changed or added keys with their power, removed keys with 0."""
    before, after = dict(old), dict(new)
    updates = [(key, power) for key, power in after.items() if before.get(key) != power]
    updates += [(key, 0) for key in before if key not in after]
    return tuple(sorted(updates))
