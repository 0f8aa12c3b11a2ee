"""``depochain nemesis``: the parser and handler of the fault-injection checker
(:mod:`node.nemesis`)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

FAULT_NAMES = ("kill", "stop", "isolate", "partition", "skew", "disk", "wal", "restarts",
               "failover")  # fmt: skip


def parse_faults(text: str) -> list[str]:
    if text == "all":
        return list(FAULT_NAMES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULT_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(unknown) or '(none)'}; choose from all or "
            f"{','.join(FAULT_NAMES)}"
        )
    return names


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nemesis = commands.add_parser(
        "nemesis", help="fault-injection checker: a local 4-validator cluster under load and faults"
    )
    nemesis.add_argument(
        "--faults", type=parse_faults, default=list(FAULT_NAMES),
        help=f"all, or a comma list of: {','.join(FAULT_NAMES)}",
    )  # fmt: skip
    nemesis.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    nemesis.add_argument("--rate", type=float, default=100.0, help="tx/s offered by the payers")
    nemesis.add_argument(
        "--soak", type=float, default=None, metavar="SECONDS",
        help="instead of faults: run this long at half the rate and report resource use",
    )  # fmt: skip
    nemesis.add_argument("--workdir", default=None, help="keep the cluster's files here")
    nemesis.add_argument(
        "--no-netns", action="store_true", help="run every node on 127.0.0.1 (no network faults)"
    )
    nemesis.add_argument("--json", action="store_true", help="machine-readable output")
    nemesis.set_defaults(handler=run_nemesis)


def run_nemesis(args: argparse.Namespace) -> int:
    from node.nemesis import run as nemesis_run

    with tempfile.TemporaryDirectory(prefix="depochain-nemesis-") as scratch:
        workdir = Path(args.workdir) if args.workdir else Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        options = nemesis_run.Options(
            faults=[] if args.soak is not None else args.faults,
            duration_s=args.duration,
            rate=args.rate / 2 if args.soak is not None else args.rate,
            workdir=workdir,
            use_netns=not args.no_netns,
        )
        if args.soak is not None:
            from node.nemesis.soak import format_soak, run_soak

            report = run_soak(options, args.soak)
            print(json.dumps(report, indent=2) if args.json else format_soak(report))
            return 0 if report["ok"] else 1
        results, setup = nemesis_run.run(options)
    if args.json:
        print(nemesis_run.to_json(results, {"setup": setup}))
    else:
        print(setup)
        print(nemesis_run.format_table(results))
    return 0 if all(result.ok for result in results) else 1
