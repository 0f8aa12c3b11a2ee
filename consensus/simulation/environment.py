"""The world around the nodes: tx workload, gossip, the fault plan and the liveness phase.

Periodic ticks generate txs and gossip (re-sending what a peer lacks, like CometBFT's
per-peer gossip); faults partition, degrade, crash and restart; the heal ends the safety
phase and starts the liveness deadline. Step-by-step drivers use the public methods here.

Never: draw randomness but from the run's seeded PRNG.
"""

from __future__ import annotations

from consensus.simulation import app as sim_app
from consensus.simulation.checkers import ViolationKind
from consensus.simulation.faults import Behaviour, Fault, FaultKind
from consensus.simulation.host import NodeHost
from consensus.simulation.network import Partition
from consensus.simulation.nodes import SimNode
from consensus.simulation.state import Deliver, Sync, Tick, TxArrival


class Environment(NodeHost):
    """Workload, gossip, faults and liveness, around the hosted nodes."""

    # workload, gossip and faults --------------------------------------------------------------

    def _on_tick(self, tick: Tick) -> None:
        if tick.kind == "gossip":
            self._gossip()
            self.clock.schedule(self.gossip_interval_ms, tick)
        elif tick.kind == "txs":
            self._generate_txs()
            self.clock.schedule(self.tx_interval_ms, tick)
        elif tick.kind == "heal":
            self._heal()
        elif tick.kind == "deadline" and not self.finished:
            self._report_liveness_failure()

    def _generate_txs(self) -> None:
        prng = self.workload
        for _ in range(prng.between(0, 3)):
            self.tx_count += 1
            tx = sim_app.make_tx(self.seed, self.tx_count, prng.bytes(prng.between(0, 40)))
            self.generated_txs.add(tx)
            entry = prng.choice(self.nodes).node_id
            self.clock.schedule(0, TxArrival(entry, tx))
            for node in self.nodes:
                if node.node_id != entry:
                    for delay_ms in self.network.compute_delays_ms(entry, node.node_id):
                        self.clock.schedule(delay_ms, TxArrival(node.node_id, tx))

    def _on_tx_arrival(self, item: TxArrival) -> None:
        node = self.nodes[item.node]
        if node.is_up and node.app.add_tx(item.tx):
            self._offer_txs(node)

    def _gossip(self) -> None:
        for node in self.nodes:
            if not node.is_up:
                continue
            peers = [
                p
                for p in self.nodes
                if p is not node and p.is_up and self.network.is_connected(node.node_id, p.node_id)
            ]
            if node.outbox is not None:
                for target, payload in node.outbox.get_replays([p.node_id for p in peers], 2):
                    self._transmit(node.node_id, target, payload)
                continue
            for peer in peers:
                self._gossip_to(node, peer)

    def _gossip_to(self, node: SimNode, peer: SimNode) -> None:
        if peer.committed_height < node.committed_height:
            height = peer.committed_height + 1
            if self.attack is not None and self.attack.blocks_sync(peer.node_id, height):
                return
            for delay_ms in self.network.compute_delays_ms(node.node_id, peer.node_id):
                self.clock.schedule(delay_ms, Sync(peer.node_id, height, node.node_id))
            return
        height = peer.entered_height
        for digest, payload in node.seen.get(height, {}).items():
            if not peer.has_received(height, digest):
                self._transmit(node.node_id, peer.node_id, payload)

    def _on_fault(self, fault: Fault) -> None:
        if fault.kind is FaultKind.PARTITION and fault.partition is not None:
            self.network.partition = fault.partition
        elif fault.kind is FaultKind.HEAL:
            self.network.partition = Partition.whole(n.node_id for n in self.nodes)
        elif fault.kind is FaultKind.CONDITIONS and fault.conditions is not None:
            self.network.conditions = fault.conditions
        elif fault.kind is FaultKind.CRASH and fault.node is not None:
            node = self.nodes[fault.node]
            if node.is_up:
                if fault.crash_after_actions:
                    node.crash_after_actions = fault.crash_after_actions
                else:
                    node.crash()
        elif fault.kind is FaultKind.RESTART and fault.node is not None:
            self._restart(self.nodes[fault.node])

    def _restart(self, node: SimNode) -> None:
        if node.is_up or node.behaviour is Behaviour.SILENT:
            return
        node.restarts += 1
        self._start(node)

    # liveness ---------------------------------------------------------------------------------

    def deliver_held(self, index: int) -> None:
        """Deliver held payload ``index`` now (if its link is not partitioned)."""
        assert self.held is not None
        source, target, payload = self.held[index]
        if self.network.is_connected(source, target):
            del self.held[index]
            self._on_deliver(Deliver(target, payload))

    def release_held(self) -> None:
        """Back to simulated links: everything held is delivered after link delays."""
        held, self.held = self.held or [], None
        for source, target, payload in held:
            self._transmit(source, target, payload)

    def heal_now(self) -> None:
        """End the safety phase now: heal, restart, and start the liveness clock."""
        self._heal()

    def apply_fault(self, fault: Fault) -> None:
        """Apply a fault now (for step-by-step drivers; ``fault.at_ms`` is ignored)."""
        self._on_fault(fault)

    def _heal(self) -> None:
        if self.liveness_target is not None:
            return  # already in the liveness phase
        self.network.partition = Partition.whole(n.node_id for n in self.nodes)
        self.network.conditions = self.plan.liveness_conditions
        self._end_attack()  # the adversary respects the heal: nothing stays held after it
        for node in self.nodes:
            node.crash_after_actions = None
            if node.is_honest and not node.is_up:
                self._restart(node)
        self.liveness_target = self.agreement.max_height + self.config.liveness_heights
        self.clock.schedule(self.config.liveness_bound_ms, Tick("deadline"))
        self._check_liveness_done()

    def _report_liveness_failure(self) -> None:
        states = ", ".join(f"node {n.node_id}: height {n.committed_height}" for n in self.honest)
        self._violate(
            ViolationKind.LIVENESS,
            f"honest nodes did not reach height {self.liveness_target} within "
            f"{self.config.liveness_bound_ms} ms of the heal ({states})",
        )
        self.finished = True
