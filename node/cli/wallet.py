"""`depochain tx …` (sign and submit a transaction) and `depochain query …` (read the ledger)
against any node's REST API (``--node URL``), using the SDK (:mod:`node.client`).

Keys come from key files as written by ``depochain keys new`` or ``depochain localnet``
(``--key-file PATH``, repeatable for M-of-N) or by name from a keyring folder (``--key NAME``
-> ``<keyring>/NAME.json``). Amounts are integers in the instrument's minor units. Output is
readable text by default, one JSON document with ``--json``; every failure prints one line
``depochain <cmd>: <why>`` on stderr and exits 1 (2 for usage errors, from argparse).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from consensus.crypto import PrivateKey, sha256
from consensus.ledger.txs import Body
from node.cli.amounts import format_amount
from node.cli.keys import get_keyring_path
from node.client import (
    Client,
    ClientError,
    Signer,
    TxRejected,
    account_open_body,
    freeze_body,
    mint_body,
    redeem_body,
    transfer_body,
    travel_record,
    validator_set_from_genesis,
)
from node.client.common import FinalTx
from node.home import HomeError, load_key

DEFAULT_NODE = "http://127.0.0.1:26657"
KYC_VALIDITY_DAYS_DEFAULT = 365
_KEY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63})?")


class WalletError(Exception):
    """A wallet input problem (keys, arguments) with a message for the user."""


# ---------------------------------------------------------------------------------------------
# parsers


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `tx` and `query` on the `depochain` parser."""
    from node.cli import proven

    _add_tx(commands)
    _add_query(commands)
    proven.add_audit(commands, _common)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node", default=DEFAULT_NODE, help="REST URL of any node")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait")


def _add_tx(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tx = commands.add_parser("tx", help="sign and submit a transaction, wait for finality")
    kinds = tx.add_subparsers(dest="tx_kind", metavar="KIND", required=True)
    specs: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = [
        ("open-account", "the bank opens an account", [
            ("account_id", {"help": "BANK/name"}),
            ("--owner-key", {"action": "append", "default": [], "help": "owner public key (hex)"}),
            ("--owner-key-file", {"action": "append", "default": [], "help": "owner key file"}),
            ("--threshold", {"type": int, "default": 1}),
            ("--kyc-ref", {"required": True, "help": "bank's KYC file reference (hashed)"}),
            ("--kyc-days", {"type": int, "default": KYC_VALIDITY_DAYS_DEFAULT}),
        ]),
        ("mint", "the issuer mints to an account", [
            ("account_id", {}), ("instrument_id", {}), ("amount", {"type": int}),
            ("--funding-ref", {"required": True, "help": "core-banking debit reference"}),
        ]),
        ("redeem", "burn tokens (holder, or issuer with --legal-basis)", [
            ("account_id", {}), ("instrument_id", {}), ("amount", {"type": int}),
            ("--payout-ref", {"required": True}), ("--legal-basis", {"default": None}),
        ]),
        ("transfer", "pay from the --from account", [
            ("to_account", {}), ("instrument_id", {}), ("amount", {"type": int}),
            ("--travel-data", {"default": None,
                               "help": "IVMS101-shaped JSON file: its canonical sha256 is sent"}),
            ("--purpose", {"default": "OTHR", "help": "ISO 20022 purpose code (travel rule)"}),
        ]),
        ("freeze", "set an account's freeze state (bank or regulator)", [
            ("account_id", {}), ("--legal-basis", {"required": True}),
            ("--account-frozen", {"action": "store_true"}),
            ("--instrument", {"default": None}), ("--amount", {"type": int, "default": 0}),
        ]),
    ]  # fmt: skip
    for name, help_text, arguments in specs:
        parser = kinds.add_parser(name, help=help_text)
        for flag, options in arguments:
            parser.add_argument(flag, **options)
        _add_signing(parser)
        _common(parser)
        parser.set_defaults(handler=run_tx)


def _add_signing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="submitter", required=True, help="submitter id")
    parser.add_argument("--key-file", action="append", default=[], help="key file (repeatable)")
    parser.add_argument("--key", action="append", default=[], help="key NAME in the keyring")
    parser.add_argument("--keyring", default=None, help="keyring folder (~/.depochain/keys)")
    parser.add_argument("--idempotency-key", default=None, help="default: a fresh random one")
    parser.add_argument("--memo", default="")
    parser.add_argument("--genesis", default=None, help="genesis.json: trusted validator set")
    parser.add_argument("--no-wait", action="store_true", help="submit only, do not wait")
    parser.add_argument(
        "--sign-only",
        action="store_true",
        help='print the request body {"tx": base64} instead of submitting (for curl)',
    )
    parser.add_argument("--nonce", type=int, default=None, help="default: the node's next one")


def _add_query(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    query = commands.add_parser("query", help="read accounts, txs, blocks, supply, validators")
    kinds = query.add_subparsers(dest="query_kind", metavar="WHAT", required=True)
    account = kinds.add_parser("account", help="an account with its balances")
    account.add_argument("account_id")
    tx = kinds.add_parser("tx", help="a transaction by hash, or by --submitter and --key")
    tx.add_argument("tx_hash", nargs="?")
    tx.add_argument("--submitter", default=None)
    tx.add_argument("--key", default=None, help="idempotency key")
    tx.add_argument("--prove", action="store_true", help="verify inclusion and receipt offline")
    block = kinds.add_parser("block", help="a block (default: the latest)")
    block.add_argument("height", nargs="?", default="latest")
    supply = kinds.add_parser("supply", help="an instrument's supply (or all instruments)")
    supply.add_argument("instrument_id", nargs="?")
    validators = kinds.add_parser("validators", help="the validator set")
    validators.add_argument("--height", type=int, default=None)
    from node.cli import proven

    proven.add_prove_options(account, tx)
    for parser in (account, tx, block, supply, validators):
        _common(parser)
        parser.set_defaults(handler=run_query)


# ---------------------------------------------------------------------------------------------
# tx


def run_tx(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        signer = Signer(args.submitter, load_signing_keys(args))
        client = Client(args.node, timeout_s=min(args.timeout, 30.0))
        tx = client.prepare(
            signer,
            build_body(args),
            idempotency_key=args.idempotency_key,
            memo=args.memo,
            nonce=args.nonce,
        )
        if args.sign_only:
            print(json.dumps({"tx": base64.b64encode(tx.encode()).decode()}), file=out)
            return 0
        answer = client.submit(tx)
        if args.no_wait:
            _print_submitted(answer, args.json, out)
            return 0
        trusted = validator_set_from_genesis(Path(args.genesis)) if args.genesis else None
        final = client.wait_for_finality(str(answer["hash"]), trusted, args.timeout)
    except TxRejected as exc:
        return _fail("tx", f"rejected: {exc.code_name}: {exc.log} (tx {exc.tx_hash})")
    except (ClientError, WalletError) as exc:
        return _fail("tx", str(exc))
    _print_final(final, trusted is not None, args.json, out)
    return 0


def load_signing_keys(args: argparse.Namespace) -> tuple[PrivateKey, ...]:
    paths = [Path(p) for p in args.key_file]
    keyring = get_keyring_path(args.keyring)
    for name in args.key:
        if not _KEY_NAME.fullmatch(name):
            raise WalletError(f"invalid key name {name!r}")
        paths.append(keyring / f"{name}.json")
    if not paths:
        raise WalletError("give the signing key: --key-file PATH or --key NAME")
    keys = []
    for path in paths:
        try:
            keys.append(load_key(path))
        except HomeError as exc:
            raise WalletError(str(exc)) from exc
    return tuple(keys)


def build_body(args: argparse.Namespace) -> Body:
    kind = args.tx_kind
    if kind == "transfer":
        travel = None
        if args.travel_data is not None:
            data = json.loads(Path(args.travel_data).read_text(encoding="utf-8"))
            travel = travel_record(data, args.purpose)
        return transfer_body(args.to_account, args.instrument_id, args.amount, travel)
    if kind == "mint":
        return mint_body(args.account_id, args.instrument_id, args.amount, args.funding_ref)
    if kind == "redeem":
        return redeem_body(
            args.account_id, args.instrument_id, args.amount, args.payout_ref, args.legal_basis
        )
    if kind == "freeze":
        return freeze_body(
            args.account_id,
            args.legal_basis,
            account_frozen=args.account_frozen,
            instrument_id=args.instrument,
            amount=args.amount,
        )
    return _open_account_body(args)


def _open_account_body(args: argparse.Namespace) -> Body:
    import time

    owners = []
    try:
        owners += [bytes.fromhex(key) for key in args.owner_key]
    except ValueError as exc:
        raise WalletError("--owner-key: a 64-digit hex public key") from exc
    for path in args.owner_key_file:
        try:
            owners.append(load_key(Path(path)).public_key)
        except HomeError as exc:
            raise WalletError(str(exc)) from exc
    if not owners or any(len(key) != 32 for key in owners):
        raise WalletError("give the owner's keys: --owner-key HEX or --owner-key-file PATH")
    expiry_ms = int(time.time() * 1000) + args.kyc_days * 24 * 3600 * 1000
    kyc_hash = sha256(args.kyc_ref.encode())
    return account_open_body(args.account_id, owners, args.threshold, kyc_hash, expiry_ms)


def _print_submitted(answer: dict[str, Any], as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps(answer), file=out)
    else:
        print(f"submitted tx {answer['hash']} ({answer['status']})", file=out)


def _print_final(final: FinalTx, trusted: bool, as_json: bool, out: TextIO) -> None:
    signers = len(final.proof["certificate"]["signatures"])
    total = len(final.proof["validators"]["validators"])
    if as_json:
        document = {
            "hash": final.tx_hash,
            "status": "committed",
            "height": final.height,
            "receipt": final.receipt,
            "proof_verified": True,
            "validator_set_source": "genesis" if trusted else "node",
            "signers": signers,
        }
        print(json.dumps(document), file=out)
        return
    source = "the genesis validator set" if trusted else "the node's validator set"
    print(f"tx {final.tx_hash}", file=out)
    print(f"committed at height {final.height}", file=out)
    print(f"finality proof verified: {signers} of {total} validators signed ({source})", file=out)
    for event in final.receipt.get("events", []):
        fields = ", ".join(f"{k}={v}" for k, v in event.items() if k != "type")
        print(f"  {event['type']}: {fields}", file=out)


def _fail(command: str, message: str) -> int:
    print(f"depochain {command}: {message}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------------
# query


def run_query(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    client = Client(args.node, timeout_s=args.timeout)
    try:
        document, text = _query(client, args)
    except (ClientError, WalletError) as exc:
        return _fail("query", str(exc))
    print(json.dumps(document) if args.json else text, file=out)
    return 0


def _check_tx_hash(tx_hash: str) -> None:
    """Said here, in words: the node's routes match only a hash, so it would answer 404."""
    if len(tx_hash) != 64 or any(c not in "0123456789abcdefABCDEF" for c in tx_hash):
        raise WalletError(f"malformed tx hash {tx_hash[:80]!r}: 64 hex digits expected")


def _query(client: Client, args: argparse.Namespace) -> tuple[Any, str]:
    from node.cli import proven

    kind = args.query_kind
    if kind == "tx" and args.tx_hash:
        _check_tx_hash(args.tx_hash)
    if kind == "account" and args.prove:
        return proven.query_account(client, args)
    if kind == "tx" and args.prove and args.tx_hash:
        return proven.query_tx(client, args)
    if kind == "account":
        account = client.account(args.account_id)
        decimals = {
            item["instrument_id"]: item["decimals"]
            for item in client.instruments(limit=100)["items"]
        }
        return account, _account_text(account, decimals)
    if kind == "tx":
        if args.tx_hash:
            view = client.tx(args.tx_hash, prove=args.prove)
        elif args.submitter and args.key:
            view = client.tx_by_key(args.submitter, args.key, prove=args.prove)
        else:
            raise WalletError("give a tx HASH, or --submitter and --key")
        return view, _tx_text(view)
    if kind == "block":
        block = client.block(args.height)
        text = (
            f"block {block['height']} {block['hash']}\n"
            f"time_ms {block['time_ms']}  txs {block['num_txs']}  proposer {block['proposer']}"
        )
        return block, "\n".join([text, *(f"  tx {h}" for h in block["tx_hashes"])])
    if kind == "supply":
        if args.instrument_id:
            instrument = client.instrument(args.instrument_id)
            return instrument, _supply_line(instrument)
        items = client.instruments(limit=100)["items"]
        return items, "\n".join(_supply_line(item) for item in items)
    validators = client.validators(args.height)
    lines = [
        f"validators of height {validators['height']} (total power {validators['total_power']})"
    ]
    for v in validators["validators"]:
        lines.append(f"  {v['participant_id'] or '?':<8} power {v['power']:<4} {v['public_key']}")
    return validators, "\n".join(lines)


def _account_text(account: dict[str, Any], decimals: dict[str, int]) -> str:
    flags = " FROZEN" if account["frozen"] else ""
    lines = [
        f"account {account['account_id']} ({account['status']}{flags}) nonce {account['nonce']}"
    ]
    for b in account["balances"]:
        places = decimals.get(b["instrument_id"], 0)

        def show(minor: int, places: int = places) -> str:
            return format_amount(minor, places)

        lines.append(
            f"  {b['instrument_id']:<12} total {show(b['total'])}  free {show(b['free'])}  "
            f"frozen {show(b['frozen'])}  held {show(b['held'])}"
        )
    if not account["balances"]:
        lines.append("  no balances")
    lines.append("  (amounts in major units; the API and --json give integer minor units)")
    return "\n".join(lines)


def _tx_text(view: dict[str, Any]) -> str:
    lines = [f"tx {view['hash']}: {view['status']}"]
    if view.get("height") is not None:
        lines.append(f"height {view['height']} index {view['index']}")
    decoded = view.get("decoded")
    if decoded:
        lines.append(f"{decoded['type']} by {decoded['submitter']} nonce {decoded['nonce']}")
    receipt = view.get("receipt")
    if receipt:
        lines.append(f"receipt {receipt['code_name']} {receipt['log']}".rstrip())
        for event in receipt["events"]:
            fields = ", ".join(f"{k}={v}" for k, v in event.items() if k != "type")
            lines.append(f"  {event['type']}: {fields}")
    rejection = view.get("rejection")
    if rejection and not receipt:
        lines.append(f"rejected: {rejection['code_name']} {rejection['log']}")
    return "\n".join(lines)


def _supply_line(instrument: dict[str, Any]) -> str:
    return (
        f"{instrument['instrument_id']:<12} supply {instrument['supply']}  "
        f"(decimals {instrument['decimals']})"
    )
