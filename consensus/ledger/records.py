"""The ledger's stored records: participants, instruments, accounts, balances, chain config.

Each record is a frozen dataclass with a positional wire form. ``from_wire`` is strict (raises
only ``CodecError``) because records also arrive from disk after a restart and inside txs.
Identifiers are ASCII with a fixed shape so they can sit inside state keys unambiguously.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger.codes import (
    AMOUNT_MAX,
    DECIMALS_MAX,
    GOVERNED_VALIDATORS_MAX,
    ID_LEN_MAX,
    KEYS_MAX,
    REF_LEN_MAX,
    SCHEDULE_ENTRIES_MAX,
    VOTING_POWER_MAX,
)
from consensus.types import HASH_LEN, PUBLIC_KEY_LEN, PublicKey

_PARTICIPANT_ID = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_REF = re.compile(r"[\x20-\x7e]*")


def validate_participant_id(value: Value, name: str = "participant_id") -> str:
    text = codec.expect_str(value, name, 32, 1)
    if not _PARTICIPANT_ID.fullmatch(text):
        raise CodecError(f"{name}: {text!r} is not an upper-case participant id")
    return text


def validate_currency(value: Value, name: str = "currency") -> str:
    text = codec.expect_str(value, name, 3, 3)
    if not _CURRENCY.fullmatch(text):
        raise CodecError(f"{name}: {text!r} is not an ISO 4217 style code")
    return text


_INSTRUMENT_ID = re.compile(r"[A-Z][A-Z0-9_]{0,31}:[A-Z]{3}")
_ACCOUNT_ID = re.compile(r"[A-Z][A-Z0-9_]{0,31}/[A-Za-z0-9_.\-]{1,48}")


def validate_instrument_id(value: Value, name: str = "instrument_id") -> str:
    """``<ISSUER>:<CCY>``, e.g. ``BANKA:USD`` or ``CB:USD``."""
    # One regex, no helper calls: this runs several times per transaction.
    if type(value) is not str or not _INSTRUMENT_ID.fullmatch(value):
        raise CodecError(f"{name}: not an <ISSUER>:<CCY> instrument id")
    return value


def validate_account_id(value: Value, name: str = "account_id") -> str:
    """``<BANK>/<local>``: the prefix names the bank that keeps the account."""
    if type(value) is not str or len(value) > ID_LEN_MAX or not _ACCOUNT_ID.fullmatch(value):
        raise CodecError(f"{name}: not a <BANK>/<local> account id of <= {ID_LEN_MAX} chars")
    return value


def account_bank(account_id: str) -> str:
    return account_id.partition("/")[0]


def is_account_id(submitter: str) -> bool:
    return "/" in submitter


def validate_ref(value: Value, name: str, min_len: int = 0) -> str:
    """A printable-ASCII reference (funding, payout, legal basis...)."""
    text = codec.expect_str(value, name, REF_LEN_MAX, min_len)
    if not _REF.fullmatch(text):
        raise CodecError(f"{name}: only printable ASCII allowed")
    return text


def validate_amount(value: Value, name: str = "amount") -> int:
    """A transferable amount: 0 < amount < 2**63."""
    if type(value) is not int or not 0 < value <= AMOUNT_MAX:
        raise CodecError(f"{name}: expected an int in 1..{AMOUNT_MAX}")
    return value


def _read_public_key(value: Value) -> PublicKey:
    return PublicKey(codec.expect_bytes(value, "public_key", PUBLIC_KEY_LEN))


def validate_keyset(keys_value: Value, threshold_value: Value) -> tuple[tuple[PublicKey, ...], int]:
    """M-of-N keys: 1..KEYS_MAX distinct keys, sorted; 1 <= threshold <= len(keys)."""
    keys = codec.expect_list_of(keys_value, "keys", _read_public_key, KEYS_MAX)
    codec.sorted_unique(keys, "keys")
    threshold = codec.expect_int(threshold_value, "threshold", 1, max(1, len(keys)))
    if not keys:
        raise CodecError("keys: at least one key")
    return keys, threshold


class Role(enum.IntEnum):
    BANK = 1
    SETTLEMENT_AGENT = 2
    REGULATOR = 3
    VALIDATOR = 4


class ParticipantStatus(enum.IntEnum):
    ACTIVE = 1
    SUSPENDED = 2


def _read_enum(enum_type: type[enum.IntEnum], value: Value, name: str) -> int:
    number = codec.expect_int(value, name, 0, 255)
    try:
        return int(enum_type(number))
    except ValueError as exc:
        raise CodecError(f"{name}: unknown value {number}") from exc


@dataclass(frozen=True, slots=True)
class Participant:
    """A bank, settlement agent, regulator or validator operator."""

    participant_id: str
    name: str
    roles: frozenset[Role]
    status: ParticipantStatus
    keys: tuple[PublicKey, ...]
    """Keys that sign for this participant, ``threshold`` of them required."""
    threshold: int
    validator_key: PublicKey | None
    """Consensus key; counts in the validator set with role VALIDATOR, ACTIVE and power > 0."""
    validator_power: int
    lei: str
    bic: str

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_active(self) -> bool:
        return self.status is ParticipantStatus.ACTIVE

    def to_wire(self) -> list[Value]:
        return [
            self.participant_id,
            self.name,
            sorted(int(role) for role in self.roles),
            int(self.status),
            list(self.keys),
            self.threshold,
            self.validator_key,
            self.validator_power,
            self.lei,
            self.bic,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> Participant:
        pid, name, roles, status, keys, threshold, vkey, power, lei, bic = codec.expect_fields(
            value, "participant", 10
        )
        role_numbers = codec.expect_list_of(
            roles, "roles", lambda r: _read_enum(Role, r, "role"), len(Role)
        )
        codec.sorted_unique(role_numbers, "roles")
        keyset, checked_threshold = validate_keyset(keys, threshold)
        return cls(
            participant_id=validate_participant_id(pid),
            name=validate_ref(name, "name"),
            roles=frozenset(Role(number) for number in role_numbers),
            status=ParticipantStatus(_read_enum(ParticipantStatus, status, "status")),
            keys=keyset,
            threshold=checked_threshold,
            validator_key=codec.expect_optional(vkey, _read_public_key),
            validator_power=codec.expect_int(power, "validator_power", 0, VOTING_POWER_MAX),
            lei=validate_ref(lei, "lei"),
            bic=validate_ref(bic, "bic"),
        )


class InstrumentKind(enum.IntEnum):
    DEPOSIT_TOKEN = 1
    SETTLEMENT_ASSET = 2


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """What INSTRUMENT_REGISTER declares; the id is always ``<issuer>:<currency>``."""

    instrument_id: str
    kind: InstrumentKind
    issuer: str
    currency: str
    decimals: int
    settlement_asset: str | None
    """For a deposit token, the settlement asset (same currency) it settles in; else None."""

    def to_wire(self) -> list[Value]:
        return [
            self.instrument_id,
            int(self.kind),
            self.issuer,
            self.currency,
            self.decimals,
            self.settlement_asset,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> InstrumentSpec:
        iid, kind, issuer, currency, decimals, settlement = codec.expect_fields(
            value, "instrument", 6
        )
        spec = cls(
            instrument_id=validate_instrument_id(iid),
            kind=InstrumentKind(_read_enum(InstrumentKind, kind, "kind")),
            issuer=validate_participant_id(issuer, "issuer"),
            currency=validate_currency(currency),
            decimals=codec.expect_int(decimals, "decimals", 0, DECIMALS_MAX),
            settlement_asset=codec.expect_optional(settlement, validate_instrument_id),
        )
        if spec.instrument_id != f"{spec.issuer}:{spec.currency}":
            raise CodecError("instrument_id must be <issuer>:<currency>")
        is_token = spec.kind is InstrumentKind.DEPOSIT_TOKEN
        if is_token != (spec.settlement_asset is not None):
            raise CodecError("exactly deposit tokens name a settlement asset")
        return spec


@dataclass(frozen=True, slots=True)
class Instrument:
    """A registered instrument with its outstanding supply."""

    spec: InstrumentSpec
    supply: int
    """Outstanding supply: everything minted minus everything redeemed (cross-bank legs
    included). Caps bind this, never a lifetime counter, so a token cannot wear out."""

    def to_wire(self) -> list[Value]:
        return [self.spec.to_wire(), self.supply]

    @classmethod
    def from_wire(cls, value: Value) -> Instrument:
        spec, supply = codec.expect_fields(value, "instrument_record", 2)
        return cls(InstrumentSpec.from_wire(spec), codec.expect_uint(supply, "supply", AMOUNT_MAX))


class AccountStatus(enum.IntEnum):
    ACTIVE = 1
    CLOSED = 2


@dataclass(frozen=True, slots=True)
class Account:
    """A customer (or settlement) account kept by one bank; holds that bank's instruments."""

    account_id: str
    status: AccountStatus
    keys: tuple[PublicKey, ...]
    threshold: int
    kyc_ref_hash: bytes
    """Hash of the bank's KYC file for the owner; the file itself stays off-chain."""
    kyc_expiry_ms: int
    frozen: bool
    """True while any authority's account freeze stands (``controls.FreezeBook`` holds the
    orders): blocks debits and credits."""
    balance_count: int
    """How many non-zero balance records exist; an account closes only when this is 0."""
    bank: str = field(init=False, repr=False, compare=False)
    """The bank that keeps the account (the id's prefix); derived, not stored."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "bank", account_bank(self.account_id))

    def to_wire(self) -> list[Value]:
        return [
            self.account_id,
            int(self.status),
            list(self.keys),
            self.threshold,
            self.kyc_ref_hash,
            self.kyc_expiry_ms,
            self.frozen,
            self.balance_count,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> Account:
        aid, status, keys, threshold, kyc, expiry, frozen, count = codec.expect_fields(
            value, "account", 8
        )
        keyset, checked_threshold = validate_keyset(keys, threshold)
        return cls(
            account_id=validate_account_id(aid),
            status=AccountStatus(_read_enum(AccountStatus, status, "status")),
            keys=keyset,
            threshold=checked_threshold,
            kyc_ref_hash=codec.expect_bytes(kyc, "kyc_ref_hash", HASH_LEN),
            kyc_expiry_ms=codec.expect_uint(expiry, "kyc_expiry_ms", AMOUNT_MAX),
            frozen=codec.expect_bool(frozen, "frozen"),
            balance_count=codec.expect_uint(count, "balance_count", 1024),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """One account's position in one instrument. Invariant: free >= 0."""

    total: int
    frozen: int
    held: int
    """Funds in escrow (holds are not part of the core set yet; always 0 for now)."""

    @property
    def free(self) -> int:
        return self.total - self.frozen - self.held

    @property
    def is_zero(self) -> bool:
        return not (self.total or self.frozen or self.held)

    def to_wire(self) -> list[Value]:
        return [self.total, self.frozen, self.held]

    @classmethod
    def from_wire(cls, value: Value) -> Balance:
        total, frozen, held = codec.expect_fields(value, "balance", 3)
        balance = cls(
            codec.expect_uint(total, "total", AMOUNT_MAX),
            codec.expect_uint(frozen, "frozen", AMOUNT_MAX),
            codec.expect_uint(held, "held", AMOUNT_MAX),
        )
        if balance.free < 0:
            raise CodecError("balance: free < 0")
        return balance


ZERO_BALANCE = Balance(0, 0, 0)


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """Network constants fixed at genesis (governance parameters: ``controls``)."""

    chain_id: str
    genesis_time_ms: int

    def to_wire(self) -> list[Value]:
        return [self.chain_id, self.genesis_time_ms]

    @classmethod
    def from_wire(cls, value: Value) -> ChainConfig:
        chain_id, genesis_time = codec.expect_fields(value, "chain_config", 2)
        return cls(
            codec.expect_str(chain_id, "chain_id", 50, 1),
            codec.expect_uint(genesis_time, "genesis_time_ms", AMOUNT_MAX),
        )


ValidatorPowers = tuple[tuple[PublicKey, int], ...]
"""(public_key, power) pairs sorted by key: the ledger's record of a validator set
(``consensus.validators.ValidatorSet.of`` makes the replica's ValidatorSet of it)."""


@dataclass(frozen=True, slots=True)
class ValidatorSchedule:
    """Validator sets by the first height they sign: ((from_height, set), ...) ascending."""

    entries: tuple[tuple[int, ValidatorPowers], ...]

    def to_wire(self) -> list[Value]:
        return [[height, [list(pair) for pair in vset]] for height, vset in self.entries]

    @classmethod
    def from_wire(cls, value: Value) -> ValidatorSchedule:
        def read_pair(item: Value) -> tuple[PublicKey, int]:
            key, power = codec.expect_fields(item, "validator", 2)
            return _read_public_key(key), codec.expect_int(power, "power", 1, VOTING_POWER_MAX)

        def read_entry(item: Value) -> tuple[int, ValidatorPowers]:
            height, vset = codec.expect_fields(item, "schedule_entry", 2)
            pairs = codec.expect_list_of(vset, "validators", read_pair, GOVERNED_VALIDATORS_MAX)
            codec.sorted_unique([key for key, _ in pairs], "validators")
            return codec.expect_uint(height, "from_height"), pairs

        entries = codec.expect_list_of(value, "schedule", read_entry, SCHEDULE_ENTRIES_MAX)
        codec.sorted_unique([height for height, _ in entries], "schedule")
        return cls(entries)
