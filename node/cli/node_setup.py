"""Argument parsers and handlers of `depochain init`, `depochain localnet` and `depochain keys`
(and, from node.cli.genesis_commands, `depochain genesis`).

node.cli registers them with :func:`add_commands`; the work lives in node.localnet,
node.cli.init and node.cli.keys (imported lazily, so `depochain --help` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # argparse's class is not subscriptable at run time
    from typing import TypeAlias

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_commands(commands: Commands) -> None:
    from node.cli.genesis_commands import add_genesis

    add_init(commands)
    add_genesis(commands)
    add_localnet(commands)
    add_keys(commands)


def add_init(commands: Commands) -> None:
    init = commands.add_parser("init", help="create keys, config and genesis for one node")
    init.add_argument("--home", required=True, help="the node's home folder")
    init.add_argument("--chain-id", help="network id (taken from --genesis if given)")
    init.add_argument("--moniker", help="node name (default: the folder's name)")
    init.add_argument("--genesis", help="join this genesis file instead of a new 1-validator chain")
    init.add_argument("--p2p-port", type=int, default=26656, help="P2P listen port")
    init.add_argument("--rpc-port", type=int, default=26657, help="RPC port")
    init.add_argument(
        "--rpc-host", default="127.0.0.1", help="RPC address (0.0.0.0 only inside a container)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing home")
    init.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    from node.cli.init import init_home
    from node.localnet import LocalnetError

    try:
        result = init_home(
            Path(args.home),
            chain_id=args.chain_id,
            moniker=args.moniker,
            genesis_file=None if args.genesis is None else Path(args.genesis),
            force=args.force,
            p2p_port=args.p2p_port,
            rpc_port=args.rpc_port,
            rpc_host=args.rpc_host,
        )
    except LocalnetError as exc:
        print(f"depochain init: {exc}", file=sys.stderr)
        return 1
    print(f"initialised node home {result.home} for chain '{result.chain_id}'")
    print(f"  node id (P2P key):     {result.node_id}")
    print(f"  validator public key:  {result.validator_public_key}")
    if result.participant_id is not None:
        print(
            f"  single validator {result.participant_id}; operator key in "
            f"{result.home}/participants/{result.participant_id}.json"
        )
    print(f"start it with: depochain start --home {result.home}")
    return 0


def add_localnet(commands: Commands) -> None:
    localnet = commands.add_parser("localnet", help="generate and run a 4-bank local cluster")
    localnet.add_argument("--home", default="./localnet", help="folder for keys, config, data")
    localnet.add_argument("--fresh", action="store_true", help="wipe the folder and start over")
    localnet.add_argument(
        "--validators", type=int, help="number of banks/validators (default 4; new folders only)"
    )
    localnet.add_argument(
        "--base-port", type=int, help="first port (default 26656); node i uses base+10*i, +1"
    )
    localnet.add_argument("--no-start", action="store_true", help="only generate (or check)")
    localnet.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for every node's /health"
    )
    localnet.set_defaults(handler=run_localnet_command)


def run_localnet_command(args: argparse.Namespace) -> int:
    from node.localnet import LocalnetError, prepare_localnet
    from node.localnet.run import print_generated, run_localnet

    try:
        info, generated = prepare_localnet(
            Path(args.home), fresh=args.fresh, validators=args.validators, base_port=args.base_port
        )
    except LocalnetError as exc:
        print(f"depochain localnet: {exc}", file=sys.stderr)
        return 1
    if args.no_start:
        print_generated(info, generated, sys.stdout)
        return 0
    verb = "generated" if generated else "resuming"
    print(f"depochain localnet: {verb} {info.home}; starting {len(info.nodes)} nodes…", flush=True)
    return run_localnet(info, health_timeout_s=args.timeout)


def add_keys(commands: Commands) -> None:
    keys = commands.add_parser("keys", help="manage Ed25519 keys in a keyring folder")
    keys.add_argument("action", choices=["new", "list", "show"], help="what to do")
    keys.add_argument("name", nargs="?", help="key name (new, show)")
    keys.add_argument("--keyring", help="keyring folder (default ~/.depochain/keys)")
    keys.add_argument("--json", action="store_true", help="machine-readable output")
    keys.set_defaults(handler=run_keys_command)


def run_keys_command(args: argparse.Namespace) -> int:
    from node.cli.keys import run_keys

    return run_keys(args.action, args.name, args.keyring, args.json)
