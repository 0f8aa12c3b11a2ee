"""The batch update against a reference written straight from the definition in docs/state.md.

The reference spells each key out as a string of '0'/'1' characters (9 a byte: '1' then the
byte's bits, and a final '0'), splits a sorted key set at the first character where its smallest
and largest keys differ, and hashes with the formulas of docs/state.md, so it shares no code with
``consensus.merkle``. Random batches (deletes, keys that are prefixes of others, long shared
runs) applied one version after another must give the reference's root of the same contents at
every version, and proofs from the updated tree must verify against it.
"""

from __future__ import annotations

import hashlib
import struct

from hypothesis import given
from hypothesis import strategies as st

from consensus.merkle import (
    MemoryNodeStore,
    StateTree,
    prove_key,
    verify_membership,
    verify_non_membership,
)


def _bit_string(key: bytes) -> str:
    return "".join("1" + format(byte, "08b") for byte in key) + "0"


def _prefix_bytes(bit_string: str, length: int) -> bytes:
    """The shortest bytes whose spelled-out bits start with ``bit_string[:length]``, the rest 0."""
    head = bit_string[:length]
    groups = [head[i : i + 9] for i in range(0, len(head), 9)]
    return bytes(int(group[1:].ljust(8, "0"), 2) for group in groups if group)


def reference_root(contents: dict[bytes, bytes]) -> bytes:
    if not contents:
        return hashlib.sha256(b"depochain/state-tree/empty/v1").digest()
    return _reference_hash(sorted((_bit_string(k), k, v) for k, v in contents.items()))


def _reference_hash(items: list[tuple[str, bytes, bytes]]) -> bytes:
    if len(items) == 1:
        _, key, value = items[0]
        value_hash = hashlib.sha256(value).digest()
        return hashlib.sha256(b"\x00" + struct.pack(">H", len(key)) + key + value_hash).digest()
    low, high = items[0][0], items[-1][0]
    bit = next(i for i in range(min(len(low), len(high))) if low[i] != high[i])
    left = [item for item in items if item[0][bit] == "0"]
    right = [item for item in items if item[0][bit] == "1"]
    prefix = _prefix_bytes(low, bit)
    head = b"\x01" + struct.pack(">IH", bit, len(prefix)) + prefix
    return hashlib.sha256(head + _reference_hash(left) + _reference_hash(right)).digest()


# a few base keys with small random tails: shared runs, prefix keys and bytes that differ only
# in one bit of the middle of a byte, next to keys that branch at their continuation bit
_BASES = (b"", b"K", b"KBANKA/c0\x00", b"\x7f\xff", b"\x80")
keys = st.tuples(
    st.sampled_from(_BASES), st.binary(max_size=3).map(lambda b: bytes(x & 0xC3 for x in b))
).map(lambda pair: pair[0] + pair[1])
values = st.binary(max_size=4)
batches = st.lists(st.dictionaries(keys, st.none() | values, max_size=16), max_size=6)


@given(st.dictionaries(keys, values, max_size=16), batches)
def test_each_version_has_the_reference_root_and_proves_against_it(
    start: dict[bytes, bytes], batch_list: list[dict[bytes, bytes | None]]
) -> None:
    store = MemoryNodeStore()
    tree, writes = StateTree(store, 0, None).update(1, start)
    store.apply(writes)
    model = dict(start)
    assert tree.root_hash == reference_root(model)
    for version, batch in enumerate(batch_list, start=2):
        tree, writes = tree.update(version, batch)
        store.apply(writes)
        tree = tree.persisted()
        for key, value in batch.items():
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        root = reference_root(model)
        assert tree.root_hash == root
        for key in batch:
            proof = prove_key(tree, key)
            if key in model:
                verify_membership(root, key, model[key], proof)
            else:
                verify_non_membership(root, key, proof)
