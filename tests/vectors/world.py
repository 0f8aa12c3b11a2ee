"""The fixed inputs every vector is computed from: keys, a small genesis, fourteen transactions and
a three-block chain (blocks, precommits, certificates, one piece of evidence, ledger results).

Everything is a pure function of the constants below: keys come from fixed seeds, times are
fixed. NEVER change an input of an existing vector: the stored vectors pin the bytes these
inputs produce. Add new inputs (and new vectors) instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from consensus import crypto
from consensus.ledger import Code, UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.controls import GovernanceParams
from consensus.ledger.holds import HoldRef, HoldTerms
from consensus.ledger.pauses import PauseScope
from consensus.ledger.policies import ApprovalRule, Limits, PolicyScope, PolicyTerms, TravelRecord
from consensus.ledger.records import Participant, ParticipantStatus, Role
from consensus.ledger.txs import (
    AccountOpen,
    AccountRecoveryCancel,
    AccountUpdate,
    Body,
    ForcedTransfer,
    Freeze,
    GovernanceParamsSet,
    HoldApprove,
    HoldCancel,
    HoldCreate,
    HoldExecute,
    Mint,
    ParticipantUpsert,
    Pause,
    PolicySet,
    Redeem,
    Transfer,
)
from consensus.types import ChainId

CHAIN_ID = ChainId("depochain-vectors")
GENESIS_TIME_MS = 1_700_000_000_000
BLOCK_INTERVAL_MS = 1_000
KYC_EXPIRY_MS = 4_000_000_000_000
SEED_DOMAIN = b"depochain/vectors/"


def seed_of(name: str) -> bytes:
    """The 32-byte Ed25519 seed of key ``name``: sha256("depochain/vectors/" + name)."""
    return crypto.sha256(SEED_DOMAIN + name.encode())


def key(name: str) -> crypto.PrivateKey:
    return crypto.PrivateKey(seed_of(name))


def key_json(name: str) -> dict[str, str]:
    """How a vector names a key: enough for another implementation to rebuild it."""
    return {"name": name, "seed": seed_of(name).hex(), "public_key": key(name).public_key.hex()}


# ---------------------------------------------------------------------------------------------
# genesis: a settlement agent and three banks (all four validate), a regulator, five accounts

VALIDATOR_POWERS = {"CB": 20, "BANKA": 10, "BANKB": 10, "BANKC": 10}


def _participant(pid: str, roles: list[str]) -> dict[str, Any]:
    power = VALIDATOR_POWERS.get(pid, 0)
    return {
        "id": pid,
        "name": f"{pid} Vector Ltd",
        "roles": roles,
        "status": "active",
        "keys": [key(pid).public_key.hex()],
        "threshold": 1,
        "validator_key": key(f"{pid}-validator").public_key.hex() if power else None,
        "validator_power": power,
        "lei": "",
        "bic": "",
    }


def _instrument(issuer: str, settlement_asset: str | None) -> dict[str, Any]:
    return {
        "id": f"{issuer}:USD",
        "kind": "settlement_asset" if settlement_asset is None else "deposit_token",
        "issuer": issuer,
        "currency": "USD",
        "decimals": 2,
        "settlement_asset": settlement_asset,
    }


def _account(account_id: str, owner: str) -> dict[str, Any]:
    return {
        "id": account_id,
        "keys": [key(owner).public_key.hex()],
        "threshold": 1,
        "kyc_ref_hash": crypto.sha256(b"kyc:" + account_id.encode()).hex(),
        "kyc_expiry_ms": KYC_EXPIRY_MS,
    }


def genesis_json() -> dict[str, Any]:
    banks = ("BANKA", "BANKB", "BANKC")
    customers = ("BANKA/alice", "BANKA/bob", "BANKB/carol")
    return {
        "chain_id": CHAIN_ID,
        "genesis_time_ms": GENESIS_TIME_MS,
        "governance": {
            "threshold_numerator": 2,
            "threshold_denominator": 3,
            "change_delay_heights": 100,
            "trust_window_heights": 100,
            "validators_min": 1,
        },
        "participants": [
            _participant("CB", ["settlement_agent", "validator"]),
            *(_participant(bank, ["bank", "validator"]) for bank in banks),
            _participant("REG", ["regulator"]),
        ],
        "instruments": [_instrument("CB", None), *(_instrument(b, "CB:USD") for b in banks)],
        "accounts": [
            *(_account(f"CB/{bank}", bank) for bank in banks),
            *(_account(aid, aid) for aid in customers),
        ],
        "balances": [
            *({"account": f"CB/{b}", "instrument": "CB:USD", "amount": 1_000_000} for b in banks),
            {"account": "BANKA/alice", "instrument": "BANKA:USD", "amount": 10_000},
            {"account": "BANKB/carol", "instrument": "BANKB:USD", "amount": 5_000},
        ],
    }


# ---------------------------------------------------------------------------------------------
# transactions: fourteen, in three blocks; one is rejected by the rules


@dataclass(frozen=True, slots=True)
class TxSpec:
    name: str
    description: str
    unsigned: UnsignedTx
    signers: tuple[str, ...]
    """Names of the keys that sign (see :func:`key`)."""
    expected_code: Code

    @property
    def raw(self) -> bytes:
        return sign_tx(self.unsigned, [key(name) for name in self.signers]).encode()


def _tx(name: str, description: str, submitter: str, nonce: int, body: Body, **kw: Any) -> TxSpec:
    unsigned = UnsignedTx(
        chain_id=CHAIN_ID,
        submitter=submitter,
        nonce=nonce,
        idempotency_key=kw.get("idempotency_key", f"{name}-1"),
        valid_until=kw.get("valid_until", ValidUntil(ValidUntilKind.HEIGHT, 100)),
        memo=kw.get("memo", ""),
        body=body,
    )
    signers = kw.get("signers", (submitter,))
    return TxSpec(name, description, unsigned, signers, kw.get("code", Code.OK))


_AUDITOR = Participant(
    participant_id="AUDIT",
    name="Audit Office",
    roles=frozenset({Role.REGULATOR}),
    status=ParticipantStatus.ACTIVE,
    keys=(key("AUDIT").public_key,),
    threshold=1,
    validator_key=None,
    validator_power=0,
    lei="5493001KJTIIGC8Y1R12",
    bic="AUDTUS33",
)


@functools.cache
def block_txs() -> tuple[tuple[TxSpec, ...], ...]:
    """The txs of blocks 1, 2 and 3."""
    erin_kyc = crypto.sha256(b"kyc:BANKA/erin")
    erin = AccountOpen("BANKA/erin", (key("BANKA/erin").public_key,), 1, erin_kyc, KYC_EXPIRY_MS)
    return (
        (
            _tx("account_open", "BANKA opens BANKA/erin", "BANKA", 1, erin, memo="onboarding"),
            _tx("mint", "BANKA mints 250.00 to erin", "BANKA", 2, _mint()),
        ),
        (
            _tx(
                "transfer_same_bank",
                "alice pays bob 15.00 at the same bank; valid until a block time",
                "BANKA/alice",
                1,
                Transfer("BANKA/bob", "BANKA:USD", 1_500),
                valid_until=ValidUntil(ValidUntilKind.TIME_MS, GENESIS_TIME_MS + 3_600_000),
                memo="lunch",
            ),
            _tx(
                "transfer_cross_bank",
                "erin (BANKA) pays carol (BANKB) 72.50: burn, settle in CB:USD, mint",
                "BANKA/erin",
                1,
                Transfer("BANKB/carol", "BANKA:USD", 7_250),
                idempotency_key="eb7c1f2a-5d44-4e0b-9a51-2f0c6d3e8b19",
            ),
            _tx(
                "participant_upsert",
                "governance (BANKA, BANKB and BANKC: more than 2/3) adds the regulator AUDIT",
                "BANKA",
                3,
                ParticipantUpsert(_AUDITOR),
                signers=("BANKA", "BANKB", "BANKC"),
            ),
        ),
        (
            _tx("redeem", "carol redeems 5.00", "BANKB/carol", 1, _redeem()),
            _tx("freeze", "REG freezes 10.00 of bob's balance", "REG", 1, _freeze()),
            _tx(
                "transfer_rejected",
                "bob tries to pay 50.00 with 5.00 free: INSUFFICIENT_FREE_BALANCE",
                "BANKA/bob",
                1,
                Transfer("BANKA/alice", "BANKA:USD", 5_000),
                code=Code.INSUFFICIENT_FREE_BALANCE,
            ),
            _tx(
                "governance_params_set",
                "governance (all three banks) shortens the change delay to 50 heights",
                "BANKA",
                4,
                GovernanceParamsSet(GovernanceParams(2, 3, 50, 100, 1)),
                signers=("BANKA", "BANKB", "BANKC"),
            ),
            *_rulebook_txs(),
            *_policy_txs(),
        ),
    )


HOLD_SECRET = b"vector-dvp-secret"
HOLD_EXPIRY_MS = GENESIS_TIME_MS + 3_600_000


def _rulebook_txs() -> tuple[TxSpec, ...]:
    """Block 3's pause, holds and forced transfer (protocol 2's rulebook types)."""
    locked = HoldTerms(
        "dvp-1", "BANKB/carol", "BANKA:USD", 2_000, 0, HOLD_EXPIRY_MS,
        crypto.sha256(HOLD_SECRET), "CB", False,
    )  # fmt: skip
    revocable = HoldTerms(
        "esc-2", "BANKA/bob", "BANKA:USD", 300, 0, HOLD_EXPIRY_MS, None, None, True
    )
    return (
        _tx(
            "pause",
            "REG pauses BANKC:USD (nothing else moves it in these blocks)",
            "REG",
            2,
            Pause(PauseScope.INSTRUMENT, "BANKC:USD", True, "REG-NOTICE-3"),
        ),
        _tx(
            "hold_create",
            "alice holds 20.00 for carol (BANKB), hash-locked, executor CB",
            "BANKA/alice",
            2,
            HoldCreate(locked),
        ),
        _tx(
            "hold_execute",
            "CB executes alice's hold with the preimage: a cross-bank leg in CB:USD",
            "CB",
            1,
            HoldExecute((HoldRef("BANKA/alice", "dvp-1", HOLD_SECRET),)),
        ),
        _tx(
            "hold_create_revocable",
            "alice holds 3.00 for bob, revocable by her",
            "BANKA/alice",
            3,
            HoldCreate(revocable),
        ),
        _tx(
            "hold_cancel", "alice cancels it", "BANKA/alice", 4, HoldCancel("BANKA/alice", "esc-2")
        ),
        _tx(
            "forced_transfer",
            "REG takes bob's frozen 10.00 to alice under a court order",
            "REG",
            3,
            ForcedTransfer("BANKA/bob", "BANKA/alice", "BANKA:USD", 1_000, "COURT-ORDER-42", None),
        ),
    )


def _policy_txs() -> tuple[TxSpec, ...]:
    """Block 3's policy, travel-rule record and M-of-N approved hold (protocol 2)."""
    travel = TravelRecord(crypto.sha256(b"ivms101:vector"), "GDDS")
    approved = HoldTerms(
        "apr-4", "BANKA/bob", "BANKA:USD", 100, 0, HOLD_EXPIRY_MS, None, "CB", False,
        ApprovalRule(1, ("REG",)),
    )  # fmt: skip
    threshold = PolicyTerms(Limits(travel_threshold=1_000))
    erin_2 = (key("BANKA/erin-2").public_key,)
    return (
        _tx("policy_set", "REG sets a network travel-rule threshold of 10.00", "REG", 4,
            PolicySet(PolicyScope.NETWORK, "", threshold)),
        _tx("transfer_travel_rule", "alice pays bob 12.00 with a travel-rule record",
            "BANKA/alice", 5, Transfer("BANKA/bob", "BANKA:USD", 1_200, travel)),
        _tx("transfer_travel_rule_missing", "alice pays bob 12.00 without: TRAVEL_RULE_MISSING",
            "BANKA/alice", 6, Transfer("BANKA/bob", "BANKA:USD", 1_200),
            code=Code.TRAVEL_RULE_MISSING),
        _tx("hold_create_approvers", "alice holds 1.00 for bob, REG must approve",
            "BANKA/alice", 7, HoldCreate(approved)),
        _tx("hold_approve", "REG approves it", "REG", 5, HoldApprove("BANKA/alice", "apr-4")),
        _tx("hold_execute_approved", "CB executes the approved hold", "CB", 2,
            HoldExecute((HoldRef("BANKA/alice", "apr-4", None),))),
        _tx("account_update_recovery_delayed",
            "BANKA alone replaces erin's keys: a recovery waiting out the change delay",
            "BANKA", 5, AccountUpdate("BANKA/erin", erin_2, 1, None, None, False, "CASE-7")),
        _tx("account_recovery_cancel", "erin cancels it with her current keys", "BANKA/erin", 2,
            AccountRecoveryCancel("BANKA/erin")),
        _tx("account_update_recovery_seconded",
            "BANKA replaces erin's keys with REG co-signing: a recovery applied at once",
            "BANKA", 6, AccountUpdate("BANKA/erin", erin_2, 1, None, None, False, "CASE-7"),
            signers=("BANKA", "REG")),
        _tx("policy_set_named_authorities",
            "governance names REG alone as the authority that may freeze and pause", "BANKA", 7,
            PolicySet(PolicyScope.NETWORK, "", PolicyTerms(Limits(), None, ("REG",), ("REG",))),
            signers=("BANKA", "BANKB", "BANKC")),
        _tx("freeze_authority_not_permitted",
            "the regulator AUDIT, not named, freezes alice: AUTHORITY_NOT_PERMITTED", "AUDIT", 1,
            Freeze("BANKA/alice", True, None, 0, "AUDIT-CASE-1"),
            code=Code.AUTHORITY_NOT_PERMITTED),
    )  # fmt: skip


def _mint() -> Mint:
    return Mint("BANKA/erin", "BANKA:USD", 25_000, "CORE-DEBIT-0001")


def _redeem() -> Redeem:
    return Redeem("BANKB/carol", "BANKB:USD", 500, "PAYOUT-0001", None)


def _freeze() -> Freeze:
    return Freeze("BANKA/bob", False, "BANKA:USD", 1_000, "COURT-ORDER-42")


def all_txs() -> tuple[TxSpec, ...]:
    return tuple(spec for block in block_txs() for spec in block)
