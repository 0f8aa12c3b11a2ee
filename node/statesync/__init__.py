"""State sync: snapshots of the ledger state that a new node fetches from its peers, verifies
against the app hash of a certified header, installs, and then block-syncs from.

- :mod:`node.statesync.snapshot`: the format (manifest, chunks) and its checks (pure);
- :mod:`node.statesync.files`: the bounded snapshot folder and the writer that fills it after
  commits, off the consensus path;
- :mod:`node.statesync.messages`: what peers say to each other about snapshots;
- :mod:`node.statesync.serve`: answering peers' snapshot requests;
- :mod:`node.statesync.anchor`: proving that a snapshot's height has a certified app hash;
- :mod:`node.statesync.restore`: the joining node's side, from discovery to install.

See ``docs/state-sync.md``.
"""
