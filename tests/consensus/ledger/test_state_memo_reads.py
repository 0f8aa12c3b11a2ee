"""``State.config`` and the state's meta record (height, app hash) are read by every admission
check and every tx of a block: they must come from the decode memo (decoded once per stored
value) and be read once per state, yet always say what the state holds."""

from __future__ import annotations

import pytest

from consensus.ledger import State
from consensus.ledger.queries import get_nonce
from consensus.ledger.records import ChainConfig
from consensus.ledger.state import CONFIG_KEY, META_KEY, encode_meta, encode_value, nonce_key

from .world import genesis_state


def test_config_is_decoded_once_per_stored_value() -> None:
    state = genesis_state()
    first = state.config
    assert first.chain_id and first == ChainConfig.from_wire(first.to_wire())
    assert state.config is first  # the memo's record, not a fresh decode
    later = state.with_changes({b"x-unrelated": None})
    assert later.config is first  # derived states share the memo


def test_config_follows_a_changed_record() -> None:
    state = genesis_state()
    changed = ChainConfig("another-chain", state.config.genesis_time_ms + 1)
    later = state.with_changes({CONFIG_KEY: encode_value(changed)})
    assert later.config == changed
    assert state.config != changed  # the parent state is unchanged


def test_a_state_without_config_says_so() -> None:
    meta = genesis_state().get(META_KEY)
    assert meta is not None
    with pytest.raises(LookupError):
        _ = State(({META_KEY: meta},)).config


def test_meta_is_decoded_once_per_stored_value_and_follows_changes() -> None:
    state = genesis_state()
    assert state.height == 0
    memo = state.memo.get(META_KEY[0], {})
    raw = state.get(META_KEY)
    assert raw is not None and raw in memo  # decoded into the memo by the read above
    memo[raw] = (7, state.app_hash)  # a memo entry is what a first read returns from then on
    sibling = state.with_changes({b"x-unrelated": None})
    assert sibling.height == 7
    later = state.with_changes({META_KEY: encode_meta(3, bytes(32))})
    assert (later.height, later.app_hash) == (3, bytes(32))
    assert state.height == 0  # the parent read its meta once and keeps it


def test_a_state_reads_its_config_and_meta_once() -> None:
    """Each state keeps what it read (it never changes); a derived state reads its own."""
    state = genesis_state()
    config, height = state.config, state.height
    for prefix in (CONFIG_KEY[0], META_KEY[0]):
        state.memo[prefix].clear()  # a second read through the memo would decode afresh
    assert state.config is config and state.height == height
    assert not state.memo.get(CONFIG_KEY[0]) and not state.memo.get(META_KEY[0])
    changed = ChainConfig("another-chain", config.genesis_time_ms + 1)
    later = state.with_changes(
        {CONFIG_KEY: encode_value(changed), META_KEY: encode_meta(5, bytes(32))}
    )
    assert (later.config, later.height) == (changed, 5)
    assert (state.config, state.height) == (config, height)


def test_a_state_without_meta_says_so() -> None:
    config = genesis_state().get(CONFIG_KEY)
    assert config is not None
    with pytest.raises(LookupError):
        _ = State(({CONFIG_KEY: config},)).height


def test_queries_read_records_through_the_decode_memo() -> None:
    """``get_nonce`` runs for every admitted tx: it takes the memo's record, not a fresh decode."""
    key, raw = nonce_key("BANKA/alice"), encode_value(5)
    state = genesis_state().with_changes({key: raw})
    assert get_nonce(state, "BANKA/alice") == 5
    state.memo[key[0]][raw] = 9  # the memo's entry for these bytes is what a read returns
    assert get_nonce(state, "BANKA/alice") == 9
    assert get_nonce(state, "BANKA/nobody") == 0
