"""``python -m node.cli``: the same commands as the ``depochain`` script (how localnet and the
integration tests start node processes without relying on the installed script)."""

import sys

from node.cli import main

sys.exit(main())
