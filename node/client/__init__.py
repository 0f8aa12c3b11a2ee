"""DepoChain Python SDK: talk to a node's REST API (``/api/v1``), build and sign every core
transaction type, submit with automatic nonce and idempotency key, wait for finality and verify
the finality proof offline.

    from node.client import Client, Signer, transfer_body, validator_set_from_genesis

    client = Client("http://127.0.0.1:26657")
    alice = Signer.from_key_files("BANKA/alice", [Path("localnet/accounts/BANKA/alice.json")])
    tx = client.prepare(alice, transfer_body("BANKB/bob", "BANKA:USD", 1_000))
    final = client.submit_and_wait(tx, validator_set_from_genesis(Path("localnet/genesis.json")))
    print(final.height, final.receipt["events"])

The async twin is :class:`node.client.aio.AsyncClient` (aiohttp). Every expected failure is a
:class:`ClientError` (``ApiError`` with the server's typed code, ``TxRejected``,
``FinalityTimeout``, ``NodeUnreachable``, ``ProofError``).
"""

from node.client.aio import AsyncClient
from node.client.builders import (
    Signer,
    TxDefaults,
    account_open_body,
    account_recovery_cancel_body,
    account_update_body,
    freeze_body,
    governance_params_set_body,
    instrument_register_body,
    make_tx,
    mint_body,
    new_idempotency_key,
    participant_change_cancel_body,
    participant_upsert_body,
    redeem_body,
    transfer_body,
    valid_for,
)
from node.client.common import FinalTx
from node.client.errors import (
    ApiError,
    ClientError,
    FinalityTimeout,
    NodeUnreachable,
    ProofError,
    TxRejected,
)
from node.client.policy import (
    canonical_json,
    hold_approve_body,
    ivms101_hash,
    policy_set_body,
    travel_record,
)
from node.client.proof import (
    VerifiedTx,
    validator_set_from_genesis,
    validator_set_from_json,
    verify_finality_proof,
)
from node.client.rulebook import (
    forced_transfer_body,
    hash_lock_of,
    hold_cancel_body,
    hold_create_body,
    hold_execute_body,
    pause_body,
)
from node.client.sync import Client

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "ClientError",
    "FinalTx",
    "FinalityTimeout",
    "NodeUnreachable",
    "ProofError",
    "Signer",
    "TxDefaults",
    "TxRejected",
    "VerifiedTx",
    "account_open_body",
    "account_recovery_cancel_body",
    "account_update_body",
    "canonical_json",
    "forced_transfer_body",
    "freeze_body",
    "governance_params_set_body",
    "hash_lock_of",
    "hold_approve_body",
    "hold_cancel_body",
    "hold_create_body",
    "hold_execute_body",
    "instrument_register_body",
    "ivms101_hash",
    "make_tx",
    "mint_body",
    "new_idempotency_key",
    "participant_change_cancel_body",
    "participant_upsert_body",
    "pause_body",
    "policy_set_body",
    "redeem_body",
    "transfer_body",
    "travel_record",
    "valid_for",
    "validator_set_from_genesis",
    "validator_set_from_json",
    "verify_finality_proof",
]
