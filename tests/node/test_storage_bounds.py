"""LevelDB's memory bounds (``[storage] leveldb_*``) reach the LevelDB the store opens.

The promise: the table files a store keeps mapped (resident in the node's RSS) are bounded by
``leveldb_max_open_files``, whatever the size of the database. Checked on a real LevelDB with
more tables than the bound, by reading the process's own memory map.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import plyvel
import pytest

from node.app import Node, NodeHome
from node.config import config_from_dict
from node.home import CONFIG_FILE
from node.state_store import leveldb_options
from node.storage import LevelDBStore, keys
from node.storage.options import NON_TABLE_FILES, LevelDBOptions
from tests.node.node_world import ME, write_home

TABLES = 120
"""Tables in the test database: well above the 64 the smallest bound keeps open."""
WRITE_BUFFER = 64 * 1024


@pytest.fixture(scope="module")
def many_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose tree column spans about :data:`TABLES` table files.

    Written in key order with LevelDB's smallest memtable: each flush becomes one table that
    overlaps no other, so LevelDB files it without merging (one ~64 KiB table per flush)."""
    path = tmp_path_factory.mktemp("store") / "db"
    db = plyvel.DB(str(path), create_if_missing=True, write_buffer_size=WRITE_BUFFER)
    db.put(keys.FORMAT_VERSION_KEY, keys.encode_format_version(keys.FORMAT_VERSION))
    for index in range(TABLES * 4):
        db.put(keys.tree_key(b"n%06d" % index), os.urandom(WRITE_BUFFER // 4))
    db.close()
    assert len(list(path.glob("*.ldb"))) > TABLES // 2
    return path


def mapped_tables(path: Path) -> int:
    """Table files of the store at ``path`` mapped into this process now."""
    names = set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        name = line.split()[-1]
        if name.endswith(".ldb") and name.startswith(str(path)):
            names.add(name)
    return len(names)


def read_every_key(path: Path, options: LevelDBOptions) -> int:
    """Open the store with ``options``, read a key of every table; the tables mapped then."""
    with LevelDBStore(path, create=False, options=options) as store:
        for index in range(TABLES * 4):
            assert store.get_tree(b"n%06d" % index) is not None
        return mapped_tables(path)


def test_max_open_files_bounds_the_mapped_tables(many_tables: Path) -> None:
    bound = LevelDBOptions(max_open_files=74)
    assert read_every_key(many_tables, bound) <= bound.max_open_files - NON_TABLE_FILES


def test_a_larger_bound_maps_more_tables(many_tables: Path) -> None:
    """The control: the database has more tables than the small bound, and LevelDB maps each
    table it reads when the bound allows it (so the bound above is what held it)."""
    assert read_every_key(many_tables, LevelDBOptions(max_open_files=1000)) > 74


def test_the_config_keys_become_the_store_options() -> None:
    config = config_from_dict(
        {
            "node": {"chain_id": "c"},
            "storage": {
                "leveldb_max_open_files": 100,
                "leveldb_max_file_bytes": 3 << 20,
                "leveldb_write_buffer_bytes": 5 << 20,
                "leveldb_block_cache_bytes": 7 << 20,
            },
        }
    )
    options = leveldb_options(config)
    assert options.plyvel_kwargs() == {
        "max_open_files": 100,
        "max_file_size": 3 << 20,
        "write_buffer_size": 5 << 20,
        "lru_cache_size": 7 << 20,
        "bloom_filter_bits": 10,
    }
    assert options.mapped_bytes_max() == 78 * (3 << 20) + 12 * (5 << 20)


def test_a_node_opens_its_store_with_its_configured_bounds(tmp_path: Path) -> None:
    home = write_home(tmp_path / "home", ME)
    config = home / CONFIG_FILE
    text = re.sub(
        r"(?m)^leveldb_max_open_files = .*$", "leveldb_max_open_files = 90", config.read_text()
    )
    config.write_text(
        re.sub(r"(?m)^leveldb_block_cache_bytes = .*$", "leveldb_block_cache_bytes = 12345", text)
    )
    node = Node(NodeHome.load(home))
    try:
        assert node.store.options == LevelDBOptions(max_open_files=90, block_cache_bytes=12345)
    finally:
        node.close()
