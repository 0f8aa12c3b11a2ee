"""``depochain`` command line: the parser and dispatch; the work of each sub-command lives in
its own module, imported only when that command runs (so ``depochain --help`` stays fast).

``start`` runs :func:`node.start.run_node`; ``status`` is :mod:`node.cli.status`; ``init``,
``localnet`` and ``keys`` are parsed in :mod:`node.cli.node_setup` (work in :mod:`node.cli.init`,
:mod:`node.localnet`, :mod:`node.cli.keys`); ``tx`` and ``query`` in :mod:`node.cli.wallet`;
``simulate`` is :mod:`node.cli.simulate`; ``nemesis`` is :mod:`node.cli.nemesis`; ``bench`` is
:mod:`node.bench`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="depochain", description="A permissioned BFT node for bank-issued deposit tokens."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_bench(commands)
    _add_node_setup(commands)
    _add_node_run(commands)
    _add_wallet(commands)
    _add_sign_state(commands)
    _add_simulate(commands)
    _add_nemesis(commands)
    return parser


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser(
        "bench",
        help="benchmarks: a real local cluster under load (default) or the ledger alone",
    )
    bench.add_argument(
        "target", nargs="?", default="cluster",
        choices=["cluster", "ledger", "admission", "state", "statesync"],
        help="cluster: committed tx/s and latency of N node processes; ledger: one core; "
        "admission: one node's RPC -> verified mempool rate per verify thread count; "
        "state: the ledger with N accounts on disk (RSS, commit time, tx/s beside 1,000); "
        "statesync: an empty node joins a chain of N accounts and B blocks by state sync",
    )  # fmt: skip
    bench.add_argument(
        "--accounts", type=int, default=None,
        help="state: accounts in the large state (1,000,000); statesync: accounts opened "
        "by transactions before the join (100,000)",
    )  # fmt: skip
    bench.add_argument(
        "--blocks", type=int, default=None,
        help="state: 1,000-tx blocks to commit (20); statesync: the chain's height when the "
        "empty node starts (20,000)",
    )  # fmt: skip
    bench.add_argument(
        "--interval", type=int, default=1000, help="statesync: snapshot every this many heights"
    )
    bench.add_argument(
        "--timeout-commit-ms", type=int, default=100,
        help="statesync: the validators' pause after each commit (sets the live block rate)",
    )  # fmt: skip
    bench.add_argument(
        "--workdir", type=Path, default=None,
        help="statesync: build the chain here and keep it; state: build each state here "
        "once and reuse it (each run commits into a copy) (default: a temporary folder)",
    )  # fmt: skip
    bench.add_argument("--validators", type=int, default=4, help="cluster size")
    bench.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    bench.add_argument("--rate", type=float, default=None, help="tx/s to offer (default: max)")
    # Below Linux's ephemeral range (32768-60999), where a short-lived client socket could
    # take a port a node is about to bind; above the localnet's default 26656, so both can run.
    bench.add_argument("--base-port", type=int, default=29656, help="first port of the cluster")
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    _add_attack_arguments(bench)
    bench.add_argument(
        "--profile", action="store_true",
        help="cluster: profile node 0 and print its CPU per committed tx, stage by stage",
    )  # fmt: skip
    bench.add_argument(
        "--profile-out",
        type=Path,
        default=None,
        help="with --profile: keep node 0's cProfile stats",
    )
    bench.add_argument("--then-rate-fraction", type=float, default=None,
        help="cluster: after the max rate, also offer this fraction (0.8) of its tx/s")  # fmt: skip
    bench.add_argument(
        "--threads", default="1,2",
        help="admission: [mempool].verify_threads values to compare, run alternately",
    )  # fmt: skip
    bench.add_argument("--rounds", type=int, default=2, help="admission: runs per thread count")
    bench.add_argument("--txs", type=int, default=12_000, help="admission: txs per run")
    bench.set_defaults(handler=_run_bench)


def _add_attack_arguments(bench: argparse.ArgumentParser) -> None:
    bench.add_argument(
        "--attack", action="store_true",
        help="cluster: run twice, the second time with an attacker flooding junk txs and "
        "heavy RPC batches, and print both",
    )  # fmt: skip
    bench.add_argument(
        "--attack-kinds", default="junk,reads",
        help="with --attack: junk (mempool flood), reads (heavy RPC batches) or both",
    )  # fmt: skip
    bench.add_argument(
        "--attacker-same-priority", action="store_true",
        help="with --attack: run the attacker at the nodes' CPU priority (default: niced, "
        "as if it ran on another host)",
    )  # fmt: skip


def _run_bench(args: argparse.Namespace) -> int:
    if args.target == "ledger":
        from node.bench import ledger

        return ledger.run_ledger_bench(json_output=args.json)
    if args.target == "admission":
        from node.bench import admission

        threads = [int(t) for t in args.threads.split(",") if t.strip()]
        return admission.main(threads, args.rounds, args.txs, args.base_port, args.json)
    if args.target == "state":
        from node.bench import state

        accounts, blocks = args.accounts or 1_000_000, args.blocks or 20
        return state.run_state_bench(accounts, blocks, args.json, args.workdir)
    if args.target == "statesync":
        return _run_statesync_bench(args)
    from node.bench import cluster, under_attack

    bench_args = cluster.BenchArgs(
        validators=args.validators,
        duration_s=args.duration,
        rate=args.rate,
        json_output=args.json,
        base_port=args.base_port,
        profile=args.profile,
        profile_out=args.profile_out,
        attacker_same_priority=args.attacker_same_priority,
    )
    if args.then_rate_fraction is not None:
        from node.bench import rate_pair

        fraction = args.then_rate_fraction
        if args.attack or args.rate is not None or not 0.0 < fraction < 1.0:
            print("--then-rate-fraction takes a fraction in (0, 1) and runs at max rate first "
                  "(no --rate, no --attack)", file=sys.stderr)  # fmt: skip
            return 2
        return rate_pair.main(bench_args, fraction)
    if not args.attack:
        return cluster.main(bench_args)
    kinds = frozenset(k.strip() for k in args.attack_kinds.split(",") if k.strip())
    if not kinds or not kinds <= {"junk", "reads"}:
        print("--attack-kinds takes junk, reads or junk,reads", file=sys.stderr)
        return 2
    return under_attack.main(bench_args, kinds)


def _run_statesync_bench(args: argparse.Namespace) -> int:
    from node.bench import statesync

    return statesync.main(
        statesync.StateSyncBenchArgs(
            accounts=100_000 if args.accounts is None else args.accounts,
            blocks=args.blocks or 20_000,
            interval=args.interval,
            chunk_bytes=1024 * 1024,
            timeout_commit_ms=args.timeout_commit_ms,
            base_port=args.base_port,
            workdir=args.workdir,
            json_output=args.json,
        )
    )


def _add_node_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    start = commands.add_parser("start", help="run a node from its home folder")
    start.add_argument("--home", required=True, help="the node's home folder")
    start.set_defaults(handler=_run_start)
    status = commands.add_parser("status", help="show a node's status over its RPC")
    status.add_argument("--node", default="http://127.0.0.1:26657", help="RPC URL of the node")
    status.add_argument("--json", action="store_true", help="print the raw status JSON")
    status.set_defaults(handler=_run_status)


def _run_start(args: argparse.Namespace) -> int:
    from pathlib import Path

    from node import start
    from node.home import HomeError
    from node.signer import SignStateError

    try:
        return start.run_node(Path(args.home))
    except (HomeError, SignStateError, OSError, ValueError) as exc:
        print(f"depochain start: {exc}", file=sys.stderr)
        return 1


def _run_status(args: argparse.Namespace) -> int:
    from node.cli import status

    return status.run(args.node, json_output=args.json)


def _add_node_setup(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`init`, `localnet`, `keys` (parsers and handlers in node.cli.node_setup)."""
    from node.cli import node_setup

    node_setup.add_commands(commands)


def _add_wallet(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`tx` and `query` (parsers and handlers in node.cli.wallet)."""
    from node.cli import wallet

    wallet.add_commands(commands)


def _add_sign_state(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`sign-state show|floor` (parsers and handlers in node.cli.sign_state)."""
    from node.cli import sign_state

    sign_state.add_commands(commands)


def _add_nemesis(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`nemesis` (parser and handler in node.cli.nemesis; the work in node.nemesis)."""
    from node.cli import nemesis

    nemesis.add_commands(commands)


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("simulate", help="deterministic Byzantine consensus simulation")
    sim.add_argument("--seeds", type=int, default=100, help="number of runs")
    sim.add_argument("--validators", type=int, default=4, help="validators per run")
    sim.add_argument("--byzantine", type=int, default=1, help="Byzantine validators per run")
    sim.add_argument("--seed", type=int, default=None, help="first seed (default 0)")
    sim.add_argument(
        "--no-lock-split",
        action="store_true",
        help="without the lock-split adversary (the schedules of earlier releases, seed by seed)",
    )
    sim.set_defaults(handler=_run_simulate)


def _run_simulate(args: argparse.Namespace) -> int:
    from node.cli import simulate

    return simulate.run_simulate(
        args.seeds,
        args.validators,
        args.byzantine,
        args.seed,
        lock_split_attacks=not args.no_lock_split,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)
