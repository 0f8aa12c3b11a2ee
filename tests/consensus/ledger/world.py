"""A small deterministic test world: a central bank, three banks, a regulator, some accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consensus import crypto
from consensus.ledger import (
    GenesisDoc,
    State,
    UnsignedTx,
    ValidUntil,
    ValidUntilKind,
    build_genesis_state,
    sign_tx,
)
from consensus.ledger.txs import Body

CHAIN_ID = "depochain-test"
GENESIS_TIME_MS = 1_700_000_000_000
FAR_FUTURE_MS = 4_000_000_000_000
BANKS = ("BANKA", "BANKB", "BANKC")
CUSTOMERS = ("BANKA/alice", "BANKA/bob", "BANKB/carol", "BANKC/dave")
SETTLEMENT_FLOAT = 1_000_000
CUSTOMER_FLOAT = 10_000


def key(name: str) -> crypto.PrivateKey:
    return crypto.PrivateKey(crypto.sha256(name.encode()))


def pub(name: str) -> str:
    return key(name).public_key.hex()


def _participant(pid: str, roles: list[str], power: int = 0) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"{pid} Ltd",
        "roles": roles,
        "status": "active",
        "keys": [pub(pid)],
        "threshold": 1,
        "validator_key": pub(pid + "-val") if power else None,
        "validator_power": power,
        "lei": "",
        "bic": "",
    }


def _account(aid: str, owner: str) -> dict[str, Any]:
    return {
        "id": aid,
        "keys": [pub(owner)],
        "threshold": 1,
        "kyc_ref_hash": crypto.sha256(aid.encode()).hex(),
        "kyc_expiry_ms": FAR_FUTURE_MS,
    }


def genesis_json(
    bank_power: int = 10, validators: int = 0, validator_power: int = 10
) -> dict[str, Any]:
    """The world's genesis: each bank a validator of ``bank_power`` (none with 0), plus
    ``validators`` validator-only participants ``VAL000``... of ``validator_power``."""
    participants = [_participant("CB", ["settlement_agent"]), _participant("REG", ["regulator"])]
    bank_roles = ["bank", "validator"] if bank_power else ["bank"]
    participants += [_participant(bank, bank_roles, bank_power) for bank in BANKS]
    participants += [
        _participant(f"VAL{i:03}", ["validator"], validator_power) for i in range(validators)
    ]
    instruments = [_instrument("CB", None)] + [_instrument(bank, "CB:USD") for bank in BANKS]
    accounts = [_account(f"CB/{bank}", bank) for bank in BANKS]
    accounts += [_account(aid, aid) for aid in CUSTOMERS]
    balances = [
        {"account": f"CB/{bank}", "instrument": "CB:USD", "amount": SETTLEMENT_FLOAT}
        for bank in BANKS
    ]
    balances += [
        {"account": aid, "instrument": aid.split("/")[0] + ":USD", "amount": CUSTOMER_FLOAT}
        for aid in CUSTOMERS
    ]
    return {
        "chain_id": CHAIN_ID,
        "genesis_time_ms": GENESIS_TIME_MS,
        "governance": {
            "threshold_numerator": 2,
            "threshold_denominator": 3,
            "change_delay_heights": 5,
            "trust_window_heights": 10,
            "validators_min": 1,
        },
        "participants": participants,
        "instruments": instruments,
        "accounts": accounts,
        "balances": balances,
    }


def _instrument(issuer: str, settlement: str | None) -> dict[str, Any]:
    return {
        "id": f"{issuer}:USD",
        "kind": "settlement_asset" if settlement is None else "deposit_token",
        "issuer": issuer,
        "currency": "USD",
        "decimals": 2,
        "settlement_asset": settlement,
    }


def genesis_state(**kw: int) -> State:
    return build_genesis_state(GenesisDoc.from_json_dict(genesis_json(**kw)))


class TxFactory:
    """Builds signed raw txs with fresh nonces and idempotency keys per submitter."""

    def __init__(self) -> None:
        self.nonces: dict[str, int] = {}
        self.counter = 0

    def next_nonce(self, submitter: str) -> int:
        self.nonces[submitter] = self.nonces.get(submitter, 0) + 1
        return self.nonces[submitter]

    def unsigned(
        self,
        submitter: str,
        body: Body,
        *,
        nonce: int | None = None,
        idempotency_key: str | None = None,
        valid_until: ValidUntil | None = None,
        chain_id: str = CHAIN_ID,
        memo: str = "",
    ) -> UnsignedTx:
        self.counter += 1
        return UnsignedTx(
            chain_id=chain_id,  # type: ignore[arg-type]
            submitter=submitter,
            nonce=self.next_nonce(submitter) if nonce is None else nonce,
            idempotency_key=idempotency_key or f"k{self.counter}",
            valid_until=valid_until or ValidUntil(ValidUntilKind.HEIGHT, 10**9),
            memo=memo,
            body=body,
        )

    def raw(
        self, submitter: str, body: Body, signers: Sequence[str] | None = None, **kw: Any
    ) -> bytes:
        unsigned = self.unsigned(submitter, body, **kw)
        names = [submitter] if signers is None else list(signers)
        return sign_tx(unsigned, [key(name) for name in names]).encode()
