"""The app hash commits to the whole state: any record changes it, a genesis larger than any
list the codec takes still builds, and one instrument's balances are proven as a complete list."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.ledger import GenesisDoc, build_genesis_state
from consensus.ledger.commitment import (
    build_state_tree,
    instrument_balances_range,
    to_state_key,
    to_tree_key,
)
from consensus.ledger.state import META_KEY, State
from consensus.merkle import ProofError, prove_range, verify_range

from .world import _account, genesis_json, genesis_state


def test_a_genesis_larger_than_any_codec_list_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = genesis_json()
    doc["accounts"] += [_account(f"BANKA/extra{i:03d}", "BANKA") for i in range(60)]
    monkeypatch.setattr(codec, "CONTAINER_LEN_MAX", 40)  # the state has more keys than this
    state = build_genesis_state(GenesisDoc.from_json_dict(doc))
    assert state.app_hash == build_state_tree(state.items(), 0).root_hash
    assert sum(1 for k, _ in state.items() if k.startswith(b"A")) > 60


@given(st.data())
def test_every_record_is_committed(data: st.DataObject) -> None:
    state = genesis_state()
    items = [(k, v) for k, v in state.items() if k != META_KEY]
    key, value = data.draw(st.sampled_from(items))
    changed = dict(state.items())
    changed[key] = value + b"\x00"  # any byte of any record (participants, config, schedule...)
    assert build_state_tree(changed.items(), 0).root_hash != state.app_hash
    del changed[key]
    assert build_state_tree(changed.items(), 0).root_hash != state.app_hash


@given(st.binary(max_size=12).filter(lambda b: b"\x00" not in b), st.binary(max_size=12))
def test_tree_keys_map_back_to_state_keys(account: bytes, rest: bytes) -> None:
    balance = b"B" + account + b"\x00" + rest.replace(b"\x00", b"")
    assert to_state_key(to_tree_key(balance)) == balance
    other = b"A" + account
    assert to_tree_key(other) == other


def test_an_instrument_balance_list_is_complete_or_fails() -> None:
    state = genesis_state()
    lo, hi = instrument_balances_range("BANKA:USD")
    proven = verify_range(state.app_hash, lo, hi, prove_range(state.tree, lo, hi))
    holders = {to_state_key(k) for k, _ in proven}
    expected = {k for k, _ in state.items() if k.startswith(b"B") and k.endswith(b"\x00BANKA:USD")}
    assert holders == expected and len(holders) >= 2
    # a node that leaves out one holder cannot make the proof pass
    smaller = State.from_kv([(k, v) for k, v in state.items() if k != sorted(expected)[0]])
    short = prove_range(smaller.tree, lo, hi)
    with pytest.raises(ProofError):
        verify_range(state.app_hash, lo, hi, short)
