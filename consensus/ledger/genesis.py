"""Genesis: the document every node starts from, and the initial ledger state it defines.

``GenesisDoc.from_json_dict`` validates strictly (unknown fields, wrong types, bad ids and keys
are all errors), then :func:`build_genesis_state` checks the cross-references (issuers, settlement
assets, account banks, validator set, governance) and builds the height-0 state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consensus.codec import CodecError
from consensus.errors import ConsensusError
from consensus.ledger.codes import AMOUNT_MAX, InvalidTransaction
from consensus.ledger.commitment import build_state_tree, root_of
from consensus.ledger.controls import DEFAULT_GOVERNANCE, GovernanceParams
from consensus.ledger.records import (
    Account,
    AccountStatus,
    Balance,
    ChainConfig,
    Instrument,
    InstrumentKind,
    InstrumentSpec,
    Participant,
    ParticipantStatus,
    Role,
    ValidatorSchedule,
    validate_account_id,
    validate_amount,
    validate_instrument_id,
)
from consensus.ledger.rules.validators import compute_validator_set, validate_validator_set
from consensus.ledger.state import (
    CONFIG_KEY,
    GOVERNANCE_KEY,
    META_KEY,
    SCHEDULE_KEY,
    State,
    encode_meta,
)
from consensus.ledger.view import BlockView


class GenesisError(ConsensusError, ValueError):
    """The genesis document is invalid."""


@dataclass(frozen=True, slots=True)
class GenesisBalance:
    account_id: str
    instrument_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class GenesisDoc:
    chain_id: str
    genesis_time_ms: int
    governance: GovernanceParams
    """Optional in the JSON form (``"governance"``); defaults: ``controls.DEFAULT_GOVERNANCE``."""
    participants: tuple[Participant, ...]
    instruments: tuple[InstrumentSpec, ...]
    accounts: tuple[Account, ...]
    """Accounts as opened at genesis (ACTIVE, not frozen, no balances counted yet)."""
    balances: tuple[GenesisBalance, ...]

    @classmethod
    def from_json_dict(cls, doc: Any) -> GenesisDoc:
        try:
            return _doc_from_json(doc)
        except (CodecError, KeyError, TypeError, ValueError) as exc:
            raise GenesisError(f"invalid genesis: {exc}") from exc

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "genesis_time_ms": self.genesis_time_ms,
            "governance": _governance_to_json(self.governance),
            "participants": [_participant_to_json(p) for p in self.participants],
            "instruments": [_instrument_to_json(i) for i in self.instruments],
            "accounts": [_account_to_json(a) for a in self.accounts],
            "balances": [
                {"account": b.account_id, "instrument": b.instrument_id, "amount": b.amount}
                for b in self.balances
            ],
        }


_TOP_FIELDS = {
    "chain_id",
    "genesis_time_ms",
    "participants",
    "instruments",
    "accounts",
    "balances",
}


_GOVERNANCE_FIELDS = (
    "threshold_numerator",
    "threshold_denominator",
    "change_delay_heights",
    "trust_window_heights",
    "validators_min",
)


def _governance_from_json(item: Any) -> GovernanceParams:
    f = _fields(item, set(_GOVERNANCE_FIELDS), "governance")
    return GovernanceParams.from_wire([f[name] for name in _GOVERNANCE_FIELDS])


def _governance_to_json(params: GovernanceParams) -> dict[str, Any]:
    return dict(zip(_GOVERNANCE_FIELDS, params.to_wire(), strict=True))


def _fields(item: Any, names: set[str], what: str) -> dict[str, Any]:
    if type(item) is not dict or set(item) != names:
        raise GenesisError(f"{what}: expected exactly the fields {sorted(names)}")
    return item


def _hex(text: Any) -> bytes:
    if type(text) is not str:
        raise GenesisError("expected a hex string")
    return bytes.fromhex(text)


def _list(value: Any, what: str, read: Callable[[Any], Any]) -> tuple[Any, ...]:
    if type(value) is not list:
        raise GenesisError(f"{what}: expected a list")
    return tuple(read(item) for item in value)


_ROLES = {role.name.lower(): role for role in Role}
_KINDS = {kind.name.lower(): kind for kind in InstrumentKind}
_STATUSES = {status.name.lower(): status for status in ParticipantStatus}
_PARTICIPANT_FIELDS = {
    "id",
    "name",
    "roles",
    "status",
    "keys",
    "threshold",
    "validator_key",
    "validator_power",
    "lei",
    "bic",
}


def _participant_from_json(item: Any) -> Participant:
    f = _fields(item, _PARTICIPANT_FIELDS, "participant")
    roles = sorted(int(_ROLES[name]) for name in _list(f["roles"], "roles", str))
    vkey = f["validator_key"]
    return Participant.from_wire(
        [
            f["id"],
            f["name"],
            roles,
            int(_STATUSES[f["status"]]),
            sorted(_list(f["keys"], "keys", _hex)),
            f["threshold"],
            None if vkey is None else _hex(vkey),
            f["validator_power"],
            f["lei"],
            f["bic"],
        ]
    )


def _participant_to_json(p: Participant) -> dict[str, Any]:
    return {
        "id": p.participant_id,
        "name": p.name,
        "roles": sorted(role.name.lower() for role in p.roles),
        "status": p.status.name.lower(),
        "keys": [key.hex() for key in p.keys],
        "threshold": p.threshold,
        "validator_key": None if p.validator_key is None else p.validator_key.hex(),
        "validator_power": p.validator_power,
        "lei": p.lei,
        "bic": p.bic,
    }


_INSTRUMENT_FIELDS = {"id", "kind", "issuer", "currency", "decimals", "settlement_asset"}


def _instrument_from_json(item: Any) -> InstrumentSpec:
    f = _fields(item, _INSTRUMENT_FIELDS, "instrument")
    kind = int(_KINDS[f["kind"]])
    wire = [f["id"], kind, f["issuer"], f["currency"], f["decimals"], f["settlement_asset"]]
    return InstrumentSpec.from_wire(wire)


def _instrument_to_json(spec: InstrumentSpec) -> dict[str, Any]:
    return {
        "id": spec.instrument_id,
        "kind": spec.kind.name.lower(),
        "issuer": spec.issuer,
        "currency": spec.currency,
        "decimals": spec.decimals,
        "settlement_asset": spec.settlement_asset,
    }


_ACCOUNT_FIELDS = {"id", "keys", "threshold", "kyc_ref_hash", "kyc_expiry_ms"}


def _account_from_json(item: Any) -> Account:
    f = _fields(item, _ACCOUNT_FIELDS, "account")
    keys = sorted(_list(f["keys"], "keys", _hex))
    wire = [
        f["id"],
        int(AccountStatus.ACTIVE),
        keys,
        f["threshold"],
        _hex(f["kyc_ref_hash"]),
        f["kyc_expiry_ms"],
        False,
        0,
    ]
    return Account.from_wire(wire)


def _account_to_json(a: Account) -> dict[str, Any]:
    return {
        "id": a.account_id,
        "keys": [key.hex() for key in a.keys],
        "threshold": a.threshold,
        "kyc_ref_hash": a.kyc_ref_hash.hex(),
        "kyc_expiry_ms": a.kyc_expiry_ms,
    }


def _balance_from_json(item: Any) -> GenesisBalance:
    f = _fields(item, {"account", "instrument", "amount"}, "balance")
    return GenesisBalance(
        validate_account_id(f["account"]),
        validate_instrument_id(f["instrument"]),
        validate_amount(f["amount"]),
    )


def _doc_from_json(doc: Any) -> GenesisDoc:
    if type(doc) is dict and "governance" in doc:
        f = _fields(doc, {*_TOP_FIELDS, "governance"}, "genesis")
        governance = _governance_from_json(f["governance"])
    else:
        f, governance = _fields(doc, _TOP_FIELDS, "genesis"), DEFAULT_GOVERNANCE
    config = ChainConfig.from_wire([f["chain_id"], f["genesis_time_ms"]])
    return GenesisDoc(
        chain_id=config.chain_id,
        genesis_time_ms=config.genesis_time_ms,
        governance=governance,
        participants=_list(f["participants"], "participants", _participant_from_json),
        instruments=_list(f["instruments"], "instruments", _instrument_from_json),
        accounts=_list(f["accounts"], "accounts", _account_from_json),
        balances=_list(f["balances"], "balances", _balance_from_json),
    )


# ---------------------------------------------------------------------------------------------
# genesis state


def build_genesis_state(doc: GenesisDoc) -> State:
    """The height-0 state. Raises GenesisError if the document is inconsistent."""
    view = BlockView(State(({},)))
    try:
        view.write(CONFIG_KEY, ChainConfig(doc.chain_id, doc.genesis_time_ms))
        view.write(GOVERNANCE_KEY, doc.governance)
        _put_participants(view, doc)
        _put_instruments(view, doc)
        _put_accounts(view, doc)
        _put_balances(view, doc)
    except InvalidTransaction as exc:
        raise GenesisError(f"invalid genesis: {exc.log}") from exc
    view.commit_tx()
    changes = view.compute_changes()
    kv: dict[bytes, bytes | None] = {k: v for k, v in changes.items() if v is not None}
    tree = build_state_tree(((k, v) for k, v in kv.items() if v is not None), 0)
    kv[META_KEY] = encode_meta(0, root_of(tree))
    return State((kv,), None, tree)


def _put_participants(view: BlockView, doc: GenesisDoc) -> None:
    for participant in doc.participants:
        if view.get_participant(participant.participant_id) is not None:
            raise GenesisError(f"duplicate participant {participant.participant_id}")
        view.put_participant(participant)
    if not any(p.is_active and p.has_role(Role.BANK) for p in doc.participants):
        raise GenesisError("no active bank: governance would be unreachable")
    validators = compute_validator_set(view)
    validate_validator_set(validators, doc.governance)
    view.write(SCHEDULE_KEY, ValidatorSchedule(((1, validators),)))


def _put_instruments(view: BlockView, doc: GenesisDoc) -> None:
    # settlement assets first, so deposit tokens can name them in any document order
    ordered = sorted(doc.instruments, key=lambda s: s.kind is not InstrumentKind.SETTLEMENT_ASSET)
    for spec in ordered:
        issuer = view.get_participant(spec.issuer)
        if view.get_instrument(spec.instrument_id) is not None:
            raise GenesisError(f"duplicate instrument {spec.instrument_id}")
        role = Role.BANK if spec.kind is InstrumentKind.DEPOSIT_TOKEN else Role.SETTLEMENT_AGENT
        if issuer is None or not issuer.has_role(role):
            raise GenesisError(f"{spec.instrument_id}: issuer lacks role {role.name.lower()}")
        if spec.settlement_asset is not None:
            asset = view.get_instrument(spec.settlement_asset)
            if asset is None or asset.spec.kind is not InstrumentKind.SETTLEMENT_ASSET:
                raise GenesisError(f"{spec.instrument_id}: unknown settlement asset")
            if asset.spec.currency != spec.currency:
                raise GenesisError(f"{spec.instrument_id}: settlement asset currency differs")
            if asset.spec.decimals != spec.decimals:
                raise GenesisError(f"{spec.instrument_id}: settlement asset decimals differ")
        view.put_instrument(Instrument(spec, 0))


def _put_accounts(view: BlockView, doc: GenesisDoc) -> None:
    for account in doc.accounts:
        bank = view.get_participant(account.bank)
        if bank is None or not (bank.has_role(Role.BANK) or bank.has_role(Role.SETTLEMENT_AGENT)):
            raise GenesisError(f"{account.account_id}: not kept by a bank or agent")
        if view.get_account(account.account_id) is not None:
            raise GenesisError(f"duplicate account {account.account_id}")
        if account.kyc_expiry_ms <= doc.genesis_time_ms:
            raise GenesisError(f"{account.account_id}: KYC expired at genesis")
        view.put_account(account)


def _put_balances(view: BlockView, doc: GenesisDoc) -> None:
    for entry in doc.balances:
        account = view.get_account(entry.account_id)
        instrument = view.get_instrument(entry.instrument_id)
        if account is None or instrument is None:
            raise GenesisError(f"balance of unknown {entry.account_id}/{entry.instrument_id}")
        if account.bank != instrument.spec.issuer:
            raise GenesisError(f"{entry.account_id} cannot hold {entry.instrument_id}")
        old = view.get_balance(entry.account_id, entry.instrument_id)
        if not old.is_zero:
            raise GenesisError(f"duplicate balance {entry.account_id}/{entry.instrument_id}")
        if instrument.supply + entry.amount > AMOUNT_MAX:
            raise GenesisError(f"{entry.instrument_id}: supply overflows")
        view.put_balance(entry.account_id, entry.instrument_id, old, Balance(entry.amount, 0, 0))
        view.put_instrument(Instrument(instrument.spec, instrument.supply + entry.amount))
