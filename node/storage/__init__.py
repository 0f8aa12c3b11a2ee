"""Block storage: one atomic write per committed block, in LevelDB or (for tests) in memory.

See :mod:`node.storage.base` for the contract and :mod:`node.storage.keys` for the key layout.
"""

from node.storage.base import (
    BlockWrite,
    InvalidInputError,
    StorageError,
    Store,
    StoreClosedError,
    StoreCorruptedError,
    StoreLockedError,
)
from node.storage.leveldb import LevelDBStore
from node.storage.memory import MemoryStore

__all__ = [
    "BlockWrite",
    "InvalidInputError",
    "LevelDBStore",
    "MemoryStore",
    "StorageError",
    "Store",
    "StoreClosedError",
    "StoreCorruptedError",
    "StoreLockedError",
]
