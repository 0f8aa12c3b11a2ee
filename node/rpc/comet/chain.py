"""CometBFT v0.38 chain routes: blockchain, headers, commits, results, validators, genesis,
consensus params and net_info, in CometBFT's JSON shapes (``node.rpc.comet.shapes``).

Reads only: every route resolves a height against the committed chain first, and a height the
node does not have is the client's error (``-32603`` with CometBFT's wording), never a 500.
Routes that decode blocks do it in the read pool (``node.rpc.reads``), each block at most once
per request and counted against the request's budget.
"""

from __future__ import annotations

import json
from typing import Any

from consensus.blocks import Block
from consensus.ledger import build_genesis_state, get_validators
from consensus.validators import ValidatorSet
from node.rpc.comet import shapes as cj
from node.rpc.comet.index import EventIndex
from node.rpc.jsonrpc import INTERNAL_ERROR, RPCError
from node.rpc.reads import ReadPool, get_budget
from node.services import NodeServices

BLOCKCHAIN_METAS_MAX = 20
PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100
EVIDENCE_AGE_DURATION_NS = 48 * 3600 * 10**9


class ChainReader:
    """Height resolution and block loading shared by the route classes."""

    def __init__(self, services: NodeServices, index: EventIndex, reads: ReadPool) -> None:
        self.s = services
        self.index = index
        self.reads = reads

    def resolve_height(self, height: int | None) -> int:
        latest = self.s.chain.height
        if height is None or height == 0:
            if latest == 0:
                raise RPCError(INTERNAL_ERROR, "no blocks committed yet")
            return latest
        if height > latest:
            raise RPCError(
                INTERNAL_ERROR,
                f"height {height} must be less than or equal to the current blockchain "
                f"height {latest}",
            )
        base = self.s.chain.base_height
        if height < base:
            raise RPCError(
                INTERNAL_ERROR,
                f"height {height} is not available, lowest height is {base} "
                "(this node joined by state sync)",
            )
        return height

    def load_block(self, height: int) -> Block:
        """The block, decoded at most once per request (call it in the read pool)."""
        block = get_budget().get_block(self.s.chain.store, height)
        if block is None:
            raise RPCError(INTERNAL_ERROR, f"block {height} is not stored on this node")
        return block

    def get_validator_set(self, height: int) -> ValidatorSet:
        try:
            return self.s.chain.get_validators(height)
        except LookupError as exc:
            raise RPCError(
                INTERNAL_ERROR, f"the validator set of height {height} is no longer retained"
            ) from exc

    def find_validator_set(self, height: int) -> ValidatorSet | None:
        """The set if still retained; None lets a shape leave validator details empty."""
        try:
            return self.s.chain.get_validators(height)
        except LookupError:
            return None

    async def height_of_hash(self, block_hash: bytes) -> int:
        await self.index.catch_up()
        height = self.index.get_block_height(block_hash)
        if height is None:
            raise RPCError(INTERNAL_ERROR, f"block with hash {block_hash.hex().upper()} not found")
        return height


def validate_page(page: int | None, per_page: int | None, total: int) -> tuple[int, int]:
    """CometBFT's paging rules: per_page in [1, 100] (default 30), page in [1, pages]."""
    size = PER_PAGE_DEFAULT if per_page is None or per_page <= 0 else min(per_page, PER_PAGE_MAX)
    pages = max(1, (total + size - 1) // size)
    number = 1 if page is None else page
    if not 1 <= number <= pages:
        raise RPCError(INTERNAL_ERROR, f"page should be within [1, {pages}] range, given {number}")
    return (number - 1) * size, size


class ChainRoutes(ChainReader):
    async def blockchain(self, minHeight: int | None, maxHeight: int | None) -> dict[str, Any]:
        # The parameter names are CometBFT's (camelCase): clients send them as named params.
        return await self.reads.run(self._blockchain, minHeight, maxHeight)

    def _blockchain(self, min_height: int | None, max_height: int | None) -> dict[str, Any]:
        latest = self.s.chain.height
        high = latest if not max_height else min(max_height, latest)
        low = max(1, min_height or 1, high - BLOCKCHAIN_METAS_MAX + 1)
        if min_height and max_height and min_height > max_height:
            raise RPCError(
                INTERNAL_ERROR,
                f"min height {min_height} can't be greater than max height {max_height}",
            )
        metas = []
        budget = get_budget()
        for height in range(high, low - 1, -1):
            raw = self.s.chain.store.get_block(height)
            if raw is None:
                break
            budget.charge_blocks()
            next_set = self.find_validator_set(height + 1)
            metas.append(cj.block_meta_json(Block.decode(raw), len(raw), next_set))
        return {"last_height": str(latest), "block_metas": metas}

    def _block_response(self, height: int) -> dict[str, Any]:
        block = self.load_block(height)
        get_budget().charge_rows(len(block.txs))
        return {
            "block_id": cj.block_id_json(block.hash),
            "block": cj.block_json(
                block,
                self.find_validator_set(height + 1),
                self.find_validator_set(height - 1) if height > 1 else None,
            ),
        }

    async def block(self, height: int | None) -> dict[str, Any]:
        return await self.reads.run(self._block_response, self.resolve_height(height))

    async def block_by_hash(self, hash: bytes) -> dict[str, Any]:
        return await self.reads.run(self._block_response, await self.height_of_hash(hash))

    def _header_response(self, height: int) -> dict[str, Any]:
        block = self.load_block(height)
        return {"header": cj.header_json(block, self.find_validator_set(height + 1))}

    async def header(self, height: int | None) -> dict[str, Any]:
        return await self.reads.run(self._header_response, self.resolve_height(height))

    async def header_by_hash(self, hash: bytes) -> dict[str, Any]:
        return await self.reads.run(self._header_response, await self.height_of_hash(hash))

    async def block_results(self, height: int | None) -> dict[str, Any]:
        return await self.reads.run(self._block_results, self.resolve_height(height))

    def _block_results(self, resolved: int) -> dict[str, Any]:
        budget = get_budget()
        receipts = budget.get_receipts(self.s.chain.store, resolved)
        if receipts is None:
            raise RPCError(INTERNAL_ERROR, f"results of block {resolved} are not stored")
        budget.charge_rows(len(receipts))
        app_hash = self.s.chain.store.get_app_hash(resolved)
        return {
            "height": str(resolved),
            "txs_results": [cj.tx_result_json(r) for r in receipts] or None,
            "finalize_block_events": [],
            "validator_updates": None,
            "consensus_param_updates": None,
            "app_hash": cj.hex_upper(app_hash),
        }

    async def commit(self, height: int | None) -> dict[str, Any]:
        return await self.reads.run(self._commit, self.resolve_height(height))

    def _commit(self, resolved: int) -> dict[str, Any]:
        block = self.load_block(resolved)
        certificate = self.s.chain.get_certificate(resolved)
        if certificate is None:
            raise RPCError(INTERNAL_ERROR, f"commit of block {resolved} is not stored")
        validators = self.get_validator_set(resolved)
        return {
            "signed_header": {
                "header": cj.header_json(block, self.find_validator_set(resolved + 1)),
                "commit": cj.commit_json(certificate, validators, block.header.time_ms),
            },
            # As in CometBFT: the tip's commit is the one this node saw, not yet the one the
            # next block will carry.
            "canonical": resolved < self.s.chain.height,
        }

    async def validators(
        self, height: int | None, page: int | None, per_page: int | None
    ) -> dict[str, Any]:
        resolved = self.resolve_height(height)
        members = self.get_validator_set(resolved).validators
        start, size = validate_page(page, per_page, len(members))
        chosen = members[start : start + size]
        return {
            "block_height": str(resolved),
            "validators": [cj.validator_json(v.public_key, v.power) for v in chosen],
            "count": str(len(chosen)),
            "total": str(len(members)),
        }

    async def genesis(self) -> dict[str, Any]:
        genesis = self.s.genesis
        first = ValidatorSet.of(get_validators(build_genesis_state(genesis.ledger), 1))
        return {
            "genesis": {
                "genesis_time": cj.rfc3339(genesis.ledger.genesis_time_ms),
                "chain_id": genesis.chain_id,
                "initial_height": "1",
                "consensus_params": self._params_json(),
                "validators": [
                    {
                        "address": cj.hex_upper(cj.address(v.public_key)),
                        "pub_key": cj.pub_key_json(v.public_key),
                        "power": str(v.power),
                        "name": "",
                    }
                    for v in first.validators
                ],
                "app_hash": "",
                "app_state": json.loads(genesis.raw),
            }
        }

    def _params_json(self) -> dict[str, Any]:
        params = self.s.genesis.params
        return {
            "block": {"max_bytes": str(params.block_bytes_max), "max_gas": "-1"},
            "evidence": {
                "max_age_num_blocks": str(params.evidence_age_max_heights),
                "max_age_duration": str(EVIDENCE_AGE_DURATION_NS),
                "max_bytes": str(params.block_bytes_max),
            },
            "validator": {"pub_key_types": ["ed25519"]},
            "version": {"app": "0"},
            "abci": {"vote_extensions_enable_height": "0"},
        }

    async def consensus_params(self, height: int | None) -> dict[str, Any]:
        return {
            "block_height": str(self.resolve_height(height)),
            "consensus_params": self._params_json(),
        }

    async def net_info(self) -> dict[str, Any]:
        p2p = self.s.config.p2p
        peers = self.s.get_peers()
        return {
            "listening": True,
            "listeners": [f"Listener(@{p2p.listen_host}:{p2p.listen_port})"],
            "n_peers": str(len(peers)),
            "peers": [self._peer_json(peer) for peer in peers],
        }

    def _peer_json(self, peer: dict[str, object]) -> dict[str, Any]:
        key = bytes.fromhex(str(peer["public_key"]))
        return {
            "node_info": {
                "protocol_version": dict(cj.PROTOCOL_VERSION),
                "id": key[:20].hex(),
                "listen_addr": "",
                "network": self.s.genesis.chain_id,
                "version": cj.COMET_VERSION,
                "channels": "",
                "moniker": "",
                "other": {"tx_index": "on", "rpc_address": ""},
            },
            "is_outbound": False,
            "connection_status": {"Duration": "0"},
            "remote_ip": "",
            "height": str(peer.get("height", 0)),
        }
