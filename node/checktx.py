"""CheckTx: the admission test a transaction passes before it enters the mempool.

The mempool is the network's front door, so this admits only what can execute soon, and only
from whom it claims to be. In order: it decodes; it is for this chain; its signatures verify
(once: the mempool caches the verdict, so neither the recheck nor the block verifies again); its
submitter exists and is active and enough of the submitter's REGISTERED keys signed (the same
authentication as ``consensus.ledger.admission``, which keeps such txs out of blocks too); it has
not expired; its nonce is the submitter's next one or at most ``nonce_window - 1`` past it; its
idempotency key is unused. A stranger can therefore neither fill the pool in an invented name
nor take a real submitter's future nonces. Each refusal carries a typed code and a log.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.codec import CodecError
from consensus.ledger import Code, State, UnsignedTx, decode_tx, verify_tx_signatures
from consensus.ledger.admission import BAD_SIGNATURE_REFUSAL, check_submitter
from consensus.ledger.queries import get_nonce, is_idempotency_key_used
from node.mempool import AdmissionCode, CheckResult

NONCE_WINDOW_DEFAULT = 256
"""Matches ``[mempool].nonce_window``'s default."""


def _no_prepared_verdict(_raw: bytes) -> bool | None:
    return None


def make_checker(
    get_state: Callable[[], State],
    get_tip_time_ms: Callable[[], int],
    nonce_window: int = NONCE_WINDOW_DEFAULT,
    take_verdict: Callable[[bytes], bool | None] = _no_prepared_verdict,
) -> Callable[[bytes], CheckResult]:
    """A mempool checker reading the latest committed state on every call. ``take_verdict``
    gives a signature verdict computed ahead (``node.verify_pool``); None: verify here."""

    def check(raw: bytes) -> CheckResult:
        state, tip = get_state(), get_tip_time_ms()
        verdict = take_verdict(raw)
        return check_tx(raw, state, tip, nonce_window=nonce_window, signature_ok=verdict)

    return check


def check_tx(
    raw: bytes,
    state: State,
    tip_time_ms: int,
    *,
    verify_signatures: bool = True,
    nonce_window: int = NONCE_WINDOW_DEFAULT,
    signature_ok: bool | None = None,
) -> CheckResult:
    """Admission verdict for ``raw``. ``verify_signatures=False`` is for the recheck after a
    block: the signatures were verified on admission and cannot have changed (whose keys they
    must be can, and is checked again). ``signature_ok`` is the verdict of
    ``verify_tx_signatures`` on these bytes if it was computed already (on a worker thread)."""
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
    # Who it claims to be before what it costs to prove: a stranger's or an impostor's tx is
    # refused on a state lookup, so junk never buys an Ed25519 verification (the most
    # expensive step, and the one an attacker would make every node pay for).
    failure = check_submitter(state, tx, True)
    if failure is not None:
        return CheckResult(int(failure[0]), failure[1], sender, nonce, signature_ok)
    if signature_ok is None:
        signature_ok = verify_tx_signatures(tx) if verify_signatures else True
    if not signature_ok:
        return CheckResult(
            int(BAD_SIGNATURE_REFUSAL[0]), BAD_SIGNATURE_REFUSAL[1], sender, nonce, False
        )
    code, log = _check_envelope(unsigned, state, tip_time_ms, nonce_window)
    return CheckResult(int(code), log, sender, nonce, True, unsigned.valid_until)


def _check_envelope(
    unsigned: UnsignedTx, state: State, tip_time_ms: int, nonce_window: int
) -> tuple[int, str]:
    # The next block is at least one height and (for time limits) one ms past the tip.
    if unsigned.valid_until.is_expired(state.height + 1, tip_time_ms + 1):
        return Code.EXPIRED, "valid_until has passed"
    next_nonce = get_nonce(state, unsigned.submitter) + 1
    if unsigned.nonce < next_nonce:
        return Code.BAD_NONCE, f"nonce {unsigned.nonce} is used; the next is {next_nonce}"
    if unsigned.nonce >= next_nonce + nonce_window:
        log = (
            f"nonce {unsigned.nonce} is too far ahead: the next is {next_nonce}, "
            f"and at most {nonce_window} nonces from it are accepted"
        )
        return AdmissionCode.NONCE_TOO_FAR, log
    if is_idempotency_key_used(state, unsigned.submitter, unsigned.idempotency_key):
        return Code.DUPLICATE_IDEMPOTENCY_KEY, "idempotency key already used"
    return Code.OK, ""
