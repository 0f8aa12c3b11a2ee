"""``depochain status``: a node's height, sync state and identity, read over its RPC."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 5.0


def fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return json.loads(response.read())


def run(node_url: str, *, json_output: bool) -> int:
    try:
        answer = fetch_json(node_url.rstrip("/") + "/status")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"depochain status: cannot reach {node_url}: {exc}", file=sys.stderr)
        return 1
    if "result" not in answer:
        print(f"depochain status: {answer.get('error')}", file=sys.stderr)
        return 1
    status = answer["result"]
    if json_output:
        print(json.dumps(status, indent=2))
        return 0
    info, sync = status["node_info"], status["sync_info"]
    print(f"node        {info['moniker']} ({info['id']})")
    print(f"network     {info['network']}")
    print(f"height      {sync['latest_block_height']} at {sync['latest_block_time']}")
    print(f"block hash  {sync['latest_block_hash'] or '-'}")
    print(f"app hash    {sync['latest_app_hash']}")
    print(f"catching up {'yes' if sync['catching_up'] else 'no'}")
    print(f"voting power {status['validator_info']['voting_power']}")
    return 0
