"""The attacker of ``depochain bench --attack``: a separate process that, while the load runs,
floods the nodes' mempools with junk and sends heavy RPC batches.

- **Junk**: transfers from submitters the ledger has never heard of, each signed by a random
  key, sent as JSON-RPC batches of ``broadcast_tx_async`` to every node in turn. The attacker
  only counts what the nodes admit and what they refuse (admission is the mempool's job).
- **Heavy reads**: batches of 100 ``tx_search`` calls whose ``CONTAINS`` condition the index
  cannot answer, and batches of 100 ``block`` calls over recent heights, sent to one node
  back to back. It counts answers, typed limit errors (-32005, -32003) and failures.

Everything is signed before it starts; it stops when the stop file appears and writes a JSON
summary. Run by ``node.bench.cluster``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from consensus.crypto import PrivateKey
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.types import ChainId
from node.bench import client_priority
from node.bench.load import RpcConnection

JUNK_TXS = 20_000
JUNK_BATCH = 200
HEAVY_BATCH = 100
HEAVY_QUERY = "tx.height>={low} AND tx.height<={high} AND Transferred.from_account CONTAINS 'BANK'"
SEARCH_HEIGHTS = 4
"""Blocks a search spans: with full blocks, just under the index's 10,000-candidate scan cap."""
READS_THREADS = 2
STOP_POLL_S = 0.2
ATTACK_KINDS = ("junk", "reads")
LIMIT_CODES = {-32005: "limit_exceeded", -32003: "response_too_large"}


def build_junk(chain_id: str, count: int) -> list[str]:
    """Base64 transfers from ``count`` invented submitters, each with its own random key."""
    out = []
    for index in range(count):
        unsigned = UnsignedTx(
            chain_id=ChainId(chain_id),
            submitter=f"EVIL{index}/x",
            nonce=1,
            idempotency_key=f"junk-{index}",
            valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**12),
            memo="",
            body=Transfer("EVIL/y", "EVIL:USD", 1),
        )
        raw = sign_tx(unsigned, [PrivateKey(os.urandom(32))]).encode()
        out.append(base64.b64encode(raw).decode())
    return out


def _batch_body(method: str, params: list[dict[str, Any]]) -> bytes:
    calls = [
        {"jsonrpc": "2.0", "id": index, "method": method, "params": p}
        for index, p in enumerate(params)
    ]
    return json.dumps(calls).encode()


class Attacker:
    def __init__(
        self, urls: list[str], junk: list[str], stop_file: Path, kinds: frozenset[str]
    ) -> None:
        self.urls = urls
        self.kinds = kinds
        self.junk = junk
        self.stop_file = stop_file
        self.stop = threading.Event()
        self.counts: Counter[str] = Counter()
        self.error_samples: dict[str, str] = {}
        """One error message per kind, so the report says what the nodes answered."""
        self.lock = threading.Lock()

    def _count(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[key] += amount

    def flood_junk(self) -> None:
        connections = [RpcConnection(url) for url in self.urls]
        for start in itertools.cycle(range(0, len(self.junk), JUNK_BATCH)):
            if self.stop.is_set():
                return
            chunk = self.junk[start : start + JUNK_BATCH]
            body = _batch_body("broadcast_tx_async", [{"tx": tx} for tx in chunk])
            connection = connections[(start // JUNK_BATCH) % len(connections)]
            try:
                answers = connection.post(body)
            except (OSError, http.client.HTTPException, ValueError):
                self._count("junk_http_errors", len(chunk))
                continue
            self._tally_junk(answers, len(chunk))

    def _tally_junk(self, answers: Any, sent: int) -> None:
        self._count("junk_sent", sent)
        if not isinstance(answers, list):
            self._count("junk_refused", sent)
            return
        for answer in answers:
            result = answer.get("result", {})
            if result.get("code") == 0 and "already" not in result.get("log", ""):
                self._count("junk_admitted")
                continue
            self._count("junk_refused")
            reason = result.get("log") or str(answer.get("error", {}).get("data", ""))
            self.error_samples.setdefault("junk_refused", reason[:200])

    def send_heavy_reads(self, worker: int) -> None:
        connection = RpcConnection(self.urls[0])
        for turn in itertools.count(worker):
            if self.stop.is_set():
                return
            body = self._heavy_body(turn, connection)
            if body is None:
                continue
            try:
                answers = connection.post(body)
            except (OSError, http.client.HTTPException, ValueError):
                self._count("heavy_http_errors")
                continue
            self._tally_heavy(answers)

    def _heavy_body(self, turn: int, connection: RpcConnection) -> bytes | None:
        try:
            top = int(connection.call("status", {})["sync_info"]["latest_block_height"])
        except (OSError, http.client.HTTPException, RuntimeError, ValueError):
            self._count("heavy_http_errors")
            return None
        if turn % 2 == 0:
            query = HEAVY_QUERY.format(low=max(1, top - SEARCH_HEIGHTS + 1), high=top)
            search = {"query": query, "per_page": "100"}
            return _batch_body("tx_search", [search] * HEAVY_BATCH)
        heights = [str(max(1, top - i % 20)) for i in range(HEAVY_BATCH)]
        return _batch_body("block", [{"height": h} for h in heights])

    def _tally_heavy(self, answers: Any) -> None:
        self._count("heavy_batches")
        if not isinstance(answers, list):
            self._count("heavy_batch_errors")
            return
        for answer in answers:
            if "result" in answer:
                self._count("heavy_calls_answered")
                continue
            error = answer.get("error", {})
            kind = f"heavy_calls_{LIMIT_CODES.get(error.get('code'), 'other_error')}"
            self._count(kind)
            self.error_samples.setdefault(kind, str(error.get("data", ""))[:200])

    def run(self) -> dict[str, Any]:
        threads = []
        if "junk" in self.kinds:
            threads.append(threading.Thread(target=self.flood_junk, daemon=True))
        if "reads" in self.kinds:
            threads += [
                threading.Thread(target=self.send_heavy_reads, args=(i,), daemon=True)
                for i in range(READS_THREADS)
            ]
        started, parent = time.monotonic(), os.getppid()
        for thread in threads:
            thread.start()
        # In a session of its own (client_priority), a dead bench's signals no longer reach
        # it: it also stops when its parent is gone.
        timeline = []
        while not self.stop_file.exists() and os.getppid() == parent:
            time.sleep(STOP_POLL_S)
            with self.lock:
                timeline.append((time.monotonic(), dict(self.counts)))
        self.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        return {
            "seconds": time.monotonic() - started,
            **self.counts,
            "error_samples": self.error_samples,
            # Counts as they grew (monotonic clock, shared by this machine's processes), so the
            # bench can tell how hard the attack was while the load was measured.
            "timeline": timeline,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node.bench.attack")
    parser.add_argument("--plan", required=True, help="JSON plan written by bench.cluster")
    parser.add_argument("--ready", required=True, help="file created once signing is done")
    parser.add_argument("--stop", required=True, help="the attack stops when this file exists")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    plan = json.loads(Path(args.plan).read_text())
    kinds = frozenset(plan.get("kinds", ATTACK_KINDS))
    count = JUNK_TXS if "junk" in kinds else 0
    print(f"bench-attack: signing {count} junk transfers…", file=sys.stderr, flush=True)
    junk = build_junk(plan["chain_id"], count)
    # Signed at normal priority (before the attack starts), then lowered before any thread
    # starts: every thread started later inherits the priority.
    priority = client_priority.lower_priority_if_asked(plan.get("nice"))
    Path(args.ready).touch()
    result = Attacker(plan["urls"], junk, Path(args.stop), kinds).run()
    result["priority"] = priority
    Path(args.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
