"""The world the ledger benchmarks run in: a central bank ("CB", the settlement agent) holding
the settlement float of two banks, each a validator issuing a USD deposit token settled in
CB:USD, plus whatever customers a benchmark funds at genesis.

``depochain bench ledger`` and ``depochain bench state`` both build their genesis here, so
their figures are measured over the same participants, instruments and settlement balances.
Every key is derived from a name, so a world is the same on every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consensus import crypto

GENESIS_TIME_MS = 1_700_000_000_000
BANKS = ("BANKA", "BANKB")
SETTLEMENT_FLOAT = 10**15
"""CB:USD each bank holds at the central bank."""


def bench_key(name: str) -> crypto.PrivateKey:
    """The key of ``name`` (a participant, ``<participant>/val`` for its validator key, or an
    account id)."""
    return crypto.PrivateKey(crypto.sha256(b"bench/" + name.encode()))


def participant_json(pid: str, roles: list[str], power: int) -> dict[str, Any]:
    return {
        "id": pid, "name": pid, "roles": roles, "status": "active",
        "keys": [bench_key(pid).public_key.hex()], "threshold": 1,
        "validator_key": bench_key(pid + "/val").public_key.hex() if power else None,
        "validator_power": power, "lei": "", "bic": "",
    }  # fmt: skip


def account_json(aid: str) -> dict[str, Any]:
    return {
        "id": aid, "keys": [bench_key(aid).public_key.hex()], "threshold": 1,
        "kyc_ref_hash": crypto.sha256(aid.encode()).hex(), "kyc_expiry_ms": 2 * GENESIS_TIME_MS,
    }  # fmt: skip


def genesis_doc(
    chain_id: str, customers: Mapping[str, Sequence[str]] | None = None, opening: int = 0
) -> dict[str, Any]:
    """The genesis document (JSON form) of the world on ``chain_id``; ``customers`` maps a bank
    to the ids of its customers, each funded with ``opening`` of the bank's deposit token."""
    participants = [participant_json("CB", ["settlement_agent"], 0)]
    participants += [participant_json(bank, ["bank", "validator"], 10) for bank in BANKS]
    instruments: list[dict[str, Any]] = [
        {"id": "CB:USD", "kind": "settlement_asset", "issuer": "CB", "currency": "USD",
         "decimals": 2, "settlement_asset": None},
    ]  # fmt: skip
    instruments += [
        {"id": f"{bank}:USD", "kind": "deposit_token", "issuer": bank, "currency": "USD",
         "decimals": 2, "settlement_asset": "CB:USD"}
        for bank in BANKS
    ]  # fmt: skip
    accounts = [account_json(f"CB/{bank}") for bank in BANKS]
    balances = [
        {"account": f"CB/{bank}", "instrument": "CB:USD", "amount": SETTLEMENT_FLOAT}
        for bank in BANKS
    ]
    for bank, ids in (customers or {}).items():
        accounts += [account_json(aid) for aid in ids]
        balances += [
            {"account": aid, "instrument": f"{bank}:USD", "amount": opening} for aid in ids
        ]
    return {
        "chain_id": chain_id, "genesis_time_ms": GENESIS_TIME_MS,
        "participants": participants, "instruments": instruments, "accounts": accounts,
        "balances": balances,
    }  # fmt: skip
