"""The consensus protocol version: one number for every byte that validators must agree on.

Any change to what a node encodes, hashes or signs -- vote/proposal sign-bytes, header and block
encoding and hash, tx encoding and hash, certificates, evidence, receipts, the app hash, the P2P
handshake -- makes old and new nodes disagree: stored certificates stop verifying and a network
of mixed versions forks. Such a change is a protocol change and must bump this number. The
known-answer vectors in ``tests/vectors/`` are recorded per version and fail on any such change
until it is bumped and new vectors are generated.

Nothing here reads a clock or the environment: the version is a constant of the code.
"""

from typing import Final

PROTOCOL_VERSION: Final = 2
"""Version of the consensus-critical encodings. The P2P hello carries it (``node/p2p``), so
nodes of different protocol versions refuse each other instead of forking.
3: the app hash is the root of the state tree (``consensus.merkle``) and each header carries
``last_results_hash``."""
