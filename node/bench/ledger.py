"""``depochain bench ledger``: how fast the ledger executes, verifies and commits, on one core.

Throughput is reported per CPU second of this process (``time.process_time``), with wall-clock
figures beside it: on a shared machine wall time mostly measures the neighbours.

Figures: (a) transfers executed per second in 1,000-tx blocks with signature verdicts supplied
(as the mempool does), same-bank and cross-bank; (b) Ed25519 transaction-signature verifications
per second; (c) blocks of executed transfers committed to LevelDB (one synced batch per block),
in tx/s. This is a measurement tool, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from typing import Any

from consensus import crypto
from consensus.ledger import (
    GenesisDoc,
    State,
    UnsignedTx,
    ValidUntil,
    ValidUntilKind,
    build_genesis_state,
    encode_receipts,
    execute_block,
    sign_tx,
    verify_tx_signatures,
)
from consensus.ledger.txs import SignedTx, Transfer
from node.bench.world import BANKS, GENESIS_TIME_MS, bench_key, genesis_doc

CHAIN_ID = "depochain-bench"
ACCOUNTS_PER_BANK = 500
OPENING_BALANCE = 10**12
TXS_PER_BLOCK = 1_000
BLOCKS = 10
REPEATS = 3


def customer_ids(bank: str) -> list[str]:
    return [f"{bank}/c{i:04d}" for i in range(ACCOUNTS_PER_BANK)]


def build_bench_genesis() -> State:
    """Two banks with ACCOUNTS_PER_BANK funded customers each, settling in CB:USD."""
    customers = {bank: customer_ids(bank) for bank in BANKS}
    doc = genesis_doc(CHAIN_ID, customers, OPENING_BALANCE)
    return build_genesis_state(GenesisDoc.from_json_dict(doc))


def make_transfers(count: int, cross_bank: bool, salt: str) -> list[SignedTx]:
    """``count`` signed transfers between customers (payee at the other bank if cross_bank)."""
    txs, nonces = [], dict.fromkeys(customer_ids(BANKS[0]) + customer_ids(BANKS[1]), 0)
    for i in range(count):
        bank = BANKS[i % 2]
        payer = customer_ids(bank)[(i * 7) % ACCOUNTS_PER_BANK]
        other = BANKS[(i + 1) % 2] if cross_bank else bank
        payee = customer_ids(other)[(i * 13 + 1) % ACCOUNTS_PER_BANK]
        if payee == payer:
            payee = customer_ids(other)[(i * 13 + 2) % ACCOUNTS_PER_BANK]
        nonces[payer] += 1
        unsigned = UnsignedTx(
            chain_id=CHAIN_ID,  # type: ignore[arg-type]
            submitter=payer,
            nonce=nonces[payer],
            idempotency_key=f"{salt}-{i}",
            valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**6),
            memo="",
            body=Transfer(payee, f"{bank}:USD", 1 + i % 100),
        )
        txs.append(sign_tx(unsigned, [bench_key(payer)]))
    return txs


def _blocks(raws: list[bytes]) -> list[list[bytes]]:
    return [raws[i : i + TXS_PER_BLOCK] for i in range(0, len(raws), TXS_PER_BLOCK)]


def measure_execution(genesis: State, raws: list[bytes]) -> dict[str, Any]:
    """Execute the txs in 1,000-tx blocks with every signature verdict supplied."""
    verdicts = {crypto.sha256(raw): True for raw in raws}
    best_cpu_s = best_wall_s = float("inf")
    rejected = 0
    for _ in range(REPEATS):  # best of a few: the machine may be shared
        state, rejected = genesis, 0
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for block in _blocks(raws):
            result = execute_block(state, block, state.height + 1, GENESIS_TIME_MS + 1, verdicts)
            rejected += sum(1 for receipt in result.receipts if not receipt.is_ok)
            state = result.state
        best_cpu_s = min(best_cpu_s, time.process_time() - cpu_start)
        best_wall_s = min(best_wall_s, time.perf_counter() - wall_start)
    return {
        "txs": len(raws),
        "rejected": rejected,
        "tx_per_s": round(len(raws) / best_cpu_s),
        "tx_per_s_wall": round(len(raws) / best_wall_s),
    }


def measure_verification(txs: list[SignedTx]) -> dict[str, Any]:
    start = time.process_time()
    valid = sum(1 for tx in txs if verify_tx_signatures(tx))
    elapsed = time.process_time() - start
    return {"verifications": len(txs), "valid": valid, "per_s": round(len(txs) / elapsed)}


def measure_leveldb_commits(genesis: State, raws: list[bytes]) -> dict[str, Any]:
    """Execute and commit each block to LevelDB (one synced batch), timing the commits."""
    try:
        from node.storage import BlockWrite, LevelDBStore
    except ImportError as exc:
        return {"available": False, "reason": f"node.storage not importable: {exc}"}
    verdicts = {crypto.sha256(raw): True for raw in raws}
    state, commit_s = genesis, 0.0
    with tempfile.TemporaryDirectory(prefix="depochain-bench-") as path:
        store = LevelDBStore(path)
        try:
            for block in _blocks(raws):
                result = execute_block(state, block, state.height + 1, GENESIS_TIME_MS, verdicts)
                write = BlockWrite(
                    height=result.state.height,
                    block=b"".join(block),
                    certificate=b"\x90",  # placeholder: no consensus here
                    results=encode_receipts(result.receipts),
                    tx_hashes=[crypto.sha256(raw) for raw in block],
                    state_changes=result.state_changes,
                    app_hash=result.app_hash,
                    tree_writes=result.tree_writes,
                )
                start = time.perf_counter()
                store.commit_block(write)
                commit_s += time.perf_counter() - start
                state = result.state
        finally:
            store.close()
    return {"available": True, "txs": len(raws), "tx_per_s": round(len(raws) / commit_s)}


def run_ledger_bench(json_output: bool) -> int:
    count = TXS_PER_BLOCK * BLOCKS
    _say(json_output, f"building genesis ({len(BANKS) * ACCOUNTS_PER_BANK} accounts) and "
         f"signing {2 * count} transfers...")  # fmt: skip
    genesis = build_bench_genesis()
    same = make_transfers(count, cross_bank=False, salt="s")
    cross = make_transfers(count, cross_bank=True, salt="x")
    same_raw, cross_raw = [tx.encode() for tx in same], [tx.encode() for tx in cross]
    report = {
        "execute_same_bank": measure_execution(genesis, same_raw),
        "execute_cross_bank": measure_execution(genesis, cross_raw),
        "ed25519_verify": measure_verification(same[:2000]),
        "leveldb_commit": measure_leveldb_commits(genesis, same_raw),
    }
    _print_report(report, json_output)
    return 0


def _say(json_output: bool, text: str) -> None:
    if not json_output:
        print(text, flush=True)


def _print_report(report: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print(json.dumps(report, indent=2))
        return
    lines: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("execute_same_bank", _format_execution),
        ("execute_cross_bank", _format_execution),
        ("ed25519_verify", lambda r: f"{r['per_s']:>9,} verifications/s (CPU time)"),
        ("leveldb_commit", _format_commit),
    ]
    for name, fmt in lines:
        print(f"{name:<20} {fmt(report[name])}")


def _format_execution(r: dict[str, Any]) -> str:
    return (
        f"{r['tx_per_s']:>9,} tx/s CPU time ({r['tx_per_s_wall']:,} wall), "
        f"sigs pre-verified, {r['rejected']} rejected"
    )


def _format_commit(r: dict[str, Any]) -> str:
    if not r.get("available"):
        return f"unavailable ({r.get('reason')})"
    return f"{r['tx_per_s']:>9,} tx/s  (1,000-tx blocks, synced WriteBatch)"
