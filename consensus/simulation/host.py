"""The node's part in the simulation: feeding a replica its inputs and executing its actions.

Like the real node, it executes a replica's actions in order, persists the SignState (and
logs the message it covers) before sending, runs the trivial app on commits, keeps a WAL
to replay after a restart and takes the blocks a peer syncs to it when it fell behind.

Never: let a replica's exception escape (it is reported as a violation, with the seed).
"""

from __future__ import annotations

from consensus import actions as act
from consensus import events as ev
from consensus.blocks import Block
from consensus.codec import CodecError
from consensus.crypto import sha256
from consensus.effects import Effect, SyncWal, order_effects
from consensus.messages import CommitCertificate, Vote
from consensus.proposal import Proposal
from consensus.replica import Replica
from consensus.simulation.checkers import Violation, ViolationKind, check_block_time
from consensus.simulation.faults import Behaviour
from consensus.simulation.network import NodeId
from consensus.simulation.nodes import SimNode
from consensus.simulation.replicas import build_replica
from consensus.simulation.results import CHAIN_ID
from consensus.simulation.state import Callback, Deliver, SimulationState, Sync
from consensus.types import Hash32, Height, TimestampMs
from consensus.wire import Message, decode_message, encode_message


class NodeHost(SimulationState):
    """Plays the node for each replica: inputs in, actions out."""

    def _build_replica(self, node: SimNode) -> Replica:
        cls = self.config.replica_class if node.is_honest else Replica
        return build_replica(node, CHAIN_ID, self.params, self.validator_set, cls)

    # inputs to replicas -----------------------------------------------------------------------

    def _handle(self, node: SimNode, event: ev.Event) -> None:
        replica = node.replica
        if replica is None:
            return
        try:
            actions = replica.handle(event)
        except Exception as exc:  # a replica must never raise on any input: report, with seed
            self._violate(
                ViolationKind.VALIDITY,
                f"node {node.node_id} raised {type(exc).__name__}: {exc} on {type(event).__name__}",
            )
            return
        limit = node.crash_after_actions
        for effect in _before_crash(order_effects(actions), limit):  # the node's order, too
            if isinstance(effect, SyncWal):
                self._log_signed_message(node, effect.signed)
            else:
                self._apply(node, effect)
        if limit is not None:
            node.crash()

    def _log_signed_message(self, node: SimNode, signed: Proposal | Vote | None) -> None:
        """The message a new SignState covers goes into the node's WAL first, so a node that
        crashes before sending it sends it again after a restart (consensus.effects)."""
        if signed is not None:
            payload = encode_message(signed)
            node.log_wal(signed.height, sha256(payload), payload)

    def _now(self, node: SimNode) -> TimestampMs:
        """The node's own clock: the true time plus its skew."""
        return TimestampMs(max(0, self.clock.now_ms + node.clock_skew_ms))

    def _on_deliver(self, item: Deliver, replayed: tuple[int | None] | None = None) -> None:
        """A message reaches ``item.node``, or is ``replayed`` from its WAL with the time it
        first arrived (a replay must judge a proposal's timestamp as it was judged; None for
        the node's own messages, which it does not judge)."""
        node = self.nodes[item.node]
        if not node.is_up:
            return
        try:
            message = decode_message(item.payload)
        except CodecError:
            return  # the node's p2p layer drops undecodable frames
        height = _height_of(message)
        digest = sha256(item.payload)
        self._note_received(node, height, digest)
        if node.outbox is not None:
            node.outbox.remember(item.payload)
        arrival = self._now(node) if replayed is None else replayed[0]
        now = None if arrival is None else TimestampMs(arrival)
        if height >= node.entered_height:
            node.remember(height, digest, item.payload)
            node.log_wal(height, digest, item.payload, now)
        if isinstance(message, Proposal):
            self._handle(node, ev.ProposalReceived(message, now))
        elif isinstance(message, Vote):
            self._handle(node, ev.VoteReceived(message, now))
        else:
            self._handle(node, ev.EvidenceReceived(message, now))

    def _note_received(self, node: SimNode, height: int, digest: Hash32) -> None:
        """Gossip does not resend what a node has. Only a message of the height the replica is
        at counts as had: one for the next height may be refused (the replica's buffer is
        bounded and Byzantine peers can fill it), so gossip offers it again once the node gets
        there (seed 60353)."""
        if height == node.entered_height:
            node.mark_received(height, digest)

    def _on_callback(self, item: Callback) -> None:
        node = self.nodes[item.node]
        if item.incarnation == -1:  # initial start
            self._start(node)
            return
        if item.incarnation != node.incarnation or not node.is_up:
            return  # a timer or callback of a replica that has since crashed
        if isinstance(item.event, ev.BlockExecuted):
            node.entered_height = item.event.height + 1
            node.prune_below(node.entered_height)
        self._handle(node, item.event)

    def _start(self, node: SimNode) -> None:
        if node.behaviour is Behaviour.SILENT:
            return
        node.replica = self._build_replica(node)
        node.entered_height = node.committed_height + 1
        self._handle(node, ev.Started(self._now(node)))
        self._replay_wal(node)
        self._offer_txs(node)

    def _replay_wal(self, node: SimNode) -> None:
        """After a restart the node feeds its replica the messages of its WAL again (the ones
        it received and the ones it signed), which also makes gossip offer them again."""
        for height in sorted(h for h in node.wal if h >= node.entered_height):
            for payload, arrival_ms in list(node.wal[height].values()):
                self._on_deliver(Deliver(node.node_id, payload), (arrival_ms,))

    def _on_sync(self, item: Sync) -> None:
        node = self.nodes[item.node]
        source = self.nodes[item.source]
        entry = source.blocks.get(item.height)
        if not node.is_up or entry is None or node.committed_height >= item.height:
            return
        block, certificate = entry
        self._handle(node, ev.CommittedBlockReceived(block, certificate, self._now(node)))

    def _offer_txs(self, node: SimNode) -> None:
        txs = node.app.get_candidate_txs(self.params.block_txs_max)
        self._handle(node, ev.TxsAvailable(txs, self._now(node)))

    # actions of replicas ----------------------------------------------------------------------

    def _apply(self, node: SimNode, action: act.Action) -> None:
        if isinstance(action, act.Broadcast):
            self._send(node, action.message, [n.node_id for n in self.nodes if n is not node])
        elif isinstance(action, act.SendTo):
            targets = [n.node_id for n in self.nodes if n.public_key == action.public_key]
            self._send(node, action.message, [t for t in targets if t != node.node_id])
        elif isinstance(action, act.ScheduleTimeout):
            timeout = ev.TimeoutElapsed(action.height, action.round, action.timer)
            self.clock.schedule(action.delay_ms, Callback(node.node_id, node.incarnation, timeout))
        elif isinstance(action, act.PersistSignState):
            node.sign_state = action.sign_state
        elif isinstance(action, act.CommitBlock):
            self._commit(node, action.block, action.certificate)
        # ReportEvidence: nothing to do in the sim (the node stores and gossips it)

    def _send(self, node: SimNode, message: Message, peers: list[NodeId]) -> None:
        if node.is_honest:
            self._watch_signature(node, message)
        if node.outbox is not None:
            routes = node.outbox.route(message, peers)
        else:
            payload = encode_message(message)
            routes = [(peer, payload) for peer in peers]
            height = _height_of(message)
            digest = sha256(payload)
            node.remember(height, digest, payload)
            node.log_wal(height, digest, payload)
        for peer, payload in routes:
            self._transmit(node.node_id, peer, payload)

    def _transmit(self, source: NodeId, target: NodeId, payload: bytes) -> None:
        self.messages += 1
        if self.held is not None:
            self.held.append((source, target, payload))
            return
        delays = None
        attack = self.attack
        if attack is not None:
            delays = attack.route(source, target, payload, self.elapsed_ms)
            for injected in attack.take_injections():
                self._transmit(*injected)
        if delays is None:
            delays = self.network.compute_delays_ms(source, target)
        for delay_ms in delays:
            self.clock.schedule(delay_ms, Deliver(target, payload))

    def _end_attack(self) -> None:
        """The adversary stops: what it held back goes out through the network now."""
        attack = self.attack
        if attack is not None:
            for source, target, payload in attack.end():
                self._transmit(source, target, payload)

    def _watch_signature(self, node: SimNode, message: Message) -> None:
        if isinstance(message, Vote):
            kind = "prevote" if message.type == 1 else "precommit"
            found = self.double_sign.on_signed(
                message.validator,
                message.height,
                message.round,
                kind,
                message.signature,
                self.elapsed_ms,
            )
        elif isinstance(message, Proposal):
            found = self.double_sign.on_signed(
                message.proposer,
                message.height,
                message.round,
                "proposal",
                message.signature,
                self.elapsed_ms,
            )
        else:
            return
        self.violations.extend(found)

    def _commit(self, node: SimNode, block: Block, certificate: CommitCertificate) -> None:
        height = block.height
        if height != node.committed_height + 1:
            self._violate(
                ViolationKind.VALIDITY,
                f"node {node.node_id} committed height {height} after {node.committed_height}",
            )
            return
        if node.is_honest:
            self.violations.extend(
                self.agreement.on_commit(node.node_id, height, block.hash, self.elapsed_ms)
            )
            problems = self.validity.check(block, certificate, self.agreement)
            problems += check_block_time(block, self.clock.now_ms, self.block_time_bound_ms)
            self.violations.extend(
                Violation(ViolationKind.VALIDITY, self.elapsed_ms, p) for p in problems
            )
        node.blocks[height] = (block, certificate)
        node.committed_height = height
        if self.attack is not None and self.attack.is_over():
            self._end_attack()
        app_hash = node.app.execute(height, block.txs)
        executed = ev.BlockExecuted(Height(height), app_hash, self.validator_set)
        delay_ms = self.prng.between(0, self.exec_delay_max_ms)
        self.clock.schedule(delay_ms, Callback(node.node_id, node.incarnation, executed))
        self._check_liveness_done()


def _before_crash(effects: list[Effect], actions_max: int | None) -> list[Effect]:
    """The steps a node that crashes after ``actions_max`` actions (None: never) carries out;
    a SyncWal goes with the PersistSignState it precedes."""
    if actions_max is None:
        return effects
    kept: list[Effect] = []
    for effect in effects:
        if actions_max == 0:
            break
        kept.append(effect)
        if not isinstance(effect, SyncWal):
            actions_max -= 1
    return kept


def _height_of(message: Message) -> int:
    return int(message.height)  # proposals, votes and evidence all name their height
