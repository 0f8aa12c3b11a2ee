"""The load generator of ``depochain bench``: a separate process that submits signed transfers
and watches them commit.

It must cost the shared CPU as little as possible per transaction, so everything expensive is
done before the clock starts: transfers are signed in advance (nonces per payer in order) and
pre-encoded as base64 JSON fragments. During the run it sends JSON-RPC batch arrays of
``broadcast_tx_async`` over keep-alive connections, spread round-robin over the nodes, and a
watcher thread polls one node for new blocks to time each transaction from submission to commit.

Run by ``node.bench.cluster``; writes a JSON result file.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consensus.crypto import PrivateKey, sha256
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.types import ChainId
from node.bench.health_probe import HealthProbe
from node.mempool import AdmissionCode

BATCH_TXS = 200
HTTP_TIMEOUT_S = 30.0
WATCH_INTERVAL_S = 0.05


@dataclass(frozen=True, slots=True)
class Payer:
    account_id: str
    instrument_id: str
    key: PrivateKey
    payees: tuple[str, ...]


def build_transfers(
    chain_id: str, payers: list[Payer], count: int, last_nonces: dict[str, int] | None = None
) -> list[tuple[bytes, str]]:
    """(tx hash, base64 tx) for ``count`` transfers, payers interleaved, nonces in order after
    ``last_nonces`` (each payer's last used nonce; none used when not given)."""
    out: list[tuple[bytes, str]] = []
    nonces = {p.account_id: (last_nonces or {}).get(p.account_id, 0) for p in payers}
    for index, payer in zip(range(count), itertools.cycle(payers), strict=False):
        nonces[payer.account_id] += 1
        nonce = nonces[payer.account_id]
        unsigned = UnsignedTx(
            chain_id=ChainId(chain_id),
            submitter=payer.account_id,
            nonce=nonce,
            idempotency_key=f"bench-{nonce}",
            valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**12),
            memo="",
            body=Transfer(payer.payees[index % len(payer.payees)], payer.instrument_id, 1),
        )
        raw = sign_tx(unsigned, [payer.key]).encode()
        out.append((sha256(raw), base64.b64encode(raw).decode()))
    return out


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    retry_after_s: float | None
    body: Any


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the delta-seconds form; an HTTP date is not expected here)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class Backoff:
    """How long a sender waits after "try later": what the server said (Retry-After), else
    doubling from BACKOFF_FIRST_S up to BACKOFF_MAX_S; back to nothing after a success."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.waits = 0
        self.waited_s = 0.0

    def next_delay(self, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            self.delay_s = min(retry_after_s, RETRY_AFTER_MAX_S)
        else:
            self.delay_s = min(max(2 * self.delay_s, BACKOFF_FIRST_S), BACKOFF_MAX_S)
        self.waits += 1
        self.waited_s += self.delay_s
        return self.delay_s

    def reset(self) -> None:
        self.delay_s = 0.0


class RpcConnection:
    """One keep-alive HTTP connection to a node's JSON-RPC endpoint."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S)

    def post(self, body: bytes) -> Any:
        return self.exchange(body).body

    def exchange(self, body: bytes) -> Answer:
        """POST ``body``; the HTTP status, the Retry-After seconds if any, the JSON body (None
        when it is not JSON, as a proxy's 503 page may not be)."""
        try:
            self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S)
            raise
        try:
            document = json.loads(data)
        except ValueError:
            document = None
        return Answer(
            response.status, parse_retry_after(response.getheader("Retry-After")), document
        )

    def call(self, method: str, params: dict[str, Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        answer = self.post(body.encode())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]


def encode_batch(txs: list[tuple[bytes, str]]) -> bytes:
    parts = [
        f'{{"jsonrpc":"2.0","id":{i},"method":"broadcast_tx_async","params":{{"tx":"{tx}"}}}}'
        for i, (_, tx) in enumerate(txs)
    ]
    return ("[" + ",".join(parts) + "]").encode()


@dataclass
class Watcher:
    """Polls one node for new blocks; records when each tx hash was first seen committed."""

    url: str
    committed_at: dict[bytes, float] = field(default_factory=dict)
    blocks: list[tuple[int, float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    start_height: int = 0
    block_times_s: dict[int, float] = field(default_factory=dict)
    """Header time of each block seen (the proposer's clock), for block intervals."""

    def run(self) -> None:
        rpc = RpcConnection(self.url)
        height = self.start_height
        while not self.stop.is_set():
            try:
                latest = int(rpc.call("status", {})["sync_info"]["latest_block_height"])
                while height < latest:
                    height += 1
                    self._record_block(rpc, height)
            except (OSError, RuntimeError, http.client.HTTPException):
                pass
            self.stop.wait(WATCH_INTERVAL_S)

    def _record_block(self, rpc: RpcConnection, height: int) -> None:
        block = rpc.call("block", {"height": str(height)})
        seen = time.monotonic()
        self.block_times_s[height] = parse_rfc3339_s(block["block"]["header"]["time"])
        txs = block["block"]["data"]["txs"]
        for tx in txs:
            self.committed_at.setdefault(sha256(base64.b64decode(tx)), seen)
        self.blocks.append((height, seen, len(txs)))


def parse_rfc3339_s(text: str) -> float:
    """Seconds since the epoch of CometBFT's ``2026-01-02T03:04:05.123456789Z``."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC)
    return stamp.timestamp() + (float("0." + fraction) if fraction else 0.0)


RETRY_LATER_CODES = (AdmissionCode.NONCE_TOO_FAR, AdmissionCode.SUBMITTER_LIMIT)
"""CheckTx codes that mean "this payer is too far ahead: send again once its txs commit"."""
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 1.0
RETRY_AFTER_MAX_S = 10.0
"""A Retry-After beyond this is taken as this (the run is short)."""


def submit(
    urls: list[str],
    txs: list[tuple[bytes, str]],
    duration_s: float,
    rate: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[dict[bytes, float], dict[str, int]]:
    """Send ``txs`` to one node in batches, at ``rate`` tx/s or as fast as it answers.

    "Try later" (HTTP 429 or 503, or a batch answer saying the mempool is full) is honoured
    like a real client does: wait Retry-After, or back off, then send the rest again in order
    (each payer's nonces must arrive in sequence). ``sleep`` waits after a "try later"."""
    connection = RpcConnection(urls[0])
    submitted_at: dict[bytes, float] = {}
    outcome = {"accepted": 0, "rejected": 0, "errors": 0, "full": 0, "http_try_later": 0}
    backoff = Backoff()
    started = time.monotonic()
    position = 0
    while position < len(txs) and time.monotonic() - started < duration_s:
        if rate is not None:
            due = started + position / rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
        batch = txs[position : position + BATCH_TXS]
        stamp = time.monotonic()
        try:
            answer = connection.exchange(encode_batch(batch))
        except (OSError, http.client.HTTPException):
            outcome["errors"] += len(batch)
            position += len(batch)
            continue
        if answer.status in (429, 503):
            outcome["http_try_later"] += 1
            sleep(backoff.next_delay(answer.retry_after_s))
            continue
        done = _count_answers(answer.body, batch, stamp, submitted_at, outcome)
        position += done
        if done < len(batch):
            sleep(backoff.next_delay(None))
        else:
            backoff.reset()
    outcome["backoff_waits"], outcome["backoff_ms"] = backoff.waits, round(1000 * backoff.waited_s)
    return submitted_at, outcome


def submit_in_parallel(
    urls: list[str], groups: list[list[tuple[bytes, str]]], duration_s: float, rate: float | None
) -> tuple[dict[bytes, float], dict[str, int]]:
    """One sender thread per node, each with its own payers (so each payer's nonces reach one
    node in order): while one waits for its node's answer, the others keep the nodes busy."""
    results: list[tuple[dict[bytes, float], dict[str, int]]] = []
    share = None if rate is None else rate / len(urls)

    def run(url: str, txs: list[tuple[bytes, str]]) -> None:
        results.append(submit([url], txs, duration_s, share))

    threads = [
        threading.Thread(target=run, args=(url, txs)) for url, txs in zip(urls, groups, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    submitted_at: dict[bytes, float] = {}
    outcome: dict[str, int] = {}
    for times, counts in results:
        submitted_at.update(times)
        for key, value in counts.items():
            outcome[key] = outcome.get(key, 0) + value
    return submitted_at, outcome


def _count_answers(
    answers: Any,
    batch: list[tuple[bytes, str]],
    stamp: float,
    submitted_at: dict[bytes, float],
    outcome: dict[str, int],
) -> int:
    """Tally one batch's answers; returns how many txs are done with (the rest hit a full
    mempool and are to be sent again)."""
    if not isinstance(answers, list):
        outcome["errors"] += len(batch)
        return len(batch)
    for done, (answer, (tx_hash, _)) in enumerate(zip(answers, batch, strict=False)):
        if "error" in answer:
            if "full" in str(answer["error"].get("data", "")):
                outcome["full"] += 1
                return done
            outcome["errors"] += 1
        elif answer["result"]["code"] in RETRY_LATER_CODES:  # the payer's share is full
            outcome["full"] += 1
            return done
        elif answer["result"]["code"] == 0:
            outcome["accepted"] += 1
            submitted_at[tx_hash] = stamp
        else:
            outcome["rejected"] += 1
    return len(batch)


def read_payers(plan: dict[str, Any]) -> list[Payer]:
    """The payers of a plan written by ``node.bench.cluster`` (keys from their seeds)."""
    return [
        Payer(
            p["account"], p["instrument"], PrivateKey(bytes.fromhex(p["seed"])), tuple(p["payees"])
        )
        for p in plan["payers"]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node.bench.load")
    parser.add_argument("--plan", required=True, help="JSON plan written by bench.cluster")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    plan = json.loads(Path(args.plan).read_text())
    payers = read_payers(plan)
    count = plan["tx_count"]
    urls = plan["urls"]
    print(f"bench-load: signing {count} transfers…", file=sys.stderr, flush=True)
    last_nonces = plan.get("last_nonces")
    groups = [
        build_transfers(plan["chain_id"], payers[i :: len(urls)], count // len(urls), last_nonces)
        for i in range(len(urls))
    ]
    # The last node by default: with --profile, node 0 is profiled and should carry no
    # watcher's reads; bench --attack names the node it watches.
    watcher = Watcher(plan.get("watch_url", plan["urls"][-1]), start_height=plan["start_height"])
    probe = HealthProbe(plan.get("probe_url", urls[0]), plan.get("probe_pid"))
    threads = [threading.Thread(target=w.run, daemon=True) for w in (watcher, probe)]
    for thread in threads:
        thread.start()
    started, cpu_started = time.monotonic(), time.process_time()
    submitted_at, outcome = submit_in_parallel(urls, groups, plan["duration_s"], plan.get("rate"))
    submit_end, cpu_used = time.monotonic(), time.process_time() - cpu_started
    probe.stop.set()
    deadline = submit_end + plan.get("drain_s", 15)
    while time.monotonic() < deadline and not set(submitted_at) <= set(watcher.committed_at):
        time.sleep(0.1)
    watcher.stop.set()
    for thread in threads:
        thread.join(timeout=5)
    result = summarize(submitted_at, watcher, outcome, started, submit_end)
    result["health_latency_s"] = percentiles(sorted(probe.latencies_s))
    # How much of a slow /health answer was the probe itself waiting for a CPU.
    result["health_probe_cpu_wait_s"] = percentiles(sorted(probe.cpu_waits_s))
    result["health_slow"] = probe.slow_share()
    result["block_interval_s"] = compute_block_intervals(watcher, started, submit_end)
    result["window_monotonic_s"] = [started, submit_end]  # to match an attacker's timeline
    # The load generator shares the machine with the nodes: its CPU is part of the picture.
    result["load_cpu_cores"] = cpu_used / max(submit_end - started, 1e-9)
    Path(args.out).write_text(json.dumps(result))
    return 0


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 of sorted ``values`` (None when there are none)."""

    def pct(q: float) -> float | None:
        return values[min(len(values) - 1, int(q * len(values)))] if values else None

    return {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "count": len(values)}


def compute_block_intervals(
    watcher: Watcher, started: float, submit_end: float
) -> dict[str, float | None]:
    """Gaps between consecutive blocks' header times, for blocks seen during the load."""
    heights = sorted(h for h, seen, _ in watcher.blocks if started <= seen <= submit_end)
    times = watcher.block_times_s
    gaps = [times[h] - times[h - 1] for h in heights if h - 1 in times and h in times]
    return percentiles(sorted(gaps))


def summarize(
    submitted_at: dict[bytes, float],
    watcher: Watcher,
    outcome: dict[str, int],
    started: float,
    submit_end: float,
) -> dict[str, Any]:
    latencies = sorted(
        watcher.committed_at[h] - t for h, t in submitted_at.items() if h in watcher.committed_at
    )
    window = [b for b in watcher.blocks if started <= b[1] <= submit_end]
    # Only this load's own txs count: other txs in the blocks (an attacker's) are not throughput.
    committed_in_window = sum(
        1 for h in submitted_at if started <= watcher.committed_at.get(h, -1.0) <= submit_end
    )
    elapsed = max(submit_end - started, 1e-9)

    def pct(q: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None

    return {
        "submit_seconds": elapsed,
        "outcome": outcome,
        "submitted": len(submitted_at),
        "committed": sum(1 for h in submitted_at if h in watcher.committed_at),
        "committed_tx_per_s": committed_in_window / elapsed,
        "blocks": len(window),
        "blocks_per_s": len(window) / elapsed,
        "txs_per_block": committed_in_window / len(window) if window else 0.0,
        "latency_s": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99)},
    }


if __name__ == "__main__":
    sys.exit(main())
