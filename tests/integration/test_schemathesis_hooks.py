"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by test_schemathesis_api; no tests).

``application/msgpack`` bodies are opaque bytes to a generator: send them as it sends
``application/octet-stream``.
"""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/msgpack", "application/octet-stream")
