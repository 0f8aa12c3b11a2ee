"""Argument parsers and handlers of `depochain genesis card|build|join` (work in
node.cli.genesis, imported only when the command runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_genesis(commands: Commands) -> None:
    genesis = commands.add_parser(
        "genesis", help="one network of banks: exchange public cards, build and join a genesis"
    )
    steps = genesis.add_subparsers(dest="genesis_step", metavar="STEP", required=True)
    card = steps.add_parser("card", help="write this node's public card (keys and address)")
    card.add_argument("--home", required=True, help="the node's home (from `depochain init`)")
    card.add_argument("--p2p", required=True, help="HOST:PORT the other banks dial")
    card.add_argument("--out", help="write the card here (default: print it)")
    card.set_defaults(handler=run_card)
    build = steps.add_parser("build", help="build genesis.json from every bank's card")
    build.add_argument("cards", nargs="+", help="card files, one per bank")
    build.add_argument("--chain-id", required=True, help="network id")
    build.add_argument("--base", help="JSON with the agreed settlement agent, instruments...")
    build.add_argument("--genesis-time-ms", type=int, help="default: now")
    build.add_argument("--out", required=True, help="the genesis file to write")
    build.set_defaults(handler=run_build)
    join = steps.add_parser("join", help="install a genesis and peer with the other cards")
    join.add_argument("cards", nargs="+", help="every bank's card (this node's is skipped)")
    join.add_argument("--home", required=True, help="the node's home")
    join.add_argument("--genesis", required=True, help="the genesis built from the cards")
    join.set_defaults(handler=run_join)


def run_card(args: argparse.Namespace) -> int:
    from node.cli.genesis import GenesisToolError, make_card

    try:
        card = make_card(Path(args.home), args.p2p)
    except GenesisToolError as exc:
        return _fail(exc)
    if args.out is None:
        print(card.to_json(), end="")
    else:
        Path(args.out).write_text(card.to_json(), encoding="utf-8")
        print(f"wrote the card of {card.participant_id} to {args.out}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from node.cli.genesis import (
        GenesisToolError,
        build_genesis,
        compute_genesis_sha256,
        load_base,
        load_card,
    )

    try:
        cards = [load_card(Path(path)) for path in args.cards]
        base = load_base(None if args.base is None else Path(args.base))
        raw = build_genesis(args.chain_id, cards, base, args.genesis_time_ms)
    except GenesisToolError as exc:
        return _fail(exc)
    out = Path(args.out)
    if out.exists():
        return _fail(f"{out} exists; remove it first (a genesis is never overwritten)")
    out.write_bytes(raw)
    print(f"wrote {out} for chain '{args.chain_id}' with {len(cards)} validators")
    print(f"sha256 {compute_genesis_sha256(raw)}")
    return 0


def run_join(args: argparse.Namespace) -> int:
    from node.cli.genesis import (
        GenesisToolError,
        compute_genesis_sha256,
        join_network,
        load_card,
    )

    try:
        cards = [load_card(Path(path)) for path in args.cards]
        chain_id, peers = join_network(Path(args.home), Path(args.genesis), cards)
    except GenesisToolError as exc:
        return _fail(exc)
    raw = Path(args.genesis).read_bytes()
    print(f"joined chain '{chain_id}' (genesis sha256 {compute_genesis_sha256(raw)})")
    for peer in peers:
        print(f"  peer {peer}")
    print(f"start it with: depochain start --home {args.home}")
    return 0


def _fail(exc: object) -> int:
    print(f"depochain genesis: {exc}", file=sys.stderr)
    return 1
