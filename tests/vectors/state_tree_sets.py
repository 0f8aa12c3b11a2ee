"""Known answers for the state tree: roots and proofs a light client must reproduce and verify
(the hashes and the proof format of docs/state.md)."""

from __future__ import annotations

from consensus.ledger.commitment import instrument_balances_range, to_tree_key
from consensus.ledger.state import balance_key
from consensus.merkle import StateTree, build_tree, prove_range, successor

from .chain import build_chain
from .jsonform import Json
from .store import make_document, make_vector


def _query(tree: StateTree, what: str, lo: bytes, hi: bytes | None) -> Json:
    proof = prove_range(tree, lo, hi)
    items = [(k, v) for k, v in tree.items() if lo <= k and (hi is None or k < hi)]
    return {
        "what": what,
        "lo": lo.hex(),
        "hi": None if hi is None else hi.hex(),
        "proven_items": [[k.hex(), v.hex()] for k, v in items],
        "proof_encoding": proof.encode().hex(),
    }


def _key_query(tree: StateTree, what: str, key: bytes) -> Json:
    return _query(tree, what, key, successor(key))


def _small_vector() -> Json:
    items = [(b"P1", b"one"), (b"P10", b"ten"), (b"P1\x00x", b"zero-x"), (b"Q", b"")]
    tree = build_tree(items)
    queries = [
        _key_query(tree, "membership of P1 (a prefix of two other keys)", b"P1"),
        _key_query(tree, "absence of P (below every key)", b"P"),
        _key_query(tree, "absence of P11 (between P10 and Q)", b"P11"),
        _query(tree, "every key starting with P1", b"P1", b"P2"),
    ]
    inputs = {"items": [[k.hex(), v.hex()] for k, v in items]}
    expected = {"root": tree.root_hash.hex(), "queries": queries}
    text = "four keys, one a prefix of two others, one value empty"
    return make_vector("small", text, inputs, expected)


def _empty_vector() -> Json:
    tree = build_tree([])
    queries = [_key_query(tree, "absence of any key in the empty tree", b"A")]
    expected = {"root": tree.root_hash.hex(), "queries": queries}
    return make_vector("empty", "the empty tree", {"items": []}, expected)


def _genesis_vector() -> Json:
    state = build_chain().genesis_state
    tree = state.tree
    alice = to_tree_key(balance_key("BANKA/alice", "BANKA:USD"))
    queries = [
        _key_query(tree, "BANKA/alice's BANKA:USD balance", alice),
        _key_query(tree, "absence of the account BANKA/nobody", b"ABANKA/nobody"),
        _query(tree, "every BANKA:USD balance", *instrument_balances_range("BANKA:USD")),
    ]
    inputs = {"state": "the genesis state of ledger.json (tree keys: balances instrument-first)"}
    expected = {"root": tree.root_hash.hex(), "queries": queries}
    text = "proofs against the vector chain's genesis app hash"
    return make_vector("genesis", text, inputs, expected)


def state_tree_document() -> Json:
    return make_document(
        "State tree (docs/state.md): a binary Patricia trie over ordered keys. Leaf hash "
        "sha256(0x00 || u16 len(key) || key || sha256(value)); inner hash sha256(0x01 || u32 bit "
        "|| u16 len(prefix) || prefix || left || right); the empty tree hashes to "
        "sha256('depochain/state-tree/empty/v1'). A proof encodes [1, entries], pre-order; "
        "verify_range(root, lo, hi, proof) must give exactly proven_items for [lo, hi).",
        [_empty_vector(), _small_vector(), _genesis_vector()],
        layouts={
            "proof_encoding": ["format", "entries"],
            "entries[]": ["kind (0 leaf, 1 inner, 2 left out, 3 hidden leaf)", "field", "field"],
        },
    )
