"""Validity of committed blocks, checked against the canonical chain the honest nodes agreed on.

A committed block must be well formed (roots match, bounds hold), extend the previous committed
block (parent hash, strictly later time, a ``last_commit`` that proves the parent), carry the
app hash of the trivial app after the parent, name a validator as proposer, hold only txs the
workload produced, and come with a certificate that verifies offline.
"""

from __future__ import annotations

from collections.abc import Collection

from consensus.blocks import GENESIS_PARENT_HASH, Block, InvalidBlock, validate_block_shape
from consensus.certificate import CertificateError, verify_certificate
from consensus.messages import CommitCertificate
from consensus.params import ConsensusParams
from consensus.simulation.app import GENESIS_APP_HASH, compute_app_hash
from consensus.simulation.checkers import AgreementChecker
from consensus.types import ChainId, Hash32
from consensus.validators import ValidatorSet


class ValidityChecker:
    """Checks each honest commit; keeps the reference app hash chain of the canonical blocks."""

    __slots__ = ("_app_hashes", "_blocks", "_chain_id", "_params", "_txs", "_validators")

    def __init__(
        self,
        chain_id: ChainId,
        params: ConsensusParams,
        validators: ValidatorSet,
        known_txs: Collection[bytes],
    ) -> None:
        self._chain_id = chain_id
        self._params = params
        self._validators = validators
        self._txs = known_txs
        self._app_hashes: dict[int, Hash32] = {0: GENESIS_APP_HASH}
        self._blocks: dict[int, Block] = {}

    def check(
        self, block: Block, certificate: CommitCertificate, agreement: AgreementChecker
    ) -> list[str]:
        """Problems with ``block`` committed at its height (empty list: valid)."""
        height = block.height
        problems = self._check_self(block, certificate)
        parent = self._blocks.get(height - 1)
        if height > 1 and parent is None:
            problems.append(f"height {height}: committed before any honest node had its parent")
        else:
            problems.extend(self._check_link(block, parent))
        if height not in self._blocks and not problems:
            self._blocks[height] = block
            self._app_hashes[height] = compute_app_hash(self._app_hashes[height - 1], block.txs)
        return problems

    def _check_self(self, block: Block, certificate: CommitCertificate) -> list[str]:
        height = block.height
        problems = []
        try:
            validate_block_shape(block, self._params)
        except InvalidBlock as exc:
            problems.append(f"height {height}: malformed block: {exc}")
        header = block.header
        if header.chain_id != self._chain_id:
            problems.append(f"height {height}: wrong chain id {header.chain_id!r}")
        if not self._validators.contains(header.proposer):
            problems.append(f"height {height}: proposer is not a validator")
        if header.validators_hash != self._validators.compute_hash():
            problems.append(f"height {height}: wrong validators_hash")
        unknown = sum(1 for tx in block.txs if tx not in self._txs)
        if unknown:
            problems.append(f"height {height}: {unknown} txs the app never produced")
        try:
            verify_certificate(certificate, block.hash, height, self._validators, self._chain_id)
        except CertificateError as exc:
            problems.append(f"height {height}: certificate does not verify: {exc!r}")
        return problems

    def _check_link(self, block: Block, parent: Block | None) -> list[str]:
        header = block.header
        height = block.height
        problems = []
        expected_parent = GENESIS_PARENT_HASH if parent is None else parent.hash
        if header.parent_hash != expected_parent:
            problems.append(f"height {height}: parent_hash is not the committed parent")
        if header.app_hash != self._app_hashes.get(height - 1):
            problems.append(f"height {height}: app_hash is not the app state after the parent")
        if parent is not None:
            if header.time_ms <= parent.header.time_ms:
                problems.append(f"height {height}: time does not increase")
            problems.extend(self._check_last_commit(block, parent))
        return problems

    def _check_last_commit(self, block: Block, parent: Block) -> list[str]:
        last_commit = block.header.last_commit
        if last_commit is None:
            return [f"height {block.height}: no last_commit"]
        try:
            verify_certificate(
                last_commit, parent.hash, parent.height, self._validators, self._chain_id
            )
        except CertificateError as exc:
            return [f"height {block.height}: last_commit does not verify: {exc!r}"]
        return []
