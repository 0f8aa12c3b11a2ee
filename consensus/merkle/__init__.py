"""The authenticated state tree: a versioned binary Patricia Merkle trie over ordered keys.

Pure: the tree reads nodes through a small interface (:class:`store.NodeReader`) and returns
what to write; the node stores it in LevelDB, tests and the simulator in a dict. See
``docs/state.md`` for why this design, the hashes and the proof format.
"""

from consensus.merkle.nodes import EMPTY_ROOT
from consensus.merkle.proofs import (
    Proof,
    ProofError,
    prove_key,
    prove_range,
    successor,
    verify_membership,
    verify_non_membership,
    verify_range,
)
from consensus.merkle.store import MemoryNodeStore, NodeReader, TreeWrites, plan_prune
from consensus.merkle.tree import NodeCache, StateTree, build_tree

__all__ = [
    "EMPTY_ROOT",
    "MemoryNodeStore",
    "NodeCache",
    "NodeReader",
    "Proof",
    "ProofError",
    "StateTree",
    "TreeWrites",
    "build_tree",
    "plan_prune",
    "prove_key",
    "prove_range",
    "successor",
    "verify_membership",
    "verify_non_membership",
    "verify_range",
]
