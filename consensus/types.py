"""Domain scalars shared by the consensus core.

``NewType`` keeps them free at run time while letting mypy catch a round passed as a height.
"""

from typing import NewType

Height = NewType("Height", int)
"""Block height; the genesis state is height 0, the first block is height 1."""

Round = NewType("Round", int)
"""Consensus round within a height, starting at 0."""

TimestampMs = NewType("TimestampMs", int)
"""Milliseconds since the Unix epoch (UTC). Always an input, never read from a clock here."""

DurationMs = NewType("DurationMs", int)
"""A span of time in milliseconds."""

Hash32 = NewType("Hash32", bytes)
"""A 32-byte sha256 digest."""

PublicKey = NewType("PublicKey", bytes)
"""A 32-byte Ed25519 public key."""

Signature = NewType("Signature", bytes)
"""A 64-byte Ed25519 signature."""

ValidatorIndex = NewType("ValidatorIndex", int)
"""Position of a validator in a height's validator set (sorted order)."""

VotingPower = NewType("VotingPower", int)
"""A validator's voting weight; quorum is strictly more than 2/3 of the total."""

ChainId = NewType("ChainId", str)
"""Network identifier mixed into every signature so nothing replays across networks."""

HASH_LEN = 32
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
CHAIN_ID_MAX_LEN = 50
