"""Transactions: the signed envelope and its canonical wire format (bodies: ``bodies.py``,
re-exported here so ``consensus.ledger.txs`` is the one import for building transactions).

Raw tx bytes are the canonical encoding of ``[unsigned, signatures]``; the tx hash is their
sha256. Signatures cover ``crypto.compute_sign_bytes(TRANSACTION, chain_id, encode(unsigned))``.
Decoding is strict and bounded: any byte string either decodes to exactly one transaction whose
re-encoding gives the same bytes, or raises ``CodecError`` (and nothing else).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import msgpack

from consensus import codec, crypto
from consensus.codec import CodecError, Value
from consensus.ledger.bodies import BODY_TYPES as BODY_TYPES
from consensus.ledger.bodies import AccountOpen as AccountOpen
from consensus.ledger.bodies import AccountRecoveryCancel as AccountRecoveryCancel
from consensus.ledger.bodies import AccountUpdate as AccountUpdate
from consensus.ledger.bodies import Body as Body
from consensus.ledger.bodies import ForcedTransfer as ForcedTransfer
from consensus.ledger.bodies import Freeze as Freeze
from consensus.ledger.bodies import GovernanceParamsSet as GovernanceParamsSet
from consensus.ledger.bodies import HoldApprove as HoldApprove
from consensus.ledger.bodies import HoldCancel as HoldCancel
from consensus.ledger.bodies import HoldCreate as HoldCreate
from consensus.ledger.bodies import HoldExecute as HoldExecute
from consensus.ledger.bodies import InstrumentRegister as InstrumentRegister
from consensus.ledger.bodies import Mint as Mint
from consensus.ledger.bodies import ParticipantChangeCancel as ParticipantChangeCancel
from consensus.ledger.bodies import ParticipantUpsert as ParticipantUpsert
from consensus.ledger.bodies import Pause as Pause
from consensus.ledger.bodies import PolicySet as PolicySet
from consensus.ledger.bodies import Redeem as Redeem
from consensus.ledger.bodies import Transfer as Transfer
from consensus.ledger.bodies import TxType as TxType
from consensus.ledger.codes import (
    AMOUNT_MAX,
    IDEMPOTENCY_KEY_LEN_MAX,
    MEMO_LEN_MAX,
    SIGNATURES_MAX,
    TX_BYTES_MAX,
)
from consensus.ledger.records import (
    validate_account_id,
    validate_participant_id,
)
from consensus.slots import slot_setters
from consensus.types import (
    CHAIN_ID_MAX_LEN,
    PUBLIC_KEY_LEN,
    SIGNATURE_LEN,
    ChainId,
    Hash32,
    PublicKey,
    Signature,
)


class ValidUntilKind(enum.IntEnum):
    HEIGHT = 0
    TIME_MS = 1


_VALID_UNTIL_KINDS = (ValidUntilKind.HEIGHT, ValidUntilKind.TIME_MS)


@dataclass(frozen=True, slots=True)
class ValidUntil:
    """Last block height, or last block time, at which the tx may be included."""

    kind: ValidUntilKind
    value: int

    def is_expired(self, height: int, time_ms: int) -> bool:
        now = height if self.kind is ValidUntilKind.HEIGHT else time_ms
        return now > self.value

    def to_wire(self) -> list[Value]:
        return [int(self.kind), self.value]

    @classmethod
    def from_wire(cls, value: Value) -> ValidUntil:
        if type(value) is not list or len(value) != 2:
            raise CodecError("valid_until: expected [kind, value]")
        kind, limit = value
        if type(kind) is not int or kind not in (0, 1):
            raise CodecError("valid_until.kind: 0 (height) or 1 (time_ms)")
        if type(limit) is not int or not 0 <= limit <= AMOUNT_MAX:
            raise CodecError("valid_until: expected an int in 0..2**63-1")
        # ValidUntil(kind, limit), built slot by slot (consensus/slots.py: why, and why safe)
        until = ValidUntil.__new__(ValidUntil)
        _SET_UNTIL_KIND(until, _VALID_UNTIL_KINDS[kind])
        _SET_UNTIL_VALUE(until, limit)
        return until


_SET_UNTIL_KIND, _SET_UNTIL_VALUE = slot_setters(ValidUntil, "kind", "value")


# ---------------------------------------------------------------------------------------------
# envelope


def validate_submitter(value: Value) -> str:
    if type(value) is not str:
        raise CodecError("submitter: expected a str")
    return validate_account_id(value) if "/" in value else validate_participant_id(value)


def validate_idempotency_key(value: Value) -> str:
    # 1..64 chars of \x21-\x7e: ASCII, printable (\x20-\x7e), not a space. Three str methods
    # cost less than a regex match (tests/consensus/ledger/test_decode_reference.py: same set).
    if (
        type(value) is not str
        or not 0 < len(value) <= IDEMPOTENCY_KEY_LEN_MAX
        or not value.isascii()
        or not value.isprintable()
        or " " in value
    ):
        raise CodecError("idempotency_key: 1..64 printable ASCII chars without spaces")
    return value


@dataclass(frozen=True, slots=True)
class UnsignedTx:
    """Everything a transaction says; what its signatures cover."""

    chain_id: ChainId
    submitter: str
    """Participant id (``BANKA``) or account id (``BANKA/alice``) whose nonce this uses."""
    nonce: int
    """The submitter's last accepted nonce + 1 (strictly increasing, no gaps)."""
    idempotency_key: str
    """Accepted at most once per submitter, ever (e.g. an ISO 20022 UETR)."""
    valid_until: ValidUntil
    memo: str
    body: Body

    @property
    def tx_type(self) -> TxType:
        return self.body.TYPE

    def to_wire(self) -> list[Value]:
        return [
            self.chain_id,
            int(self.body.TYPE),
            self.submitter,
            self.nonce,
            self.idempotency_key,
            self.valid_until.to_wire(),
            self.memo,
            self.body.to_wire(),
        ]

    def sign_payload(self) -> bytes:
        """``codec.encode(self.to_wire())``, without the codec's walk over the value: a tx
        holds no maps (the only values that walk reorders) and its fields were type-checked
        when it was built or decoded, so msgpack's packer already writes the canonical bytes
        (``tests/consensus/ledger/test_codec_roundtrip.py`` checks both agree for every type).
        Every signature check computes this, at admission on the hot path."""
        packed: bytes = msgpack.Packer(use_bin_type=True).pack(self.to_wire())  # packb, unwrapped
        return packed

    @classmethod
    def from_wire(cls, value: Value) -> UnsignedTx:
        # Hand-inlined checks (same rules as codec.expect_*): this is the hot decode path.
        if type(value) is not list or len(value) != 8:
            raise CodecError("tx: expected 8 fields")
        chain, kind, submitter, nonce, key, until, memo, body = value
        if type(chain) is not str or not 0 < len(chain) <= CHAIN_ID_MAX_LEN:
            raise CodecError("chain_id: expected a str of 1..50 chars")
        if type(kind) is not int or not 0 < kind <= _TX_TYPE_COUNT:
            raise CodecError("type: unknown transaction type")
        if type(nonce) is not int or not 0 < nonce <= AMOUNT_MAX:
            raise CodecError("nonce: expected an int in 1..2**63-1")
        if type(memo) is not str or len(memo) > MEMO_LEN_MAX:
            raise CodecError(f"memo: expected a str of <= {MEMO_LEN_MAX} chars")
        if (  # validate_idempotency_key, inlined
            type(key) is not str
            or not 0 < len(key) <= IDEMPOTENCY_KEY_LEN_MAX
            or not key.isascii()
            or not key.isprintable()
            or " " in key
        ):
            raise CodecError("idempotency_key: 1..64 printable ASCII chars without spaces")
        # UnsignedTx(...), built slot by slot (consensus/slots.py: why, and why safe); the
        # readers run in the order of the fields, as the constructor's arguments did.
        tx = UnsignedTx.__new__(UnsignedTx)
        _SET_CHAIN_ID(tx, chain)
        _SET_SUBMITTER(tx, validate_submitter(submitter))
        _SET_NONCE(tx, nonce)
        _SET_IDEMPOTENCY_KEY(tx, key)
        _SET_VALID_UNTIL(tx, ValidUntil.from_wire(until))
        _SET_MEMO(tx, memo)
        _SET_BODY(tx, _BODY_READERS[kind](body))
        return tx


(
    _SET_CHAIN_ID,
    _SET_SUBMITTER,
    _SET_NONCE,
    _SET_IDEMPOTENCY_KEY,
    _SET_VALID_UNTIL,
    _SET_MEMO,
    _SET_BODY,
) = slot_setters(
    UnsignedTx, "chain_id", "submitter", "nonce", "idempotency_key", "valid_until", "memo", "body"
)
_TX_TYPE_COUNT = len(TxType)
_BODY_READERS = {int(kind): body.from_wire for kind, body in BODY_TYPES.items()}

TxSignature = tuple[PublicKey, Signature]


def _read_signature(value: Value) -> TxSignature:
    if type(value) is not list or len(value) != 2:
        raise CodecError("signature: expected [public_key, signature]")
    key, signature = value
    if type(key) is not bytes or len(key) != PUBLIC_KEY_LEN:
        raise CodecError("signature: public key must be 32 bytes")
    if type(signature) is not bytes or len(signature) != SIGNATURE_LEN:
        raise CodecError("signature: signature must be 64 bytes")
    return PublicKey(key), Signature(signature)


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A transaction with its signatures, sorted by public key, one per key."""

    unsigned: UnsignedTx
    signatures: tuple[TxSignature, ...]

    def to_wire(self) -> list[Value]:
        return [self.unsigned.to_wire(), [list(pair) for pair in self.signatures]]

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())

    def tx_hash(self) -> Hash32:
        return compute_tx_hash(self.encode())

    @classmethod
    def from_wire(cls, value: Value) -> SignedTx:
        if type(value) is not list or len(value) != 2:
            raise CodecError("signed_tx: expected [unsigned, signatures]")
        unsigned, signatures = value
        if type(signatures) is not list or not 0 < len(signatures) <= SIGNATURES_MAX:
            raise CodecError(f"signatures: 1..{SIGNATURES_MAX} expected")
        if len(signatures) == 1:  # the common case, without the list and the order check
            pairs: tuple[TxSignature, ...] = (_read_signature(signatures[0]),)
        else:
            pairs = tuple([_read_signature(item) for item in signatures])
            codec.sorted_unique([key for key, _ in pairs], "signatures")
        # SignedTx(...), built slot by slot (consensus/slots.py: why, and why safe)
        tx = SignedTx.__new__(SignedTx)
        _SET_UNSIGNED(tx, UnsignedTx.from_wire(unsigned))
        _SET_SIGNATURES(tx, pairs)
        return tx


_SET_UNSIGNED, _SET_SIGNATURES = slot_setters(SignedTx, "unsigned", "signatures")


def compute_tx_hash(raw: bytes) -> Hash32:
    """A transaction's hash: sha256 of its raw (canonical) bytes, signatures included."""
    return crypto.sha256(raw)


def sign_tx(unsigned: UnsignedTx, keys: Sequence[crypto.PrivateKey]) -> SignedTx:
    """Sign with every key (deduplicated) and return the tx with signatures in canonical order."""
    payload = unsigned.sign_payload()
    by_key = {
        key.public_key: key.sign(crypto.SignPurpose.TRANSACTION, unsigned.chain_id, payload)
        for key in keys
    }
    return SignedTx(unsigned, tuple(sorted(by_key.items())))


def verify_tx_signatures(tx: SignedTx) -> bool:
    """True iff every signature is valid. Pure, so a mempool verdict can be reused in blocks.
    The signed bytes are built once for all of a tx's signatures."""
    unsigned = tx.unsigned
    try:
        message = crypto.compute_sign_bytes(
            crypto.SignPurpose.TRANSACTION, unsigned.chain_id, unsigned.sign_payload()
        )
    except CodecError:
        return False
    return all(crypto.verify_raw(key, message, sig) for key, sig in tx.signatures)


TX_DECODE_MEMO_MAX = 20_000
"""Most decoded txs remembered (a node decodes each tx at admission, on recheck and in the
block; the memo makes that once). A memo of a pure function: only speed depends on it."""
_DECODED: dict[bytes, SignedTx] = {}


def decode_tx(raw: bytes) -> SignedTx:
    """Decode raw tx bytes strictly. Raises only ``CodecError``."""
    if type(raw) is not bytes:
        raise CodecError("tx must be bytes")
    tx = _DECODED.get(raw)
    if tx is None:
        tx = _decode_tx_uncached(raw)
        if len(_DECODED) >= TX_DECODE_MEMO_MAX:
            _DECODED.clear()
        _DECODED[raw] = tx
    return tx


def _decode_tx_uncached(raw: bytes) -> SignedTx:
    if not 0 < len(raw) <= TX_BYTES_MAX:
        raise CodecError(f"tx size {len(raw)} outside 1..{TX_BYTES_MAX}")
    value = codec.unpack(raw, TX_BYTES_MAX)
    try:
        tx = SignedTx.from_wire(value)
    except RecursionError as exc:
        raise CodecError("too deep") from exc
    # from_wire checked every leaf's type, so msgpack's packer gives the canonical encoding;
    # equality rejects every second spelling of the same tx (one tx, one hash). The Packer
    # itself: what msgpack.packb builds, without its keyword-argument wrapper's cost.
    if msgpack.Packer(use_bin_type=True).pack(value) != raw:
        raise CodecError("non-canonical tx encoding")
    return tx
