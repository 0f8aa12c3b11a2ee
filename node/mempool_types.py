"""What the mempool answers and counts: the checker's verdict, the outcome of adding a
transaction, the refusal codes of its own, and the counters (kept apart from ``node.mempool`` so
that module holds only the pool itself)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from consensus.ledger.txs import ValidUntil
from consensus.types import Hash32
from node.errors import NodeError

CODE_OK = 0
CODE_MALFORMED = 1
"""Same number as ``consensus.ledger.codes.Code.MALFORMED`` (used here for oversize txs)."""
CODE_BAD_NONCE = 7
"""Same number as ``consensus.ledger.codes.Code.BAD_NONCE`` (a nonce already pending)."""
CODE_EXPIRED = 4
"""Same number as ``consensus.ledger.codes.Code.EXPIRED`` (its valid_until has passed)."""


class AdmissionCode(enum.IntEnum):
    """Refusals of the mempool that are not ledger receipt codes (numbered from 101, clear of
    ``consensus.ledger.codes.Code``); CheckTx answers carry them with codespace "depochain"."""

    NONCE_TOO_FAR = 101
    """The nonce is more than ``[mempool].nonce_window`` past the submitter's next one."""
    SUBMITTER_LIMIT = 102
    """The submitter already has ``[mempool].submitter_txs_max`` txs (or bytes) waiting."""
    TTL_EXPIRED = 103
    """Dropped after waiting longer than ``[mempool].ttl_s``."""


@dataclass(slots=True)
class CheckResult:
    """What the checker (ledger rules against the latest state) says about one transaction.

    Not frozen, though nothing changes one: one is built per transaction checked, and a frozen
    dataclass's ``__init__`` (an ``object.__setattr__`` per field) costs about three times as
    much."""

    code: int
    """0 = acceptable; anything else is the rejection code the receipt would carry."""
    log: str
    """Why, in words (empty when accepted)."""
    sender: str
    """Who orders this transaction (the submitter id); nonces are ordered per sender."""
    nonce: int
    signature_ok: bool | None
    """Signature verdict; None when the checker never got as far as the signature."""
    valid_until: ValidUntil | None = None
    """The tx's own expiry (so the pool can find what a block makes expire without a recheck
    of everything; None: the checker does not say, and only a full recheck sees expiry)."""

    @property
    def is_accepted(self) -> bool:
        return self.code == CODE_OK


Check = Callable[[bytes], CheckResult]


@dataclass(frozen=True, slots=True)
class Accepted:
    tx_hash: Hash32


@dataclass(frozen=True, slots=True)
class AlreadyKnown:
    tx_hash: Hash32
    is_committed: bool = False
    """True when it was recently committed; False when it is waiting in the pool."""


@dataclass(frozen=True, slots=True)
class Rejected:
    tx_hash: Hash32
    code: int
    log: str
    is_recheck: bool = False
    """True when the tx had been accepted and failed the recheck after a block."""


AddOutcome = Accepted | AlreadyKnown | Rejected


class MempoolFull(NodeError):
    """No room for this transaction now (count or bytes); the client should try later."""

    def __init__(self, tx_hash: Hash32, reason: str) -> None:
        super().__init__(f"mempool full ({reason}); try later")
        self.tx_hash = tx_hash
        self.reason = reason


class TxStatus(enum.Enum):
    PENDING = "pending"
    COMMITTED = "committed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MempoolStats:
    size: int
    size_bytes: int
    accepted_total: int
    already_known_total: int
    rejected_total: int
    full_total: int
    committed_total: int
    recheck_rejected_total: int
    submitter_limited_total: int = 0
    expired_total: int = 0


@dataclass(frozen=True, slots=True)
class UpdateReport:
    """What :meth:`Mempool.update_after_block` did (for logs, metrics and client notices)."""

    removed_committed: int
    rejected: tuple[Rejected, ...]
