"""CheckTx: the cheap admission test a transaction passes before it enters the mempool.

It decodes the tx, checks the chain id, verifies its signatures (the verdict is cached by the
mempool so the block path never verifies again) and runs the stateful envelope checks against
the latest committed state: nonce, idempotency key, expiry. The full rules still run in the
block; this only keeps transactions that cannot succeed out of blocks and gives the submitter an
early, typed answer.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.codec import CodecError
from consensus.ledger import Code, State, UnsignedTx, decode_tx, verify_tx_signatures
from consensus.ledger.queries import get_nonce, is_idempotency_key_used
from node.mempool import CheckResult


def make_checker(
    get_state: Callable[[], State], get_tip_time_ms: Callable[[], int]
) -> Callable[[bytes], CheckResult]:
    """A mempool checker reading the latest committed state on every call."""

    def check(raw: bytes) -> CheckResult:
        return check_tx(raw, get_state(), get_tip_time_ms())

    return check


def check_tx(
    raw: bytes, state: State, tip_time_ms: int, *, verify_signatures: bool = True
) -> CheckResult:
    """Admission verdict for ``raw``. ``verify_signatures=False`` is for the recheck after a
    block: the signatures were verified on admission and cannot have changed."""
    try:
        tx = decode_tx(raw)
    except CodecError as exc:
        return CheckResult(int(Code.MALFORMED), f"malformed transaction: {exc}", "", 0, None)
    unsigned = tx.unsigned
    sender, nonce = unsigned.submitter, unsigned.nonce
    chain_id = state.config.chain_id
    if unsigned.chain_id != chain_id:
        log = f"transaction is for chain {unsigned.chain_id!r}, this is {chain_id!r}"
        return CheckResult(int(Code.WRONG_CHAIN), log, sender, nonce, None)
    signature_ok = verify_tx_signatures(tx) if verify_signatures else True
    if not signature_ok:
        log = "a signature does not verify"
        return CheckResult(int(Code.BAD_SIGNATURE), log, sender, nonce, False)
    code, log = _check_envelope(tx.unsigned, state, tip_time_ms)
    return CheckResult(int(code), log, sender, nonce, True)


def _check_envelope(unsigned: UnsignedTx, state: State, tip_time_ms: int) -> tuple[Code, str]:
    # The next block is at least one height and (for time limits) one ms past the tip.
    if unsigned.valid_until.is_expired(state.height + 1, tip_time_ms + 1):
        return Code.EXPIRED, "valid_until has passed"
    last_nonce = get_nonce(state, unsigned.submitter)
    if unsigned.nonce <= last_nonce:
        return Code.BAD_NONCE, f"nonce {unsigned.nonce} is used; the next is {last_nonce + 1}"
    if is_idempotency_key_used(state, unsigned.submitter, unsigned.idempotency_key):
        return Code.DUPLICATE_IDEMPOTENCY_KEY, "idempotency key already used"
    return Code.OK, ""
