"""Build and sign every core transaction type.

A :class:`Signer` is a submitter id (``BANKA`` or ``BANKA/alice``) with the keys that sign for
it. Each ``build_*`` function returns an :class:`UnsignedTx`; :meth:`Signer.sign` signs it. The
nonce and idempotency key are inputs here; the clients fill them in automatically (the nonce
read via the API, a fresh random idempotency key), see :class:`TxDefaults`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from consensus.crypto import PrivateKey
from consensus.ledger import SignedTx, UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.controls import GovernanceParams
from consensus.ledger.policies import TravelRecord
from consensus.ledger.records import InstrumentSpec, Participant
from consensus.ledger.txs import (
    AccountOpen,
    AccountRecoveryCancel,
    AccountUpdate,
    Body,
    Freeze,
    GovernanceParamsSet,
    InstrumentRegister,
    Mint,
    ParticipantChangeCancel,
    ParticipantUpsert,
    Redeem,
    Transfer,
)
from consensus.types import ChainId, PublicKey

VALIDITY_DEFAULT_MS = 10 * 60 * 1000
"""Default ``valid_until``: ten minutes of block time from now."""


@dataclass(frozen=True, slots=True)
class Signer:
    submitter: str
    keys: tuple[PrivateKey, ...]

    @classmethod
    def from_key_files(cls, submitter: str, paths: Sequence[Path]) -> Signer:
        from node.home import load_key

        return cls(submitter, tuple(load_key(path) for path in paths))

    def sign(self, unsigned: UnsignedTx) -> SignedTx:
        return sign_tx(unsigned, self.keys)


@dataclass(frozen=True, slots=True)
class TxDefaults:
    """The envelope fields other than the body."""

    chain_id: str
    submitter: str
    nonce: int
    idempotency_key: str
    valid_until: ValidUntil
    memo: str = ""


def new_idempotency_key() -> str:
    """A fresh random key (32 hex chars): unique per business operation, reused on retries."""
    return secrets.token_hex(16)


def valid_for(duration_ms: int = VALIDITY_DEFAULT_MS, now_ms: int | None = None) -> ValidUntil:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return ValidUntil(ValidUntilKind.TIME_MS, now + duration_ms)


def make_tx(defaults: TxDefaults, body: Body) -> UnsignedTx:
    return UnsignedTx(
        chain_id=ChainId(defaults.chain_id),
        submitter=defaults.submitter,
        nonce=defaults.nonce,
        idempotency_key=defaults.idempotency_key,
        valid_until=defaults.valid_until,
        memo=defaults.memo,
        body=body,
    )


# One body constructor per core tx type (the API of the SDK; arguments as the ledger names them).


def transfer_body(
    to_account: str, instrument_id: str, amount: int, travel: TravelRecord | None = None
) -> Transfer:
    """``travel``: the travel-rule record (``node.client.policy.travel_record``)."""
    return Transfer(to_account, instrument_id, amount, travel)


def mint_body(account_id: str, instrument_id: str, amount: int, funding_ref: str) -> Mint:
    return Mint(account_id, instrument_id, amount, funding_ref)


def redeem_body(
    account_id: str,
    instrument_id: str,
    amount: int,
    payout_ref: str,
    legal_basis_ref: str | None = None,
) -> Redeem:
    return Redeem(account_id, instrument_id, amount, payout_ref, legal_basis_ref)


def freeze_body(
    account_id: str,
    legal_basis_ref: str,
    *,
    account_frozen: bool = False,
    instrument_id: str | None = None,
    amount: int = 0,
) -> Freeze:
    return Freeze(account_id, account_frozen, instrument_id, amount, legal_basis_ref)


def account_open_body(
    account_id: str,
    keys: Sequence[bytes],
    threshold: int,
    kyc_ref_hash: bytes,
    kyc_expiry_ms: int,
) -> AccountOpen:
    ordered = tuple(PublicKey(key) for key in sorted(set(keys)))
    return AccountOpen(account_id, ordered, threshold, kyc_ref_hash, kyc_expiry_ms)


def account_update_body(
    account_id: str,
    *,
    keys: Sequence[bytes] | None = None,
    threshold: int | None = None,
    kyc_ref_hash: bytes | None = None,
    kyc_expiry_ms: int | None = None,
    close: bool = False,
    recovery_ref: str | None = None,
) -> AccountUpdate:
    """New keys signed by the owner's current keys too rotate them; without the owner they are
    a recovery: give ``recovery_ref`` and have a regulator (or a network-policy approver)
    co-sign, or submit the same body again after the governance change delay."""
    ordered = None if keys is None else tuple(PublicKey(key) for key in sorted(set(keys)))
    return AccountUpdate(
        account_id, ordered, threshold, kyc_ref_hash, kyc_expiry_ms, close, recovery_ref
    )


def account_recovery_cancel_body(account_id: str) -> AccountRecoveryCancel:
    """The account itself (its current keys) cancels a pending key recovery of it."""
    return AccountRecoveryCancel(account_id)


def participant_upsert_body(participant: Participant) -> ParticipantUpsert:
    """Governance: add or change a participant. A change of an existing participant's keys,
    roles or status applies at once only if that participant signs too; otherwise it waits out
    the governance change delay (submit the same body again after it)."""
    return ParticipantUpsert(participant)


def participant_change_cancel_body(participant_id: str) -> ParticipantChangeCancel:
    """The participant itself cancels a pending governance change of its record."""
    return ParticipantChangeCancel(participant_id)


def governance_params_set_body(
    threshold_numerator: int,
    threshold_denominator: int,
    change_delay_heights: int,
    trust_window_heights: int,
    validators_min: int,
) -> GovernanceParamsSet:
    """Governance: new governance parameters (checked here as the ledger checks them)."""
    params = GovernanceParams(
        threshold_numerator,
        threshold_denominator,
        change_delay_heights,
        trust_window_heights,
        validators_min,
    )
    params.validate()
    return GovernanceParamsSet(params)


def instrument_register_body(spec: InstrumentSpec) -> InstrumentRegister:
    return InstrumentRegister(spec)
