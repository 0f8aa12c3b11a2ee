"""The one root of expected P2P failures: everything a remote peer (or the network) can cause.

Such failures close the one connection concerned and are counted by ``reason``; they never
propagate out of the network object. Bugs in our own code raise anything else and are not caught.
"""

from __future__ import annotations

from node.errors import NodeError


class PeerError(NodeError):
    """A connection failed for a reason blamed on the remote side or the network.

    ``reason`` is a short stable identifier (``"bad_signature"``, ``"decrypt_failed"``…) used as
    a counter key and in logs; the message may add detail.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class HandshakeError(PeerError):
    """The peer failed to authenticate, or was not acceptable once authenticated."""


class FrameError(PeerError):
    """A frame could not be read, authenticated or written."""
