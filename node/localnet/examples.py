"""Rewrite configs/localnet/*.toml: what the generator writes with the public seed "example".

Run ``make configs`` (``python -m node.localnet.examples``) after adding or changing a config
key; ``tests/node/test_localnet_gen.py`` fails until the committed examples match.
"""

from __future__ import annotations

import sys
from pathlib import Path

from node.config import dump_config
from node.localnet import plan as localnet_plan

EXAMPLE_SEED = "example"


def write_examples(folder: Path) -> list[Path]:
    plan = localnet_plan.compute_plan(
        keys=localnet_plan.make_key_source(EXAMPLE_SEED), genesis_time_ms=0
    )
    written = []
    for node in plan.nodes:
        config = localnet_plan.compute_node_config(plan, node)
        header = localnet_plan.compute_config_header(node, len(plan.nodes), seeded=True)
        path = folder / f"{node.moniker}.toml"
        path.write_text(dump_config(config, header=header))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path("configs/localnet")
    for path in write_examples(folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
