"""What the example scripts share: the localnet folder, signers, submit-and-verify, checks.

Every example talks to a running ``make localnet`` (or any localnet folder: ``--home``) over its
REST API with the Python SDK, waits for each transaction's block, verifies the finality proof
against the genesis validator set, and checks the outcome on the chain (receipt codes, events,
balances read back from a node). A failed check raises :class:`ExampleFailed`; ``run`` turns it
into exit status 1, so a script exits 0 only when the chain shows what it promised.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consensus.ledger.txs import Body
from consensus.validators import ValidatorSet
from node.client import (
    ApiError,
    Client,
    Signer,
    TxRejected,
    validator_set_from_genesis,
    verify_finality_proof,
)
from node.home import load_key

Json = dict[str, Any]


class ExampleFailed(Exception):
    """The chain did not show what the example expected."""


class Localnet:
    """A localnet folder (keys, genesis) and a client of its first node."""

    def __init__(self, home: Path) -> None:
        self.home = home
        endpoints = json.loads((home / "endpoints.json").read_text())
        self.client = Client(endpoints["nodes"][0]["rpc"])
        self.trusted: ValidatorSet = validator_set_from_genesis(home / "genesis.json")
        self.run_id = secrets.token_hex(4)
        """Makes ids (holds, funding references) unique per run: examples can run again."""

    def signer(self, submitter: str, *cosigners: str) -> Signer:
        keys = [self._key(name) for name in (submitter, *cosigners)]
        return Signer(submitter, tuple(keys))

    def _key(self, name: str) -> Any:
        folder = "accounts" if "/" in name else "participants"
        return load_key(self.home / folder / f"{name}.json")

    def submit(self, signer: Signer, body: Body, expect: str = "OK") -> Json:
        """Submit, wait for the block, verify the finality proof; check the receipt's code
        (a rejected transaction is in a block too: its receipt is final)."""
        tx = self.client.prepare(signer, body)
        try:
            final = self.client.submit_and_wait(tx, self.trusted, timeout_s=60.0)
            receipt, height = final.receipt, final.height
        except TxRejected as rejected:
            proof = self.client.proof(rejected.tx_hash)  # 404 unless it is in a block
            height = verify_finality_proof(proof, self.trusted, self.client.chain_id()).height
            receipt = {"code_name": rejected.code_name, "log": rejected.log, "events": []}
        code = str(receipt.get("code_name"))
        name = type(body).__name__
        print(f"  {name} by {signer.submitter}: {code} at height {height} (proof verified)")
        check(code == expect, f"{name} by {signer.submitter}: {code}, expected {expect}")
        return receipt

    def balance(self, account_id: str, instrument_id: str) -> Json:
        """The account's balance in ``instrument_id`` as a node reports it (zeros if none)."""
        for entry in self.client.account(account_id)["balances"]:
            if entry["instrument_id"] == instrument_id:
                return dict(entry)
        return {"instrument_id": instrument_id, "total": 0, "frozen": 0, "held": 0, "free": 0}

    def has_instrument(self, instrument_id: str) -> bool:
        try:
            self.client.instrument(instrument_id)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def chain_time_ms(self) -> int:
        """The latest block's time: what holds' not-before and expiry are judged by."""
        return int(self.client.status()["latest_block_time_ms"])

    def wait_chain_time(self, time_ms: int, timeout_s: float = 60.0) -> None:
        """Wait (polling) until a block at or after ``time_ms`` is committed."""
        deadline = time.monotonic() + timeout_s
        while self.chain_time_ms() < time_ms:
            check(time.monotonic() < deadline, f"no block reached time {time_ms}")
            time.sleep(0.2)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ExampleFailed(message)


def event_types(receipt: Json) -> list[str]:
    return [str(event["type"]) for event in receipt.get("events", [])]


def run(main: Callable[[Localnet], None], description: str) -> None:
    """Parse ``--home`` (default ./localnet), run ``main`` and exit 0 only if it verified."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--home", type=Path, default=Path("localnet"), help="localnet folder")
    args = parser.parse_args()
    try:
        main(Localnet(args.home))
    except ExampleFailed as exc:
        print(f"FAILED: {exc}")
        sys.exit(1)
    print("verified on the chain")
    sys.exit(0)
