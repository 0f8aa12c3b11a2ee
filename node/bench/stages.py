"""``depochain bench --profile``: where one node's CPU goes, per stage, per committed tx.

The bench runs one node under cProfile with a CPU clock (node.app's ``DEPOCHAIN_PROFILE`` and
``DEPOCHAIN_PROFILE_TIMER=cpu``); nothing is added to the node's code paths. Afterwards each
profiled function's own time is given to a stage: a function named in ``STAGE_RULES`` starts its
stage; any other function's own time is split among the stages of its callers, in proportion to
the time each call edge carried (cProfile keeps caller -> callee edges, not whole stacks, so
this is an estimate for functions shared by several stages, such as the codec). Time under no
stage entry (the event loop, logging, timers) is "other".

cProfile slows Python code more than C code, so beside the profiled µs per committed tx the
table shows the same shares scaled to the CPU per committed tx of the unprofiled nodes of the
same run: the figure to compare with the ceiling's per-tx work.
"""

from __future__ import annotations

import pstats
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from node.storage import LevelDBStore

FuncKey = tuple[str, int, str]

STAGE_RULES: tuple[tuple[str, str, str], ...] = (
    # (stage, path fragment of the function's file, function name; "*" = any in that file).
    # The first rule that matches wins: specific functions before whole files.
    ("Ed25519 verify (txs)", "consensus/ledger/txs.py", "verify_tx_signatures"),
    ("admission (check)", "node/services.py", "submit_tx"),
    ("admission (check)", "node/mempool.py", "add"),
    ("admission (check)", "node/checktx.py", "check"),
    ("mempool journal", "node/mempool_journal.py", "*"),
    ("mempool journal", "node/services.py", "sync_acknowledged"),
    ("gossip encode", "node/gossip.py", "encode_gossip"),
    ("gossip encode", "node/services.py", "flush"),
    ("gossip decode", "node/gossip.py", "decode_gossip"),
    ("gossip decode", "node/router.py", "on_message"),
    ("status + sync", "node/router.py", "maybe_request_blocks"),
    ("rpc parse + answer", "/aiohttp/", "*"),
    ("rpc parse + answer", "node/rpc/server.py", "*"),
    ("rpc parse + answer", "node/rpc/jsonrpc.py", "*"),
    ("rpc parse + answer", "node/rpc/json_input.py", "*"),
    ("rpc parse + answer", "node/rpc/comet/methods.py", "*"),
    ("rpc parse + answer", "node/rpc/rest/", "*"),
    ("p2p transport", "node/p2p/", "*"),
    ("proposal build", "node/driver.py", "_make_txs_available"),
    ("proposal build", "consensus/blocks.py", "build_block"),
    ("execution", "consensus/ledger/execute.py", "execute_block"),
    ("storage", "node/storage/", "*"),
    ("storage", "node/chain.py", "_build_write"),
    ("commit bookkeeping", "node/chain.py", "commit"),
    ("commit bookkeeping", "node/driver.py", "_commit"),
    ("mempool update", "node/mempool.py", "update_after_block"),
    ("mempool recheck", "node/app.py", "_recheck"),
    ("mempool recheck", "node/mempool_recheck.py", "on_commit"),
    ("consensus WAL", "node/wal.py", "*"),
    ("consensus WAL", "node/wal_events.py", "*"),
    ("consensus", "consensus/replica/", "*"),
    ("consensus", "node/signer.py", "*"),
    ("consensus", "node/driver.py", "*"),
    ("indexing", "node/rpc/comet/index.py", "*"),
    ("websocket events", "node/rpc/websocket.py", "*"),
)
COUNTED_CALLS: tuple[tuple[str, str], ...] = (
    # (path fragment, function name): calls per committed tx, to spot work done twice
    ("consensus/ledger/txs.py", "verify_tx_signatures"),
    ("consensus/ledger/txs.py", "_decode_tx_uncached"),
    ("consensus/crypto.py", "sha256"),
    ("node/checktx.py", "check_tx"),
    ("consensus/blocks.py", "decode"),
    ("consensus/blocks.py", "encode"),
)
OTHER = "other"
TOP_FUNCTIONS = 4
DETAIL_SHARE_MIN = 0.03
"""Stages with at least this share of the CPU are printed with their costliest functions."""


def stage_of(func: FuncKey) -> str | None:
    """The stage a function starts, if it is a stage entry (see STAGE_RULES)."""
    path, _, name = func
    path = path.replace("\\", "/")
    for stage, fragment, wanted in STAGE_RULES:
        if fragment in path and wanted in ("*", name):
            return stage
    return None


def attribute(stats: Mapping[FuncKey, Any]) -> dict[tuple[str, FuncKey], float]:
    """Seconds of own time per (stage, function): every function's own time, split among
    stages as the module docstring says."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        cache: dict[FuncKey, dict[str, float]] = {}
        totals: dict[tuple[str, FuncKey], float] = {}
        for func, (_, _, own, _, _) in stats.items():
            shares = _distribution(func, stats, cache, set()) or {OTHER: 1.0}
            for stage, share in shares.items():
                totals[(stage, func)] = own * share
        return totals
    finally:
        sys.setrecursionlimit(limit)


def _distribution(
    func: FuncKey,
    stats: Mapping[FuncKey, Any],
    cache: dict[FuncKey, dict[str, float]],
    visiting: set[FuncKey],
) -> dict[str, float]:
    """Shares (summing to 1) of the stages ``func``'s own time belongs to; empty when every
    caller is already on the path being followed (recursion: the outer call decides)."""
    stage = stage_of(func)
    if stage is not None:
        return {stage: 1.0}
    if func in cache:
        return cache[func]
    callers = stats[func][4] if func in stats else {}
    if not callers:
        return {OTHER: 1.0}  # a root: the event loop, the interpreter
    weights = {c: edge[2] or edge[3] or edge[1] for c, edge in callers.items() if c not in visiting}
    visiting.add(func)
    out: dict[str, float] = {}
    known = 0.0
    for caller, weight in weights.items():
        shares = _distribution(caller, stats, cache, visiting)
        if shares:
            known += weight
        for name, share in shares.items():
            out[name] = out.get(name, 0.0) + share * weight
    visiting.discard(func)
    if known <= 0:
        return {}
    out = {name: value / known for name, value in out.items()}
    if not visiting:
        cache[func] = out  # only a distribution computed with no cycle cut short is final
    return out


def count_committed_txs(store: LevelDBStore) -> int:
    """Transactions in the (stopped) node's stored blocks."""
    from consensus.blocks import Block

    total = 0
    for height in range(1, store.latest_height() + 1):
        raw = store.get_block(height)
        if raw is not None:
            total += len(Block.decode(raw).txs)
    return total


def summarize_profile(
    path: Path, committed: int, peer_us_per_tx: Sequence[float]
) -> dict[str, Any]:
    """Per-stage µs per committed tx of the profiled node, and scaled to the unprofiled peers'
    CPU per committed tx (``peer_us_per_tx``, one per peer)."""
    stats: Mapping[FuncKey, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    by_function = attribute(stats)
    seconds: dict[str, float] = {}
    for (stage, _), spent in by_function.items():
        seconds[stage] = seconds.get(stage, 0.0) + spent
    total = sum(seconds.values())
    per_tx = 1e6 / max(1, committed)
    peers = sum(peer_us_per_tx) / len(peer_us_per_tx) if peer_us_per_tx else 0.0
    stages = {
        name: {
            "profiled_us_per_tx": seconds[name] * per_tx,
            "share": seconds[name] / total if total else 0.0,
            "scaled_us_per_tx": peers * seconds[name] / total if total else 0.0,
            "top_functions": _top_functions(by_function, name, per_tx),
        }
        for name in sorted(seconds, key=seconds.__getitem__, reverse=True)
    }
    calls = {
        f"{fragment}:{name}": sum(
            row[1] for func, row in stats.items() if fragment in func[0] and func[2] == name
        )
        / max(1, committed)
        for fragment, name in COUNTED_CALLS
    }
    return {
        "calls_per_tx": calls,
        "committed_txs": committed,
        "profiled_cpu_s": total,
        "profiled_us_per_tx": total * per_tx,
        "peer_us_per_tx": peers,
        "stages": stages,
    }


def _top_functions(
    by_function: Mapping[tuple[str, FuncKey], float], stage: str, per_tx: float
) -> list[tuple[str, float]]:
    """The stage's TOP_FUNCTIONS costliest functions by own time: (name, profiled µs/tx)."""
    rows = [(func, spent) for (name, func), spent in by_function.items() if name == stage]
    rows.sort(key=lambda row: row[1], reverse=True)
    return [(_describe(func), spent * per_tx) for func, spent in rows[:TOP_FUNCTIONS]]


def _describe(func: FuncKey) -> str:
    path, line, name = func
    if path == "~":
        return name
    parts = Path(path).parts
    return f"{'/'.join(parts[-2:])}:{line}({name})"


def format_profile(profile: Mapping[str, Any]) -> list[str]:
    """The per-stage table as printed lines."""
    lines = [
        f"profile of node 0 (cProfile, CPU clock): {profile['committed_txs']} txs committed; "
        f"{profile['profiled_us_per_tx']:.0f} µs/tx profiled, unprofiled peers "
        f"{profile['peer_us_per_tx']:.0f} µs/tx",
        f"  {'stage':<28} {'share':>6} {'profiled µs/tx':>15} {'scaled µs/tx':>13}",
    ]
    for name, row in profile["stages"].items():
        lines.append(
            f"  {name:<28} {100 * row['share']:>5.1f}% {row['profiled_us_per_tx']:>15.1f} "
            f"{row['scaled_us_per_tx']:>13.1f}"
        )
        if row["share"] >= DETAIL_SHARE_MIN:
            lines += [f"      {us:>7.1f}  {name}" for name, us in row["top_functions"]]
    lines.append(
        "  calls per committed tx: "
        + ", ".join(
            f"{name.rsplit('/', 1)[-1]} {count:.2f}"
            for name, count in profile["calls_per_tx"].items()
        )
    )
    return lines
