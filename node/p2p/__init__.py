"""Authenticated, encrypted TCP transport between the known nodes of a permissioned network.

Layers, bottom up: ``frames`` (length-limited ChaCha20-Poly1305 frames with counter nonces),
``handshake`` (mutual Ed25519 authentication of a fresh X25519 exchange), ``peer`` (one live
connection: bounded send queue, reader and writer loops) and ``network`` (listening, dialling with
backoff, one connection per peer pair, broadcast/send). Payloads are opaque bytes to this package.

Use::

    net = P2PNetwork(chain_id, node_key, "0.0.0.0", 26656, peers={pub: (host, port)},
                     allowed=validator_and_peer_keys, on_message=driver.on_p2p_message)
    await net.start()
    net.broadcast(payload)          # -> number of peers it was queued to; never blocks
    net.send(pub, payload)          # -> False if that peer is not connected
    await net.stop()
"""

from node.p2p.errors import PeerError
from node.p2p.limits import NetworkStats, P2PLimits
from node.p2p.network import P2PNetwork
from node.p2p.peer import PeerStats

__all__ = ["NetworkStats", "P2PLimits", "P2PNetwork", "PeerError", "PeerStats"]
