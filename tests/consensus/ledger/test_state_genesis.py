"""State layers, KV round trip, app hash chain, genesis validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.codec import CodecError
from consensus.ledger import GenesisDoc, GenesisError, State, build_genesis_state, execute_block
from consensus.ledger import queries as q
from consensus.ledger.commitment import build_state_tree, instrument_balances_range, to_tree_key
from consensus.ledger.state import META_KEY, balance_key
from consensus.ledger.txs import Transfer
from consensus.merkle import prove_key, prove_range, verify_membership, verify_range

from .world import GENESIS_TIME_MS, TxFactory, genesis_json, genesis_state


def test_genesis_is_deterministic_and_round_trips_through_json() -> None:
    doc = GenesisDoc.from_json_dict(genesis_json())
    assert GenesisDoc.from_json_dict(doc.to_json_dict()) == doc
    a, b = build_genesis_state(doc), build_genesis_state(doc)
    assert a.to_kv() == b.to_kv()
    assert a.app_hash == b.app_hash and a.height == 0
    instrument = q.get_instrument(a, "CB:USD")
    assert instrument is not None and instrument.supply == 3_000_000


def _mutated(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(genesis_json())
    target = doc
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["chain_id"], ""),
        (["chain_id"], 5),
        (["governance_threshold"], 2),  # the absolute count is gone: a fraction replaced it
        (["governance", "threshold_numerator"], 1),  # below a majority of 3
        (["governance", "threshold_numerator"], 3),  # 3/3: all banks could never reach it
        (["governance", "change_delay_heights"], 0),
        (["governance", "validators_min"], 0),
        (["governance", "extra"], 1),
        (["participants", 0, "roles"], ["king"]),
        (["participants", 0, "keys"], ["zz"]),
        (["participants", 0, "keys"], []),
        (["participants", 0, "threshold"], 2),
        (["participants", 0, "id"], "lower"),
        (["participants", 0, "extra"], 1),
        (["instruments", 1, "id"], "BANKA:EUR"),
        (["instruments", 1, "settlement_asset"], None),
        (["accounts", 0, "id"], "no-bank-prefix"),
        (["balances", 0, "amount"], 0),
        (["balances", 0, "amount"], 2**63),
        (["balances", 0], KeyError),
        (["participants"], KeyError),
    ],
)
def test_genesis_rejects_malformed_documents(path: list[Any], value: Any) -> None:
    doc = _mutated(path, value)
    if path == ["balances", 0] and value is KeyError:
        doc["balances"][0] = {"account": "CB/BANKA"}
    with pytest.raises(GenesisError):
        build_genesis_state(GenesisDoc.from_json_dict(doc))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["governance", "validators_min"], 4),  # only 3 validators
        (["instruments", 1, "decimals"], 0),  # BANKA:USD against CB:USD with 2: value created
        (["instruments", 0, "issuer"], "BANKA"),  # settlement asset issued by a bank
        (["balances", 0, "instrument"], "BANKA:USD"),  # CB/BANKA holds only CB instruments
        (["accounts", 0, "kyc_expiry_ms"], GENESIS_TIME_MS),
        (["participants", 2, "validator_power"], 0),
    ],
)
def test_genesis_rejects_inconsistent_documents(path: list[Any], value: Any) -> None:
    doc = _mutated(path, value)
    if path[-1] == "validator_power":  # remove every validator: the set would be empty
        for participant in doc["participants"]:
            participant["validator_power"] = 0
    with pytest.raises(GenesisError):
        build_genesis_state(GenesisDoc.from_json_dict(doc))


def test_genesis_governance_defaults_to_more_than_two_thirds() -> None:
    from consensus.ledger import queries as q
    from consensus.ledger.controls import DEFAULT_GOVERNANCE

    doc = genesis_json()
    del doc["governance"]
    parsed = GenesisDoc.from_json_dict(doc)
    assert parsed.governance == DEFAULT_GOVERNANCE
    assert q.get_governance(build_genesis_state(parsed)) == DEFAULT_GOVERNANCE
    assert (DEFAULT_GOVERNANCE.threshold_numerator, DEFAULT_GOVERNANCE.threshold_denominator) == (
        2,
        3,
    )
    # the JSON form round-trips, governance included
    assert GenesisDoc.from_json_dict(parsed.to_json_dict()) == parsed


def _run_blocks(count: int, txs_per_block: int) -> tuple[State, list[State]]:
    state, f, history = genesis_state(), TxFactory(), []
    payers = ["BANKA/alice", "BANKA/bob"]
    for height in range(1, count + 1):
        raws = [
            f.raw(payers[i % 2], Transfer(payers[(i + 1) % 2], "BANKA:USD", 1 + i))
            for i in range(txs_per_block)
        ]
        history.append(state)
        state = execute_block(state, raws, height, GENESIS_TIME_MS + height).state
    return state, history


def test_execute_does_not_mutate_the_parent_state() -> None:
    state = genesis_state()
    before = state.to_kv()
    raw = TxFactory().raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 5))
    result = execute_block(state, [raw], 1, GENESIS_TIME_MS + 1)
    assert state.to_kv() == before and state.height == 0
    assert q.get_balance(state, "BANKA/alice", "BANKA:USD").total == 10_000
    assert q.get_balance(result.state, "BANKA/alice", "BANKA:USD").total == 9_995
    # the same block on the same parent gives the same result (a second proposal round)
    again = execute_block(state, [raw], 1, GENESIS_TIME_MS + 1)
    assert again.app_hash == result.app_hash and again.state.to_kv() == result.state.to_kv()


def test_layers_stay_logarithmic_and_old_states_stay_valid() -> None:
    state, history = _run_blocks(64, 3)
    assert state.layer_count <= 8
    for old in history[::7]:  # every old state still reads as it was
        rebuilt = State.from_kv(old.items())
        assert rebuilt.to_kv() == old.to_kv()
        assert rebuilt.app_hash == old.app_hash


def test_from_kv_state_continues_identically() -> None:
    state, _ = _run_blocks(5, 4)
    rebuilt = State.from_kv(list(state.items()))
    raw = TxFactory().raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1), nonce=99)
    a = execute_block(state, [raw], 6, GENESIS_TIME_MS + 6)
    b = execute_block(rebuilt, [raw], 6, GENESIS_TIME_MS + 6)
    assert a.app_hash == b.app_hash and a.state_changes == b.state_changes


def test_app_hash_is_the_root_of_the_whole_state() -> None:
    state = genesis_state()
    assert state.app_hash == build_state_tree(state.items(), 0).root_hash
    raw = TxFactory().raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 5))
    result = execute_block(state, [raw], 1, GENESIS_TIME_MS + 1)
    assert result.app_hash == build_state_tree(result.state.items(), 1).root_hash
    assert result.state.app_hash == result.app_hash and result.state.height == 1
    assert result.app_hash != state.app_hash
    # a balance is proven against the app hash, under the tree's key for it
    key = balance_key("BANKA/alice", "BANKA:USD")
    value = result.state.get(key)
    assert value is not None
    proof = prove_key(result.state.tree, to_tree_key(key))
    verify_membership(result.app_hash, to_tree_key(key), value, proof)
    lo, hi = instrument_balances_range("BANKA:USD")
    holders = verify_range(result.app_hash, lo, hi, prove_range(result.state.tree, lo, hi))
    expected = sorted(
        to_tree_key(k)
        for k, _ in result.state.items()
        if k.startswith(b"B") and k.endswith(b"\x00BANKA:USD")
    )
    assert [k for k, _ in holders] == expected and len(expected) >= 2
    empty = execute_block(result.state, [], 2, GENESIS_TIME_MS + 2)
    assert empty.app_hash == result.app_hash  # the state, not the height, is what is committed
    with pytest.raises(ValueError):
        execute_block(result.state, [], 5, GENESIS_TIME_MS + 5)


@given(st.lists(st.tuples(st.binary(max_size=8), st.binary(max_size=8)), max_size=5))
def test_from_kv_rejects_unknown_or_malformed_entries(items: list[tuple[bytes, bytes]]) -> None:
    good = list(genesis_state().items())
    with pytest.raises(CodecError):
        State.from_kv(good + [(b"Z" + k, v) for k, v in items] + [(b"Zjunk", b"\xc0")])
    account_key = next(k for k, _ in good if k.startswith(b"A"))
    with pytest.raises(CodecError):
        State.from_kv([*good, (account_key + b"x", codec.encode([1, 2]))])
    with pytest.raises(CodecError):
        State.from_kv([(k, v) for k, v in good if k != META_KEY])


def test_account_balances_query() -> None:
    state, _ = _run_blocks(2, 2)
    balances = q.get_account_balances(state, "BANKA/alice")
    assert set(balances) == {"BANKA:USD"}
    assert balances["BANKA:USD"] == q.get_balance(state, "BANKA/alice", "BANKA:USD")
    assert q.get_account_balances(state, "BANKA/al") == {}
