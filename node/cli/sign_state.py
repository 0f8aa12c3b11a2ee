"""``depochain sign-state``: show a validator's sign state, or set a floor when it is lost.

``floor --height N`` is the operator's explicit way out when ``sign_state.json`` is gone and
the node refuses to start (see :mod:`node.sign_state_recovery`): it writes a sign state that
lets the key sign only at height N and above. It is safe exactly when N is above every height
the key may have signed; choosing N is the operator's responsibility, which is why no start
flag does this silently.

Never: overwrite an existing sign-state file (valid or corrupt), or set a floor at or below the
node's own committed height (it would protect nothing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from consensus.safety import SignState, SignStep
from consensus.types import Height, Round
from node.home import STORE_DIR, HomeError
from node.signer import SignStateError, SignStateFile
from node.storage import LevelDBStore, StorageError

if TYPE_CHECKING:
    from typing import TypeAlias

    from node.app import NodeHome

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_commands(commands: Commands) -> None:
    parser = commands.add_parser(
        "sign-state", help="a validator's last-signed state (show; floor when it is lost)"
    )
    actions = parser.add_subparsers(dest="sign_state_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the stored last-signed height/round/step")
    show.add_argument("--home", required=True, help="the node's home folder")
    show.set_defaults(handler=run_show)
    floor = actions.add_parser(
        "floor",
        help="when sign_state.json is lost: sign nothing below HEIGHT (never overwrites a file)",
    )
    floor.add_argument("--home", required=True, help="the node's home folder (node stopped)")
    floor.add_argument(
        "--height", required=True, type=int,
        help="first height the key may sign again: above every height it may have signed",
    )  # fmt: skip
    floor.set_defaults(handler=run_floor)


def run_show(args: argparse.Namespace) -> int:
    try:
        state = _sign_state_file(_load_validator_home(Path(args.home))).load()
    except (HomeError, SignStateError, OSError) as exc:
        print(f"depochain sign-state show: {exc}", file=sys.stderr)
        return 1
    if state is None:
        print("no sign-state file: this validator has signed nothing (or the file is lost)")
    else:
        print(f"height {state.height} round {state.round} step {state.step.name}")
    return 0


def run_floor(args: argparse.Namespace) -> int:
    try:
        state = set_floor(Path(args.home), args.height)
    except (HomeError, SignStateError, StorageError, OSError) as exc:
        print(f"depochain sign-state floor: {exc}", file=sys.stderr)
        return 1
    print(f"sign state set: this validator will sign nothing below height {state.height}")
    return 0


def set_floor(home: Path, height: int) -> SignState:
    """Write ``(height, 0, NONE)`` as the sign state of the validator in ``home``."""
    node_home = _load_validator_home(home)
    sign_state_file = _sign_state_file(node_home)
    existing = sign_state_file.load()  # a corrupt file raises: it is evidence, keep it
    if existing is not None:
        raise SignStateError(
            f"{sign_state_file.path} exists (height {existing.height} round {existing.round} "
            f"step {existing.step.name}); a floor is only for a lost file, and never replaces one"
        )
    committed = _committed_height(node_home.data_path / STORE_DIR)
    if height <= committed:
        raise SignStateError(
            f"--height {height} must be above this node's committed height {committed} (the "
            f"validator only signs above it anyway); use the network's latest committed height + 2"
        )
    state = SignState(Height(height), Round(0), SignStep.NONE, None)
    sign_state_file.persist(state)
    return state


def _load_validator_home(home: Path) -> NodeHome:
    from node.app import NodeHome  # the node runtime is imported only once a command runs

    node_home = NodeHome.load(home)
    if node_home.validator_key is None:
        raise HomeError(f"{home} has no validator key: an observer has no sign state")
    return node_home


def _sign_state_file(node_home: NodeHome) -> SignStateFile:
    return SignStateFile(node_home.config.get_sign_state_path(node_home.path))


def _committed_height(store_path: Path) -> int:
    if not (store_path / "CURRENT").is_file():
        return 0
    with LevelDBStore(store_path, create=False) as store:  # locked while the node runs
        return store.latest_height()
