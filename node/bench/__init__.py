"""Benchmarks: measurement tools, not tests; nothing here asserts a speed.

- ``ledger``: ``depochain bench ledger``, the pure ledger and LevelDB commits on one core;
- ``cluster``: ``depochain bench`` (cluster), a fresh localnet under load from ``load``, a
  separate load-generator process, beside the same-run ``ceiling`` (what N processes doing only
  the unavoidable per-tx work reach); ``report`` prints it, ``stages`` is ``--profile``;
- ``p2p``, ``storage``: micro-benchmarks of the transport and of block commits
  (``python -m node.bench.p2p``, ``python -m node.bench.storage``).
"""
