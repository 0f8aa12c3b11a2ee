"""Check (default) or write the known-answer vectors of the current protocol version.

    python -m tests.vectors.generate           # recompute, compare with tests/vectors/v<N>/
    python -m tests.vectors.generate --write   # write them; refuses to change stored bytes

``--write`` writes the files of ``PROTOCOL_VERSION`` N when there are none yet (a new version) or
when it only adds vectors. If the current code computes different bytes for a stored vector of
version N (or no longer produces one), it refuses: that is a protocol change, so bump
``PROTOCOL_VERSION`` in consensus/version.py and run it again, which writes v<N+1>/ and keeps
the older directories as the record of what earlier versions produced.
"""

from __future__ import annotations

import argparse
import sys

from consensus.version import PROTOCOL_VERSION

from .sets import compute_available
from .store import PROTOCOL_CHANGE, compare, load_all, version_dir, write_all

EXIT_OK = 0
EXIT_DIFFERENT = 1
EXIT_REFUSED = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.vectors.generate", description=__doc__)
    parser.add_argument(
        "--write", action="store_true", help="write the vectors (new version or additions only)"
    )
    args = parser.parse_args(argv)
    directory = version_dir()
    stored, (fresh, errors) = load_all(), compute_available()
    if errors:
        for name, error in errors.items():
            print(f"cannot compute {name} from its inputs: {error}")
        print(PROTOCOL_CHANGE)
        return EXIT_REFUSED if args.write else EXIT_DIFFERENT
    if not stored:
        print(f"no stored vectors for protocol version {PROTOCOL_VERSION} ({directory})")
        if not args.write:
            print("run with --write to create them")
            return EXIT_DIFFERENT
        for path in write_all(fresh):
            print(f"wrote {path}")
        return EXIT_OK
    comparison = compare(stored, fresh)
    if comparison.is_identical:
        print(f"vectors of protocol version {PROTOCOL_VERSION} are up to date ({directory})")
        if args.write:  # same bytes; only descriptions may have been reworded
            write_all(fresh)
        return EXIT_OK
    print(comparison.report())
    if comparison.is_protocol_change:
        print(PROTOCOL_CHANGE)
        if args.write:
            print(f"refusing to overwrite the vectors of protocol version {PROTOCOL_VERSION}")
            return EXIT_REFUSED
        return EXIT_DIFFERENT
    if not args.write:
        print("only new vectors: run with --write to add them")
        return EXIT_DIFFERENT
    for path in write_all(fresh):
        print(f"wrote {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
