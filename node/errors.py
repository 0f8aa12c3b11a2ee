"""The node's one root error.

Every error the running node raises on purpose derives from :class:`NodeError`: bad input from
a client, a peer or a file on disk, a resource that is missing or full, a refusal to start. The
caller that must tell expected failures from bugs catches ``NodeError``; a bug in our own code
raises anything else and is meant to crash loudly. (The pure core has its own root,
``consensus.errors.ConsensusError``; the SDK has ``node.client.errors.ClientError``.)
"""

from __future__ import annotations


class NodeError(Exception):
    """An expected failure of the node, answered or reported, never a crash by itself."""
