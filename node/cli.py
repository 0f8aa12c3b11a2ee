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
    _add_node_setup(commands)
    return parser


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser("bench", help="benchmarks (ledger, storage)")
    bench.add_argument("target", choices=["ledger"], help="what to measure")
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from node import bench

    return bench.run_ledger_bench(json_output=args.json)


def _add_node_setup(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`init`, `localnet`, `keys` (parsers and handlers in node.localnet_cli)."""
    from node import localnet_cli

    localnet_cli.add_commands(commands)


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
