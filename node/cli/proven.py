"""Proven queries and the proof of liabilities on the command line, verified offline against
``genesis.json`` (``node.client.state_proofs``):

    depochain query account BANKB/bob --prove --genesis localnet/genesis.json
    depochain query tx HASH --prove --genesis localnet/genesis.json
    depochain audit liabilities --instrument BANKA:USD [--height H] [--account ID]

Each prints only what its proofs establish: the value, the height of the state, the certified
app hash and who signed the header that carries it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from consensus.ledger.records import Instrument
from node.cli.amounts import format_amount
from node.client import Client, ClientError, verify_finality_proof
from node.client.audit import LiabilitiesAudit, audit_liabilities
from node.client.state_proofs import (
    CertifiedRoot,
    Trust,
    verify_account_proof,
    verify_receipt_proof,
)

GENESIS_DEFAULT = "genesis.json"
RECEIPT_POLL_S = 0.2


def add_prove_options(account: argparse.ArgumentParser, tx: argparse.ArgumentParser) -> None:
    account.add_argument("--prove", action="store_true", help="verify offline against genesis")
    account.add_argument("--height", type=int, default=None, help="state after this block")
    for parser in (account, tx):
        parser.add_argument(
            "--genesis", default=GENESIS_DEFAULT, help="genesis.json: the trusted validator set"
        )


def add_audit(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Any,
) -> None:
    audit = commands.add_parser("audit", help="proofs over the whole state")
    kinds = audit.add_subparsers(dest="audit_kind", metavar="WHAT", required=True)
    liabilities = kinds.add_parser(
        "liabilities", help="every balance of an instrument, proven complete, vs its supply"
    )
    liabilities.add_argument("--instrument", required=True, help="e.g. BANKA:USD")
    liabilities.add_argument("--height", type=int, default=None, help="state after this block")
    liabilities.add_argument("--account", default=None, help="check this holder is counted")
    liabilities.add_argument("--page-limit", type=int, default=None, help="balances per page")
    liabilities.add_argument("--genesis", default=GENESIS_DEFAULT, help="the trusted genesis")
    common(liabilities)
    liabilities.set_defaults(handler=run_audit)


def _trust(args: argparse.Namespace) -> Trust:
    return Trust.from_genesis(Path(args.genesis))


def root_lines(root: CertifiedRoot) -> list[str]:
    names = ", ".join(f"{s.name or s.public_key[:12]} ({s.power})" for s in root.signers)
    source = "genesis validator set"
    if root.trusted_set_changed:
        source = "a changed set; > 1/3 of the genesis power among the signers"
    return [
        f"state      after block {root.height}",
        f"app hash   {root.app_hash.hex()}",
        f"certified  header {root.header_height} {root.block_hash.hex()}",
        f"signed by  power {root.signed_power} of {root.total_power} ({source}): {names}",
    ]


def _show(amount: int, instrument: Instrument | None) -> str:
    places = 0 if instrument is None else instrument.spec.decimals
    return format_amount(amount, places)


def query_account(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    trust = _trust(args)
    doc = client.account_proof(args.account_id, args.height)
    proven = verify_account_proof(doc, trust, args.account_id)
    account = proven.account
    status = "absent (proven)" if account is None else account.status.name.lower()
    lines = [f"account    {args.account_id}: {status}, nonce {proven.nonce}  [proof verified]"]
    lines += root_lines(proven.root)
    for iid, instrument in proven.instruments.items():
        balance = proven.balances.get(iid)
        if balance is None:
            lines.append(f"  {iid:<12} no balance (absence proven)")
        else:
            total, frozen = _show(balance.total, instrument), _show(balance.frozen, instrument)
            lines.append(f"  {iid:<12} total {total}  frozen {frozen}  held {balance.held}")
    document = {
        "account_id": args.account_id,
        "verified": True,
        "height": proven.root.height,
        "app_hash": proven.root.app_hash.hex(),
        "header_height": proven.root.header_height,
        "signed_power": proven.root.signed_power,
        "total_power": proven.root.total_power,
        "exists": account is not None,
        "nonce": proven.nonce,
        "balances": {iid: b.to_wire() for iid, b in proven.balances.items()},
    }
    return document, "\n".join(lines)


def query_tx(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    trust = _trust(args)
    view = _wait_for_receipt_proof(client, args.tx_hash, args.timeout)
    proof = view["proof"]
    included = verify_finality_proof(proof, trust.validators, trust.chain_id)
    receipt = verify_receipt_proof(proof, trust)
    code = receipt.receipt.code
    outcome = "ACCEPTED" if receipt.accepted else f"REJECTED: {code.name}: {receipt.receipt.log}"
    lines = [
        f"tx         {included.tx_hash.hex()}  [proofs verified]",
        f"included   block {included.height} index {included.index} "
        f"(txs_root of block {included.block_hash.hex()}, certified by the genesis set)",
        f"outcome    {outcome} (code {int(code)}), receipt proven under last_results_hash "
        f"of header {receipt.root.header_height}",
        *root_lines(receipt.root)[2:],
    ]
    for event in receipt.receipt.events:
        lines.append(f"  event    {event}")
    verified = {
        "hash": included.tx_hash.hex(),
        "height": included.height,
        "index": included.index,
        "accepted": receipt.accepted,
        "code": int(code),
        "log": receipt.receipt.log,
        "receipt_header_height": receipt.root.header_height,
        "signed_power": receipt.root.signed_power,
        "total_power": receipt.root.total_power,
    }
    return {**view, "verified": verified}, "\n".join(lines)


def _wait_for_receipt_proof(client: Client, tx_hash: str, timeout_s: float) -> Any:
    """The tx's view once the block after it is committed (its receipt is proven by that
    block's header), polling for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        view = client.tx(tx_hash, prove=True)
        proof = view.get("proof")
        if proof is None and view.get("status") != "pending":
            raise ClientError(f"tx {tx_hash} is not in a block ({view.get('status')})")
        if proof is not None and proof.get("receipt_proof") is not None:
            return view
        if time.monotonic() >= deadline:
            raise ClientError(f"tx {tx_hash}: no receipt proof within {timeout_s} s")
        time.sleep(RECEIPT_POLL_S)


def run_audit(args: argparse.Namespace, out: TextIO | None = None) -> int:
    import json

    out = out or sys.stdout
    client = Client(args.node, timeout_s=args.timeout)
    try:
        audit = audit_liabilities(
            client, _trust(args), args.instrument, args.height, args.page_limit
        )
    except ClientError as exc:
        print(f"depochain audit: FAILED: {exc}", file=sys.stderr)
        return 1
    counted = None if args.account is None else audit.holders.get(args.account)
    if args.json:
        print(json.dumps(_audit_document(audit, args.account, counted)), file=out)
    else:
        print("\n".join(_audit_lines(audit, args.account, counted)), file=out)
    holder_ok = args.account is None or counted is not None
    return 0 if audit.balanced and holder_ok else 1


def _audit_lines(audit: LiabilitiesAudit, account: str | None, counted: int | None) -> list[str]:
    verdict = "OK: balances sum to the supply" if audit.balanced else "MISMATCH"
    lines = [
        f"instrument {audit.instrument_id}",
        *root_lines(audit.root),
        f"holders    {len(audit.holders)} (complete: range proofs over {audit.pages} page(s))",
        f"sum        {audit.total}",
        f"supply     {audit.supply} (proven instrument record)",
        f"result     {verdict}",
    ]
    if account is not None:
        lines.append(
            f"account    {account}: "
            + ("NOT among the holders" if counted is None else f"counted with {counted}")
        )
    return lines


def _audit_document(audit: LiabilitiesAudit, account: str | None, counted: int | None) -> Any:
    return {
        "instrument_id": audit.instrument_id,
        "height": audit.root.height,
        "app_hash": audit.root.app_hash.hex(),
        "header_height": audit.root.header_height,
        "holders": len(audit.holders),
        "pages": audit.pages,
        "sum": audit.total,
        "supply": audit.supply,
        "balanced": audit.balanced,
        "account": account,
        "account_balance": counted,
    }
