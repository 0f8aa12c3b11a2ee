"""``depochain`` command line: one sub-command per job, each in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="depochain", description="A permissioned BFT node for bank-issued deposit tokens."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_bench(commands)
    _add_localnet(commands)
    return parser


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser("bench", help="benchmarks (ledger, storage)")
    bench.add_argument("target", choices=["ledger"], help="what to measure")
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from node import bench

    return bench.run_ledger_bench(json_output=args.json)


def _add_localnet(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    localnet = commands.add_parser("localnet", help="run a 4-bank local cluster")
    localnet.add_argument("--home", default="./localnet", help="folder for keys, config, data")
    localnet.add_argument("--fresh", action="store_true", help="wipe the folder and start over")
    localnet.set_defaults(handler=_run_localnet)


def _run_localnet(args: argparse.Namespace) -> int:
    print(
        "depochain localnet: the node runtime and P2P network are not built yet "
        "(issue 4). Until then: `make test`, `depochain bench ledger`.",
        file=sys.stderr,
    )
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
