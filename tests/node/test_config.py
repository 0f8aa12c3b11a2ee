"""node.config: TOML round trip, validation naming the key, unknown keys, safe defaults."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.params import ConsensusParams
from node.config import (
    SECTIONS,
    ConfigError,
    ConsensusSection,
    NodeConfig,
    NodeSection,
    P2PSection,
    RpcSection,
    config_from_dict,
    dump_config,
    format_toml_value,
    load_config,
    parse_config,
    parse_peer_address,
    write_config,
)
from node.config.loader import validate_frame_fits_block

CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "configs"
KEY = "ab" * 32


def minimal() -> dict[str, Any]:
    return {"node": {"chain_id": "test-chain"}}


def with_value(section: str, key: str, value: Any) -> dict[str, Any]:
    document = minimal()
    document.setdefault(section, {})[key] = value
    return document


def test_defaults_are_secure() -> None:
    config = parse_config('[node]\nchain_id = "c"\n')
    assert config.rpc.listen_host == "127.0.0.1"
    assert config.rpc.admin_enabled is False
    assert config.rpc.cors_origins == ()
    assert config == NodeConfig(node=NodeSection(chain_id="c"))


def test_round_trip_write_read(tmp_path: pathlib.Path) -> None:
    config = NodeConfig(
        node=NodeSection(chain_id="bank-net.1", moniker='quote " back \\', home="/srv/x\ty"),
        p2p=P2PSection(persistent_peers=(f"{KEY}@10.0.0.2:26656", f"{'cd' * 32}@[::1]:1")),
        rpc=RpcSection(cors_origins=("https://a.example", "*"), admin_enabled=True),
        consensus=ConsensusSection(create_empty_blocks=False, timeout_commit_ms=7),
    )
    path = tmp_path / "node.toml"
    write_config(config, path)
    assert load_config(path) == config
    assert parse_config(dump_config(config, with_docs=False)) == config


@given(st.text(max_size=40))
def test_string_writer_round_trips_any_text(text: str) -> None:
    assert tomllib.loads(f"x = {format_toml_value(text)}")["x"] == text


# (section, key, bad value, words the message must contain)
BAD_VALUES = [
    ("node", "chain_id", "", "1..50"),
    ("node", "chain_id", "has space", "[A-Za-z0-9._-]"),
    ("node", "chain_id", 5, "string"),
    ("node", "moniker", "", "1..64"),
    ("node", "home", "", "empty"),
    ("node", "log_level", "loud", "one of"),
    ("node", "log_format", "xml", "one of"),
    ("node", "log_file", 5, "string"),
    ("node", "log_file_bytes_max", 100, "4096.."),
    ("node", "log_file_backups", -1, "0..1000"),
    ("p2p", "listen_host", "bad host!", "IP address"),
    ("p2p", "listen_port", 70000, "0..65535"),
    ("p2p", "listen_port", "26656", "integer"),
    ("p2p", "listen_port", True, "integer"),
    ("p2p", "persistent_peers", "x@h:1", "list of strings"),
    ("p2p", "persistent_peers", ["nohost"], "pubkeyhex@host:port"),
    ("p2p", "persistent_peers", [f"{KEY}@h:0"], "port"),
    ("p2p", "persistent_peers", [f"{KEY[:-2]}@h:1"], "hex"),
    ("p2p", "persistent_peers", [f"{KEY}@h:1", f"{KEY}@g:2"], "twice"),
    ("p2p", "frame_bytes_max", 0, "1.."),
    ("p2p", "send_queue_size", -1, "1.."),
    ("rpc", "listen_host", "local host", "IP address"),
    ("rpc", "listen_port", -1, "0..65535"),
    ("rpc", "body_bytes_max", 1.5, "integer"),
    ("rpc", "cors_origins", ["ftp://x"], "origin"),
    ("rpc", "admin_enabled", 1, "true or false"),
    ("rpc", "hosts_allowed", ["evil.example:80"], "host name"),
    ("rpc", "response_bytes_max", 0, "1.."),
    ("rpc", "request_blocks_max", 0, "1.."),
    ("rpc", "request_rows_max", -5, "1.."),
    ("rpc", "read_threads", 65, "0..64"),
    ("rpc", "reads_queued_max", 0, "1.."),
    ("rpc", "reads_client_queued_max", 0, "1.."),
    ("rpc", "reads_cpu_percent", 0, "1..100"),
    ("mempool", "txs_max", 0, "1.."),
    ("mempool", "bytes_max", 0, "1.."),
    ("mempool", "tx_bytes_max", 0, "1.."),
    ("mempool", "nonce_window", 0, "1.."),
    ("mempool", "submitter_txs_max", 0, "1.."),
    ("mempool", "submitter_bytes_max", 0, "1.."),
    ("mempool", "ttl_s", 0, "1.."),
    ("mempool", "verify_threads", -2, "-1..64"),
    ("mempool", "verify_threads", 65, "-1..64"),
    ("consensus", "timeout_propose_ms", 0, "1.."),
    ("consensus", "timeout_prevote_ms", 0, "1.."),
    ("consensus", "timeout_precommit_ms", 0, "1.."),
    ("consensus", "timeout_delta_ms", -1, "0.."),
    ("consensus", "timeout_max_ms", 0, "1.."),
    ("consensus", "timeout_commit_ms", -1, "0.."),
    ("consensus", "timeout_propose_absent_ms", 0, "1.."),
    ("consensus", "create_empty_blocks", "yes", "true or false"),
    ("consensus", "empty_block_interval_ms", -5, "0.."),
    ("consensus", "block_txs_max", 0, "1.."),
    ("consensus", "block_txs_max", 100_001, "1..100000"),
    ("consensus", "block_bytes_max", 1023, "1024.."),
    ("consensus", "block_bytes_max", 8 * 1024 * 1024 + 1, "1024.."),
    ("storage", "data_dir", "", "empty"),
    ("mempool", "backlog_ms", -1, "must be in 0.."),
    ("mempool", "backlog_ms", 600_001, "must be in 0..600000"),
    ("mempool", "backlog_txs_min", 0, "must be in 1.."),
    ("storage", "free_bytes_min", -1, "must be in 0.."),
    ("storage", "state_versions_kept", 0, "must be in 1"),
    ("statesync", "snapshot_interval", -1, "must be in 0.."),
    ("statesync", "snapshots_kept", 0, "must be in 1.."),
    ("statesync", "trust_hash", "abc", "64 hex digits"),
    ("statesync", "enable", "yes", "true or false"),
    ("statesync", "chunk_bytes", 0, "must be in 1.."),
    ("statesync", "trust_height", -1, "must be in 0.."),
    ("statesync", "discovery_time_s", 0, "must be in 1.."),
    ("statesync", "restore_timeout_s", 0, "must be in 1.."),
    ("storage", "state_cache_bytes", -1, "must be in 0.."),
    ("storage", "state_decoded_records", 0, "must be in 1"),
    ("storage", "tree_cache_nodes", 0, "must be in 1"),
    ("storage", "leveldb_max_open_files", 73, "must be in 74.."),
    ("storage", "leveldb_max_file_bytes", 1024, "must be in 1048576.."),
    ("storage", "leveldb_write_buffer_bytes", 0, "must be in 65536.."),
    ("storage", "leveldb_block_cache_bytes", -1, "must be in 0.."),
]


def test_every_key_has_a_bad_value_case() -> None:
    covered = {(section, key) for section, key, _, _ in BAD_VALUES}
    for name, cls in SECTIONS.items():
        for spec in dataclasses.fields(cls):
            assert (name, spec.name) in covered, f"no validation test for [{name}].{spec.name}"


@pytest.mark.parametrize(("section", "key", "value", "words"), BAD_VALUES)
def test_validation_error_names_the_key(section: str, key: str, value: Any, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(with_value(section, key, value))
    message = str(info.value)
    assert message.startswith(f"[{section}].{key}: "), message
    assert words in message


@pytest.mark.parametrize(
    ("section", "values", "named"),
    [
        ("mempool", {"tx_bytes_max": 10, "bytes_max": 5}, "[mempool].tx_bytes_max"),
        ("p2p", {"frame_bytes_max": 4 << 20}, "[p2p].frame_bytes_max"),
        ("consensus", {"timeout_max_ms": 10, "timeout_propose_ms": 20}, "timeout_max_ms"),
        ("rpc", {"listen_port": 26656, "listen_host": "0.0.0.0"}, "[rpc].listen_port"),
    ],
)
def test_cross_key_rules_name_the_keys(section: str, values: dict[str, Any], named: str) -> None:
    document = minimal()
    document[section] = values
    with pytest.raises(ConfigError, match=re.escape(named)):
        config_from_dict(document)


def test_consensus_section_gives_replica_params() -> None:
    config = config_from_dict(with_value("consensus", "timeout_commit_ms", 0))
    params = config.consensus.to_params()
    assert params.timeout_commit_ms == 0
    assert params.block_bytes_max == config.consensus.block_bytes_max
    assert params.create_empty_blocks is config.consensus.create_empty_blocks


def test_tx_larger_than_block_is_refused() -> None:
    document = minimal()
    document["mempool"] = {"tx_bytes_max": 2000}
    document["consensus"] = {"block_bytes_max": 1000}
    with pytest.raises(ConfigError, match=r"block_bytes_max"):
        config_from_dict(document)


def test_unknown_key_is_rejected_with_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"^\[rpc\]\.admin_enable: unknown key.*admin_enabled"):
        parse_config('[node]\nchain_id = "c"\n[rpc]\nadmin_enable = true\n')


def test_unknown_section_and_non_table_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^\[mempol\]: unknown section"):
        parse_config('[node]\nchain_id = "c"\n[mempol]\ntxs_max = 1\n')
    with pytest.raises(ConfigError, match=r"^\[rpc\]: must be a table"):
        parse_config('rpc = 1\n[node]\nchain_id = "c"\n')


def test_missing_chain_id_and_bad_toml_and_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match=r"^\[node\]\.chain_id: missing"):
        parse_config("")
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[node\n")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.toml")


def test_peer_address_parsing() -> None:
    peer = parse_peer_address(f"{KEY}@node-1.bank.example:26656")
    assert (peer.public_key, peer.host, peer.port) == (
        bytes.fromhex(KEY),
        "node-1.bank.example",
        26656,
    )
    assert str(peer) == f"{KEY}@node-1.bank.example:26656"
    config = config_from_dict(with_value("p2p", "persistent_peers", [f"{KEY}@[::1]:9"]))
    assert config.p2p.get_peers()[0].host == "::1"


def test_paths_resolve_against_home(tmp_path: pathlib.Path) -> None:
    config = config_from_dict({"node": {"chain_id": "c", "home": "h"}})
    assert config.get_data_path(tmp_path) == tmp_path / "h" / "data"
    absolute = config_from_dict({"node": {"chain_id": "c"}, "storage": {"data_dir": "/var/d"}})
    assert str(absolute.get_data_path(tmp_path)) == "/var/d"


def test_wal_and_sign_state_live_in_the_data_dir(tmp_path: pathlib.Path) -> None:
    config = config_from_dict({"node": {"chain_id": "c", "home": str(tmp_path)}})
    assert config.get_wal_path() == tmp_path / "data" / "wal"
    assert config.get_sign_state_path() == tmp_path / "data" / "sign_state.json"


def test_config_is_frozen() -> None:
    config = parse_config('[node]\nchain_id = "c"\n')
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.rpc.admin_enabled = True  # type: ignore[misc]


def test_shipped_configs_load() -> None:
    files = sorted(CONFIGS.rglob("*.toml"))
    assert len(files) >= 5
    configs = {path.name: load_config(path) for path in files}
    localnet = [configs[f"bank-{x}.toml"] for x in "abcd"]
    assert len({c.p2p.listen_port for c in localnet}) == 4
    assert all(c.rpc.listen_host == "127.0.0.1" and not c.rpc.admin_enabled for c in localnet)
    assert configs["node.example.toml"] == localnet[0]
    own_keys = set()
    for config in localnet:
        assert len(config.p2p.get_peers()) == 3
        own_keys |= {p.public_key for p in config.p2p.get_peers()}
    assert len(own_keys) == 4  # each node is named by the other three


def test_example_documents_every_key() -> None:
    lines = (CONFIGS / "node.example.toml").read_text().splitlines()
    keys_seen = set()
    for index, line in enumerate(lines):
        match = re.match(r"^([a-z_]+) = ", line)
        if match:
            keys_seen.add(match.group(1))
            assert lines[index - 1].startswith("#"), f"no comment above {line!r}"
    for cls in SECTIONS.values():
        for spec in dataclasses.fields(cls):
            assert spec.name in keys_seen, f"{spec.name} missing from node.example.toml"


def test_the_genesis_block_bound_must_fit_a_frame() -> None:
    # The genesis block_bytes_max overrides [consensus].block_bytes_max, so the check that a
    # full block fits a P2P frame is made against it when the node starts.
    config = config_from_dict(with_value("p2p", "frame_bytes_max", 4 * 1024 * 1024 + 65536))
    validate_frame_fits_block(config, ConsensusParams(block_bytes_max=4 * 1024 * 1024))
    with pytest.raises(ConfigError, match=r"\[p2p\].frame_bytes_max.*genesis block_bytes_max"):
        validate_frame_fits_block(config, ConsensusParams(block_bytes_max=4 * 1024 * 1024 + 1))


def test_a_chunk_must_fit_half_a_frame_only_when_state_sync_is_used() -> None:
    document = minimal()
    document["statesync"] = {"chunk_bytes": 1 << 20}
    document["p2p"] = {"frame_bytes_max": 1 << 20}
    document["consensus"] = {"block_bytes_max": 256 * 1024}
    config_from_dict(document)  # no snapshots taken or fetched: the chunk size is moot
    document["statesync"] = {"chunk_bytes": 1 << 20, "snapshot_interval": 100}
    with pytest.raises(ConfigError, match=re.escape("[statesync].chunk_bytes")):
        config_from_dict(document)
