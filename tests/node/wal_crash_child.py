"""Child process for the WAL crash tests (run as a script, never imported by pytest).

``python wal_crash_child.py DIR once`` appends one record; with DEPOCHAIN_FAILPOINT=wal_mid_append
the WAL writes half of it and exits with 98.
``python wal_crash_child.py DIR loop`` appends records "h:i" (20 per height, then mark_height(h))
until killed; it prints "ready" once the first height is marked.
"""

from __future__ import annotations

import os
import sys

from node.failpoints import Failpoints
from node.wal import WriteAheadLog


def main() -> int:
    directory, mode = sys.argv[1], sys.argv[2]
    wal = WriteAheadLog(directory, failpoints=Failpoints.from_env(os.environ))
    if mode == "once":
        wal.append(b"the record that gets torn" * 10, sync=True)
        return 0
    height = (wal.last_height or 0) + 1
    while True:
        for index in range(20):
            wal.append(f"{height}:{index}".encode(), sync=index % 5 == 4)
        wal.mark_height(height)
        if height == 1:
            print("ready", flush=True)
        height += 1


if __name__ == "__main__":
    sys.exit(main())
