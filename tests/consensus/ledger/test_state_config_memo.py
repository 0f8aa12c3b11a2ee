"""``State.config`` is read by every admission check and every tx of a block: it must come
from the decode memo (decoded once per stored value), yet always say what the state holds."""

from __future__ import annotations

import pytest

from consensus.ledger import State
from consensus.ledger.records import ChainConfig
from consensus.ledger.state import CONFIG_KEY, META_KEY, encode_value

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
