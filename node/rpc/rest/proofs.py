"""REST proofs: state values with their state tree proofs, anchored in a certified header.

A state proof is of the state after block ``h``; its root is the ``app_hash`` of header
``h + 1``, so every answer carries that header, its commit certificate and the validator set
that signed it (the *anchor*). By default ``h`` is the latest height but one: the latest
block's state is not committed to by any header yet. ``?height=H`` asks for an older state
(kept for ``[storage] state_versions_kept`` heights).

- ``GET /accounts/{bank}/{name}?prove=true``: the account record, its nonce, the complete list
  of instruments (a range proof) and, for each instrument, the account's balance or its absence.
- ``GET /instruments/{id}?prove=true``: the instrument record (its outstanding supply).
- ``GET /instruments/{id}/balances``: one page of the instrument's balances with a range proof
  of the page's slice ``[lo, hi)`` of the tree; consecutive pages' slices meet, so a verifier
  who walks every page has proven the list complete (the proof of liabilities).
- a committed tx's finality proof gains ``receipt_proof``: its receipt among the block's
  receipts, proven against the next header's ``last_results_hash``.

The formats are in ``docs/api.md`` and ``docs/state.md``; ``node.client.state_proofs`` verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from consensus.codec import CodecError
from consensus.crypto import merkle_proof
from consensus.ledger.commitment import instrument_balances_range, to_tree_key
from consensus.ledger.records import validate_instrument_id
from consensus.ledger.state import (
    INSTRUMENT_PREFIX,
    account_key,
    balance_key,
    instrument_key,
    nonce_key,
)
from consensus.merkle import StateTree, prove_key, prove_range
from consensus.merkle.bits import compare_child
from consensus.merkle.nodes import LEAF_FIELDS, child_of
from node.rpc.rest import shapes as aj
from node.rpc.rest.params import get_cursor, get_limit, get_proof_height, malformed, not_found
from node.services import NodeServices

Json = dict[str, Any]
INSTRUMENTS_RANGE = (INSTRUMENT_PREFIX, bytes([INSTRUMENT_PREFIX[0] + 1]))
"""Tree keys of every instrument record (the ``I`` prefix)."""
BALANCE_PAGE_DEFAULT = 100
BALANCE_PAGE_MAX = 1000


def first_keys(tree: StateTree, lo: bytes, hi: bytes, count: int) -> list[bytes]:
    """The first ``count`` keys of ``[lo, hi)`` in ``tree``, in order, touching only the
    paths to them (a page of a large range costs the page, not the range)."""
    found: list[bytes] = []
    stack = [] if tree.root is None else [tree.root]
    while stack and len(found) < count:
        node = tree.load(stack.pop())
        if len(node) == LEAF_FIELDS:
            if lo <= node[0] < hi:
                found.append(node[0])
            continue
        bit, prefix = node[0], node[1]
        for side in (1, 0):  # right pushed first: the left subtree is walked first
            below = compare_child(prefix, bit, side, lo) < 0
            above = compare_child(prefix, bit, side, hi) > 0
            if not below and not above:
                stack.append(child_of(node, side))
    return found


def tree_proof_json(tree: StateTree, state_key: bytes) -> Json:
    """A one-key proof (membership or absence) of a ledger state key."""
    tree_key = to_tree_key(state_key)
    return {"key": aj.b64(tree_key), "proof": aj.b64(prove_key(tree, tree_key).encode())}


def range_proof_json(tree: StateTree, lo: bytes, hi: bytes) -> Json:
    return {"lo": aj.b64(lo), "hi": aj.b64(hi), "proof": aj.b64(prove_range(tree, lo, hi).encode())}


class ProofRoutes:
    """Proven reads over one node's chain; ``validator_names`` labels validator keys."""

    def __init__(
        self, services: NodeServices, validator_names: Callable[[], dict[bytes, str]]
    ) -> None:
        self.s = services
        self.validator_names = validator_names

    # -- the anchor: the certified header whose app hash is the proofs' root ---------------

    def proven_height(self, request: web.Request) -> int:
        latest = self.s.chain.height
        height = get_proof_height(request)
        if height is None:
            if latest < 1:
                raise not_found("no block committed yet: no header certifies a state")
            return latest - 1
        if height >= latest:
            raise not_found(
                f"the state after block {height} is not certified yet (its app hash is in "
                f"header {height + 1}; the latest block is {latest})"
            )
        return height

    def anchor(self, height: int) -> Json:
        """Header ``height + 1`` (its app hash is the root of the state after ``height``)."""
        chain = self.s.chain
        header_height = height + 1
        block = chain.get_block(header_height)
        certificate = chain.get_certificate(header_height)
        if block is None or certificate is None:
            raise not_found(f"block {header_height} or its certificate is not stored here")
        try:
            validators = chain.get_validators(header_height)
        except LookupError as exc:
            raise not_found(f"the validator set of {header_height} is not kept") from exc
        return {
            "height": height,
            "header": aj.header_json(block.header),
            "certificate": aj.certificate_json(certificate),
            "validators": aj.validator_set_json(validators, self.validator_names()),
        }

    def tree_at(self, height: int) -> StateTree:
        try:
            return self.s.chain.state.tree.at(height)
        except LookupError as exc:
            raise not_found(f"the state tree of height {height} is no longer kept") from exc

    # -- handlers --------------------------------------------------------------------------

    def account_proof(self, request: web.Request, account_id: str) -> Json:
        height = self.proven_height(request)
        tree = self.tree_at(height)
        lo, hi = INSTRUMENTS_RANGE
        instrument_ids = [key[len(lo) :].decode() for key in first_keys(tree, lo, hi, 1 << 16)]
        balances = {
            iid: tree_proof_json(tree, balance_key(account_id, iid)) for iid in instrument_ids
        }
        return {
            "account_id": account_id,
            "height": height,
            "anchor": self.anchor(height),
            "account": tree_proof_json(tree, account_key(account_id)),
            "nonce": tree_proof_json(tree, nonce_key(account_id)),
            "instruments": range_proof_json(tree, lo, hi),
            "balances": balances,
        }

    def instrument_proof(self, request: web.Request, instrument_id: str) -> Json:
        height = self.proven_height(request)
        tree = self.tree_at(height)
        return {
            "instrument_id": instrument_id,
            "height": height,
            "anchor": self.anchor(height),
            "instrument": tree_proof_json(tree, instrument_key(instrument_id)),
        }

    async def list_balances(self, request: web.Request) -> web.Response:
        """One page of an instrument's balances, with a range proof of its slice."""
        iid = request.match_info["instrument_id"]
        try:
            validate_instrument_id(iid)
        except CodecError as exc:
            raise malformed(f"instrument id: {exc}") from exc
        limit = get_limit(request, BALANCE_PAGE_DEFAULT, BALANCE_PAGE_MAX)
        cursor = get_cursor(request)
        height = self.proven_height(request)
        tree = self.tree_at(height)
        range_lo, range_hi = instrument_balances_range(iid)
        lo = range_lo if cursor is None else range_lo + cursor.encode()
        keys = first_keys(tree, lo, range_hi, limit + 1)
        hi = keys[limit] if len(keys) > limit else range_hi
        next_cursor = keys[limit][len(range_lo) :].decode() if len(keys) > limit else None
        return web.json_response(
            {
                "instrument_id": iid,
                "height": height,
                "anchor": self.anchor(height),
                "instrument": tree_proof_json(tree, instrument_key(iid)),
                "slice": range_proof_json(tree, lo, hi),
                "count": min(len(keys), limit),
                "next_cursor": next_cursor,
            }
        )

    def receipt_proof(self, height: int, index: int) -> Json | None:
        """The receipt of tx ``index`` of block ``height`` under header ``height + 1``'s
        ``last_results_hash``; None while block ``height + 1`` is not committed."""
        receipts = self.s.chain.get_receipts(height)
        if receipts is None or height >= self.s.chain.height:
            return None
        encoded = [receipt.encode() for receipt in receipts]
        return {
            "receipt": aj.b64(encoded[index]),
            "merkle_proof": aj.merkle_proof_json(merkle_proof(encoded, index)),
            "anchor": self.anchor(height),
        }
