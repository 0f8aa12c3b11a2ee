"""Child process for the sign-state crash tests (run as a script, never imported by pytest).

``python signer_crash_child.py PATH once HEIGHT`` persists (HEIGHT, 0, PREVOTE, sha256(HEIGHT))
and prints "persisted" (the failpoint named in DEPOCHAIN_FAILPOINT may end the process first).
``python signer_crash_child.py PATH loop START`` persists increasing heights from START, printing
each height after its persist returned, until killed.
"""

from __future__ import annotations

import os
import sys

from consensus.crypto import sha256
from consensus.safety import SignState, SignStep
from consensus.types import Height, Round
from node.failpoints import Failpoints
from node.signer import SignStateFile


def state_at(height: int) -> SignState:
    return SignState(Height(height), Round(0), SignStep.PREVOTE, sha256(str(height).encode()))


def main() -> int:
    path, mode, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signer = SignStateFile(path, failpoints=Failpoints.from_env(os.environ))
    signer.load()
    if mode == "once":
        signer.persist(state_at(start))
        print("persisted", flush=True)
        return 0
    height = start
    while True:
        signer.persist(state_at(height))
        print(height, flush=True)
        height += 1


if __name__ == "__main__":
    sys.exit(main())
