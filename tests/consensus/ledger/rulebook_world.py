"""A two-currency test world for pauses, holds and forced transfers.

The base world (``world.py``: CB, REG, BANKA-C in USD) plus HKD: ``CB:HKD`` and the HKD tokens of
BANKB and BANKC, with ``BANKC/dave`` holding HKD, and a clock the test moves (holds read block
time). Every block is checked the way ``test_rules.Chain`` checks it: a rejected tx writes only
its submitter's nonce and idempotency key.
"""

from __future__ import annotations

from typing import Any

from consensus.ledger import Code, GenesisDoc, State, build_genesis_state, execute_block
from consensus.ledger import queries as q
from consensus.ledger.queries import BalanceView

from .test_rules import Chain, _ledger_kv, check_rejection_writes
from .world import CUSTOMER_FLOAT, GENESIS_TIME_MS, SETTLEMENT_FLOAT, genesis_json

START_MS = GENESIS_TIME_MS + 60_000
HKD_FLOAT = 50_000


def _hkd(issuer: str, settlement: str | None) -> dict[str, Any]:
    return {
        "id": f"{issuer}:HKD",
        "kind": "settlement_asset" if settlement is None else "deposit_token",
        "issuer": issuer,
        "currency": "HKD",
        "decimals": 2,
        "settlement_asset": settlement,
    }


def two_currency_genesis() -> State:
    doc = genesis_json()
    doc["instruments"] += [_hkd("CB", None), _hkd("BANKB", "CB:HKD"), _hkd("BANKC", "CB:HKD")]
    doc["balances"] += [
        {"account": "CB/BANKB", "instrument": "CB:HKD", "amount": SETTLEMENT_FLOAT},
        {"account": "CB/BANKC", "instrument": "CB:HKD", "amount": SETTLEMENT_FLOAT},
        {"account": "BANKC/dave", "instrument": "BANKC:HKD", "amount": HKD_FLOAT},
    ]
    return build_genesis_state(GenesisDoc.from_json_dict(doc))


class TimedChain(Chain):
    """One tx per block at the chain's own clock ``now`` (tests move it)."""

    def __init__(self, state: State | None = None) -> None:
        super().__init__(two_currency_genesis() if state is None else state)
        self.now = START_MS

    def run(self, submitter: str, body: object, **kw: object) -> tuple[Code, tuple[object, ...]]:
        raw = self.f.raw(submitter, body, **kw)  # type: ignore[arg-type]
        before = _ledger_kv(self.state)
        result = execute_block(self.state, [raw], self.state.height + 1, self.now)
        receipt = result.receipts[0]
        if receipt.code is not Code.OK:
            consumed = check_rejection_writes(before, _ledger_kv(result.state), submitter)
            if not consumed and "nonce" not in kw:
                self.f.nonces[submitter] -= 1
        self.state = result.state
        return receipt.code, receipt.events

    def code(self, submitter: str, body: object, **kw: object) -> Code:
        return self.run(submitter, body, **kw)[0]

    def bal(self, account: str, instrument: str) -> BalanceView:
        return q.get_balance(self.state, account, instrument)

    def supply(self, instrument: str) -> int:
        record = q.get_instrument(self.state, instrument)
        assert record is not None
        return record.supply


__all__ = ["CUSTOMER_FLOAT", "HKD_FLOAT", "SETTLEMENT_FLOAT", "START_MS", "TimedChain"]
