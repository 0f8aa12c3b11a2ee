"""``abci_query`` proofs: CometBFT-shaped ``proofOps`` carrying a state tree proof.

One op, of type :data:`PROOF_OP_TYPE`: ``key`` is the record's tree key (balances are keyed
instrument-first in the tree, ``consensus.ledger.commitment``), ``data`` the proof's encoding
(``consensus.merkle.Proof``, documented in ``docs/state.md``). It proves the stored bytes of the
record, or its absence, against the app hash of the state the answer was read from: the app
hash after block ``height``, which the header of ``height + 1`` carries.
"""

from __future__ import annotations

import base64
from typing import Any

from consensus.ledger import State
from consensus.ledger.commitment import to_tree_key
from consensus.merkle import prove_key

PROOF_OP_TYPE = "depochain:state-tree/v1"


def compute_proof_ops(state: State, state_key: bytes) -> dict[str, Any]:
    tree_key = to_tree_key(state_key)
    proof = prove_key(state.tree, tree_key)
    op = {"type": PROOF_OP_TYPE, "key": _b64(tree_key), "data": _b64(proof.encode())}
    return {"ops": [op]}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
