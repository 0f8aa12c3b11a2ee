"""Receipt codes, the ledger's bounds, and the one exception that rejects a transaction.

A code is part of every receipt and so of consensus: never renumber one, only append.
"""

from __future__ import annotations

import enum

from consensus.errors import ConsensusError


class Code(enum.IntEnum):
    """Outcome of one transaction. 0 is success; everything else is a typed rejection."""

    OK = 0
    MALFORMED = 1
    WRONG_CHAIN = 2
    BAD_SIGNATURE = 3
    EXPIRED = 4
    UNKNOWN_SUBMITTER = 5
    NOT_AUTHORIZED = 6
    BAD_NONCE = 7
    DUPLICATE_IDEMPOTENCY_KEY = 8
    UNKNOWN_ACCOUNT = 9
    UNKNOWN_INSTRUMENT = 10
    UNKNOWN_PARTICIPANT = 11
    ACCOUNT_EXISTS = 12
    INSTRUMENT_EXISTS = 13
    ACCOUNT_FROZEN = 14
    ACCOUNT_CLOSED = 15
    KYC_EXPIRED = 16
    INSUFFICIENT_FREE_BALANCE = 17
    INSTRUMENT_MISMATCH = 18
    LIMIT_EXCEEDED = 19
    BALANCE_NOT_ZERO = 20
    VALIDATOR_SET_INVALID = 21
    GOVERNANCE_UNREACHABLE = 22
    INVALID_ARGUMENT = 23
    PARTICIPANT_INACTIVE = 24
    LEGAL_BASIS_REQUIRED = 25
    DECIMALS_MISMATCH = 26
    """A deposit token's decimals differ from its settlement asset's."""
    DUPLICATE_FUNDING_REF = 27
    """The issuer already minted against this funding reference."""
    ISSUER_SUSPENDED = 28
    """The token's issuer is suspended: its token is not minted, not even by a payment."""
    SETTLEMENT_ACCOUNT_IN_USE = 29
    """A settlement account cannot close while its bank is active."""
    INSUFFICIENT_SETTLEMENT_BALANCE = 30
    """The payer's bank holds too little settlement asset for a cross-bank transfer."""
    VALIDATOR_POWER_SHIFT = 31
    """The change would move 1/3 or more of the voting power within the trust window."""
    VALIDATORS_BELOW_MIN = 32
    """The change would leave fewer validators than the governance minimum."""
    CHANGE_NOT_DUE = 33
    """A participant change without its consent is applied only after its delay."""
    NO_PENDING_CHANGE = 34
    """There is no pending change of this participant to cancel."""
    FREEZE_NOT_PERMITTED = 35
    """This authority may not freeze this account (e.g. a settlement account without the
    settlement agent)."""
    PAUSED = 36
    """The network, an instrument or a participant this transaction moves value through is
    paused."""
    HOLD_EXISTS = 37
    """The payer already has a hold with this id (ids are never reused)."""
    UNKNOWN_HOLD = 38
    HOLD_NOT_ACTIVE = 39
    """The hold was already executed or cancelled."""
    HOLD_NOT_DUE = 40
    """The hold's not-before time has not come (block time)."""
    HOLD_EXPIRED = 41
    """The hold expired (block time): it can only be cancelled, by anyone, as a refund."""
    HOLD_NOT_EXPIRED = 42
    """Before expiry only the executor, the payee (or the payer, if revocable) cancels."""
    HASH_LOCK_MISMATCH = 43
    """The preimage is missing or its sha256 is not the hold's hash lock."""
    TX_LIMIT_EXCEEDED = 44
    """A policy's per-transaction maximum (network, instrument, bank or account) is exceeded.
    (``LIMIT_EXCEEDED`` is a bound of the ledger itself: integer overflow, book sizes.)"""
    DAILY_LIMIT_EXCEEDED = 45
    """A policy's daily maximum of what the payer sends (per UTC day of block time) would be
    exceeded."""
    BALANCE_CAP_EXCEEDED = 46
    """A policy's balance cap on the receiving deposit-token balance would be exceeded."""
    TRAVEL_RULE_MISSING = 47
    """A payment at or above the travel-rule threshold carries no travel-rule record."""
    APPROVALS_MISSING = 48
    """Too few of the named approvers approved (a hold's M-of-N) or co-signed (a forced
    transfer's M-of-N authorities named in the network policy)."""
    ALREADY_APPROVED = 49
    """This approver already approved this hold."""
    RECOVERY_REF_REQUIRED = 50
    """A key recovery (a key replacement the owner did not sign) carries no real reference."""
    RECOVERY_NOT_DUE = 51
    """A key recovery without a second authority applies only after its delay."""
    NO_PENDING_RECOVERY = 52
    """There is no pending key recovery of this account to cancel."""
    AUTHORITY_NOT_PERMITTED = 53
    """Governance's network policy names the authorities that may freeze, pause or force a
    transfer, and the submitter is not among them (its role alone would allow it)."""


class InvalidTransaction(ConsensusError):
    """A transaction broke a ledger rule. Raised by rules, turned into a receipt by execute."""

    def __init__(self, code: Code, log: str) -> None:
        super().__init__(f"{code.name}: {log}")
        self.code = code
        self.log = log


# Bounds. Every size and count the ledger accepts is capped here.
TX_BYTES_MAX = 8 * 1024
MEMO_LEN_MAX = 256
SIGNATURES_MAX = 16
KEYS_MAX = 16
ID_LEN_MAX = 64
REF_LEN_MAX = 128
NAME_LEN_MAX = 128
IDEMPOTENCY_KEY_LEN_MAX = 64
LOG_LEN_MAX = 256
AMOUNT_MAX = 2**63 - 1
"""Amounts, balances and supplies stay strictly below 2**63 (fits a signed 64-bit integer)."""
DECIMALS_MAX = 18
PARTICIPANTS_MAX = 256
GOVERNED_VALIDATORS_MAX = 128
"""Most validators governance may schedule (``consensus.validators.VALIDATORS_MAX`` is the
larger bound of any validator set the core decodes)."""
VOTING_POWER_MAX = 2**40
EVENTS_PER_RECEIPT_MAX = 8
SCHEDULE_ENTRIES_MAX = 16
"""Most validator sets a schedule retains (those in force within the trust window and later);
a change that would need more is refused."""
CHANGE_DELAY_HEIGHTS_MAX = 1_000_000
TRUST_WINDOW_HEIGHTS_MAX = 1_000_000
THRESHOLD_DENOMINATOR_MAX = 1_000
PAUSES_MAX = 64
"""Most pause orders standing at once (network, instrument and participant scopes together)."""
HOLDS_PER_EXECUTE_MAX = 4
"""Most holds one HOLD_EXECUTE settles atomically (each leg emits up to two events)."""
PREIMAGE_LEN_MAX = 64
POLICIES_MAX = 128
"""Most policy orders standing at network, instrument and participant scopes together."""
ACCOUNT_POLICIES_MAX = 4
"""Most policy orders (one per authority) standing on one account."""
APPROVERS_MAX = 8
"""Most approvers a hold or the forced-transfer rule names (N of M-of-N)."""
NAMED_AUTHORITIES_MAX = 32
"""Most authorities governance's network policy names as those that may freeze (or pause)."""
