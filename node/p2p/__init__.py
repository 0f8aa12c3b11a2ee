"""Authenticated, encrypted TCP transport between the known nodes of a permissioned network.

Layers, bottom up: ``frames`` (length-limited ChaCha20-Poly1305 frames with counter nonces),
``handshake`` (mutual Ed25519 authentication of a fresh X25519 exchange), ``peer`` (one live
connection: bounded send queue, reader and writer loops) and ``network`` (listening, dialling with
backoff, one connection per peer pair, broadcast/send). Payloads are opaque bytes to this package.
"""

from node.p2p.errors import PeerError
from node.p2p.limits import NetworkStats, P2PLimits
from node.p2p.network import P2PNetwork
from node.p2p.peer import PeerStats

__all__ = ["NetworkStats", "P2PLimits", "P2PNetwork", "PeerError", "PeerStats"]
