"""LevelDB's memory bounds, as the node opens its block store (``[storage] leveldb_*`` keys).

What LevelDB (1.22, bundled with plyvel) holds in a process, and what bounds it:

- table files it *maps*: LevelDB reads a table through ``mmap`` while the table is in its table
  cache (and while fewer than 1,000 are mapped); the cache holds ``max_open_files - 10``
  tables. Every page read stays resident until the table leaves the cache, so the resident
  mapped bytes are at most ``(max_open_files - 10)`` tables: compacted ones of
  ``max_file_bytes``, and up to 12 level-0 ones of a memtable each (:meth:`mapped_bytes_max`;
  clean page cache the kernel may drop, yet counted in the RSS);
- the memtable (``write_buffer_bytes``; two while a full one is being written out);
- the block cache (``block_cache_bytes``): blocks read without a mapping (tables beyond the
  mmap limit). With every table mapped it stays nearly empty.

LevelDB clamps ``max_open_files`` to at least 74 and ``max_file_bytes`` to at least 1 MiB
(``SanitizeOptions``): the config refuses smaller values rather than let them be ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024
MAX_OPEN_FILES_MIN = 74
"""LevelDB keeps 10 descriptors for its own files and at least 64 tables open."""
NON_TABLE_FILES = 10
"""Descriptors LevelDB reserves out of ``max_open_files`` for its log, manifest, lock..."""
MAX_FILE_BYTES_MIN = MIB
LEVEL0_TABLES_MAX = 12
"""LevelDB stops writes while level 0 holds this many tables (``kL0_StopWritesTrigger``)."""
BLOOM_FILTER_BITS = 10
"""Bloom filters make misses cheap: every tx-index check of a new tx is a miss."""


@dataclass(frozen=True, slots=True)
class LevelDBOptions:
    """The bounds LevelDB is opened with (defaults: the ``[storage]`` keys' defaults)."""

    max_open_files: int = MAX_OPEN_FILES_MIN
    max_file_bytes: int = MIB
    write_buffer_bytes: int = 32 * MIB
    block_cache_bytes: int = 8 * MIB

    def plyvel_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``plyvel.DB`` that carry these bounds."""
        return {
            "max_open_files": self.max_open_files,
            "max_file_size": self.max_file_bytes,
            "write_buffer_size": self.write_buffer_bytes,
            "lru_cache_size": self.block_cache_bytes,
            "bloom_filter_bits": BLOOM_FILTER_BITS,
        }

    def mapped_bytes_max(self) -> int:
        """The most table bytes LevelDB can keep mapped: its table cache full, with as many
        level-0 tables (one flushed memtable each) as LevelDB lets pile up before it stops
        writes, every other table compacted to ``max_file_bytes`` (each may pass it by a
        block: ignored). Typical is far less: level 0 is compacted at 4 tables."""
        tables = self.max_open_files - NON_TABLE_FILES
        level0 = max(self.write_buffer_bytes, self.max_file_bytes)
        return (tables - LEVEL0_TABLES_MAX) * self.max_file_bytes + LEVEL0_TABLES_MAX * level0
