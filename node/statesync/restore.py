"""The joining node's side of state sync: discover snapshots, prove one, fetch it, install it.

Runs before the node proper starts, on an empty store, with its own P2P connections to the
configured peers (the same key and port the node then uses):

1. *discover*: ask every peer for its snapshots for ``discovery_time_s``, group identical
   manifests, and try the highest first (the one of ``trust_height - 1`` only, if the
   operator configured a trusted header);
2. *prove*: ask a peer that offers it for the anchor and verify that the app hash of the
   snapshot's height is certified (:mod:`node.statesync.anchor`); a manifest that claims
   another app hash is refused, and so are the peers that offered it;
3. *fetch*: every chunk from the offering peers in turn, a few at a time; a chunk counts only
   from the peer asked and only if it hashes to the manifest's entry; a peer that sends a bad
   chunk is dropped (for this run) and the chunk is asked of another;
4. *rebuild and check*: pairs must be in order and well-formed, the rebuilt tree's root must
   be the certified app hash, the certificate of the snapshot's block must verify against
   the validator set the state names;
5. *install* into the store (:mod:`node.storage.install`) with the snapshot's height as base.

Nothing is written to the store before step 5, so a hostile peer costs time, never state.
Progress is logged (``statesync: chunk x/y``), kept in a :class:`Progress` that ``/status``
shows while the node joins (:mod:`node.statesync.status_server`), and summarised in the
store's ``statesync_report`` metadata record.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus.certificate import CertificateError, verify_certificate
from consensus.ledger import State, get_validators
from consensus.ledger.commitment import root_of
from consensus.ledger.state import ACCOUNT_PREFIX
from consensus.validators import ValidatorSet
from node.errors import NodeError
from node.failpoints import Failpoint, Failpoints
from node.logs import fields
from node.statesync.anchor import AnchorError, Trust, VerifiedAnchor, verify_anchor
from node.statesync.asker import Asker
from node.statesync.snapshot import (
    FORMAT,
    Manifest,
    SnapshotError,
    read_chunk,
    rebuild,
    verify_chunk,
)
from node.storage import LevelDBStore
from node.storage.install import SnapshotInstall

log = logging.getLogger("depochain.statesync")

REQUEST_TIMEOUT_S = 10.0
CHUNKS_IN_FLIGHT = 4
SLOW_FETCH_PAUSE_S = 1.0
"""TEST-ONLY (failpoint statesync_slow_fetch): the pause after each chunk."""
REPORT_META = "statesync_report"


class StateSyncFailed(NodeError):
    """No snapshot could be restored before the deadline."""


@dataclass
class Candidate:
    manifest: Manifest
    peers: list[bytes]


class Phase(enum.Enum):
    """Where a restore is; shown on ``/status`` while the node joins."""

    DISCOVERING = "discovering"  # connecting to peers, gathering their snapshot offers
    PROVING = "proving"  # checking the snapshot height's app hash against a certified header
    FETCHING = "fetching"  # downloading chunks
    VERIFYING = "verifying"  # decoding the pairs, rebuilding the tree, checking the root
    INSTALLING = "installing"  # writing the verified state into the store
    STARTING = "starting"  # installed; the node is opening it before it block-syncs


@dataclass
class Progress:
    """The restore's progress. The restore writes it; the status server reads it from its own
    thread, field by field (each read is atomic; a reader may see a mix of two moments)."""

    phase: Phase = Phase.DISCOVERING
    height: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    accounts_restored: int = 0
    rejected_peers: set[bytes] = field(default_factory=set)
    rejected_snapshots: int = 0


class Restorer:
    def __init__(
        self,
        asker: Asker,
        store: LevelDBStore,
        trust: Trust,
        progress: Progress | None = None,
        failpoints: Failpoints = Failpoints.NONE,
    ) -> None:
        self.slow = failpoints.is_active(Failpoint.STATESYNC_SLOW_FETCH)  # TEST-ONLY
        self.asker = asker
        self.store = store
        self.trust = trust
        self.progress = Progress() if progress is None else progress

    # -- discovery -------------------------------------------------------------------------------

    def list_candidates(self) -> list[Candidate]:
        """Offered snapshots, best first: highest, then most peers, then fewest chunks (the
        cheapest to try); only the trusted height's if a trusted header is set."""
        by_id: dict[bytes, Candidate] = {}
        for peer, manifests in self.asker.offers.items():
            if peer in self.progress.rejected_peers:
                continue
            for raw in manifests:
                try:
                    manifest = Manifest.decode(raw)
                except SnapshotError:
                    continue
                if manifest.format != FORMAT or not self._is_wanted(manifest.height):
                    continue
                by_id.setdefault(manifest.snapshot_id, Candidate(manifest, [])).peers.append(peer)
        return sorted(
            by_id.values(),
            key=lambda c: (-c.manifest.height, -len(c.peers), c.manifest.chunk_count),
        )

    def _is_wanted(self, height: int) -> bool:
        trusted = self.trust.trusted_block
        return trusted is None or height == trusted[0] - 1

    # -- one candidate ---------------------------------------------------------------------------

    async def restore(self, candidate: Candidate) -> bool:
        """Try ``candidate``; True once installed, False if it cannot be (peers dropped)."""
        manifest = candidate.manifest
        self.progress.height = manifest.height
        self.progress.phase = Phase.PROVING
        candidate.peers = [p for p in candidate.peers if p not in self.progress.rejected_peers]
        anchor = await self._prove(candidate)
        if anchor is None:
            return False
        if anchor.app_hash != manifest.app_hash:
            log.warning("statesync: snapshot %d claims another app hash than the certified one; "
                        "refusing it and its peers", manifest.height)  # fmt: skip
            self._reject(candidate, candidate.peers)
            return False
        chunks = await self._fetch(candidate)
        if chunks is None:
            return False
        try:
            self._check_and_install(anchor, manifest, chunks)
        except (SnapshotError, CertificateError) as exc:
            log.warning("statesync: snapshot %d refused: %s", manifest.height, exc)
            self._reject(candidate, candidate.peers)
            return False
        return True

    def _reject(self, candidate: Candidate, peers: Sequence[bytes]) -> None:
        self.progress.rejected_peers.update(peers)
        self.progress.rejected_snapshots += 1
        candidate.peers = [p for p in candidate.peers if p not in peers]

    async def _prove(self, candidate: Candidate) -> VerifiedAnchor | None:
        height = candidate.manifest.height
        for peer in list(candidate.peers):
            answer = await self.asker.ask_anchor(peer, height, REQUEST_TIMEOUT_S)
            if answer is None:
                continue
            try:
                return verify_anchor(answer, height, self.trust)
            except AnchorError as exc:
                log.warning("statesync: anchor of %d from %s refused: %s", height,
                            peer.hex()[:16], exc)  # fmt: skip
                self._reject(candidate, [peer])
        return None

    async def _fetch(self, candidate: Candidate) -> list[bytes] | None:
        manifest = candidate.manifest
        total = manifest.chunk_count
        self.progress.chunks_total, self.progress.chunks_done = total, 0
        self.progress.phase = Phase.FETCHING
        chunks: list[bytes | None] = [None] * total
        queue = list(range(total))
        while queue:
            if not candidate.peers:
                return None
            in_flight = 1 if self.slow else CHUNKS_IN_FLIGHT
            batch, queue = queue[:in_flight], queue[in_flight:]
            results = await asyncio.gather(*(self._fetch_one(candidate, i) for i in batch))
            if self.slow:
                await asyncio.sleep(SLOW_FETCH_PAUSE_S)
            for index, chunk in zip(batch, results, strict=True):
                if chunk is None:
                    queue.append(index)  # asked of another peer next time
                else:
                    chunks[index] = chunk
                    self._log_progress()
        return [chunk for chunk in chunks if chunk is not None]

    async def _fetch_one(self, candidate: Candidate, index: int) -> bytes | None:
        if not candidate.peers:
            return None
        manifest = candidate.manifest
        peer = candidate.peers[index % len(candidate.peers)]
        answer = await self.asker.ask_chunk(peer, manifest.height, index, REQUEST_TIMEOUT_S)
        if answer is None:
            return None
        try:
            verify_chunk(manifest, index, answer.chunk)
        except SnapshotError as exc:
            log.warning("statesync: chunk %d from %s refused: %s", index, peer.hex()[:16], exc)
            self._reject(candidate, [peer])
            return None
        return answer.chunk

    def _log_progress(self) -> None:
        progress = self.progress
        progress.chunks_done += 1
        log.info(
            "statesync: chunk %d/%d of height %d",
            progress.chunks_done,
            progress.chunks_total,
            progress.height,
            extra=fields("statesync_chunk", height=progress.height),
        )

    def _check_and_install(
        self, anchor: VerifiedAnchor, manifest: Manifest, chunks: list[bytes]
    ) -> None:
        progress = self.progress
        progress.phase, progress.accounts_restored = Phase.VERIFYING, 0
        pairs: list[tuple[bytes, bytes]] = []
        for chunk in chunks:
            read = read_chunk(chunk, pairs[-1][0] if pairs else None)
            progress.accounts_restored += sum(key[:1] == ACCOUNT_PREFIX for key, _ in read)
            pairs += read
        rebuilt = rebuild(manifest.height, pairs, anchor.app_hash)
        state = State.from_kv(rebuilt.pairs)
        validators = ValidatorSet.of(get_validators(state, manifest.height))
        verify_certificate(
            anchor.certificate,
            anchor.block.hash,
            anchor.height,
            validators,
            anchor.block.header.chain_id,
        )
        assert root_of(rebuilt.tree) == anchor.app_hash
        response = anchor.anchor
        progress.phase = Phase.INSTALLING
        self.store.install_snapshot(
            SnapshotInstall(
                height=manifest.height,
                block=response.block,
                certificate=response.certificate,
                results=response.results,
                app_hash=anchor.app_hash,
                state=rebuilt.pairs,
                tree_writes=rebuilt.tree.unpersisted(),
                window_headers=response.window_headers,
            )
        )


async def discover_and_restore(
    restorer: Restorer, discovery_s: float, deadline_s: float
) -> Manifest:
    """Loop discovery and restore attempts until one snapshot is installed or the deadline."""
    while time.monotonic() < deadline_s:
        restorer.progress.phase = Phase.DISCOVERING
        asked = restorer.asker.ask_snapshots()
        log.info("statesync: asking %d peers for snapshots", asked,
                 extra=fields("statesync_discovery"))  # fmt: skip
        await asyncio.sleep(discovery_s)
        for candidate in restorer.list_candidates():
            log.info(
                "statesync: trying snapshot of height %d (%d chunks, %d peers)",
                candidate.manifest.height,
                candidate.manifest.chunk_count,
                len(candidate.peers),
                extra=fields("statesync_snapshot", height=candidate.manifest.height),
            )
            if await restorer.restore(candidate):
                return candidate.manifest
            if time.monotonic() >= deadline_s:
                break
    raise StateSyncFailed("no snapshot could be restored before [statesync].restore_timeout_s")


def write_report(
    store: LevelDBStore, manifest: Manifest, seconds: float, progress: Progress
) -> None:
    report = {
        "height": manifest.height,
        "chunks": manifest.chunk_count,
        "accounts": progress.accounts_restored,
        "seconds": round(seconds, 3),
        "rejected_peers": len(progress.rejected_peers),
        "rejected_snapshots": progress.rejected_snapshots,
    }
    store.put_meta(REPORT_META, json.dumps(report).encode())
