"""The deterministic cluster simulation: real replicas, simulated clock, network and faults.

One integer seed decides everything (keys, Byzantine roles, fault plan, link behaviour, tx
arrivals), so any failure is reproduced by re-running its seed. Like TigerBeetle's VOPR a run
has a safety phase (hostile) then a liveness phase (healed): see :mod:`.faults`.

The simulator plays the node's part for each replica: it executes actions in order (persisting
the SignState before sending), runs the trivial app, gossips (re-sends messages a peer lacks,
like CometBFT's per-peer gossip) and serves block sync to peers that fell behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from consensus import actions as act
from consensus import events as ev
from consensus.blocks import Block
from consensus.codec import CodecError
from consensus.crypto import PrivateKey, sha256
from consensus.messages import (
    CommitCertificate,
    Message,
    Proposal,
    Vote,
    decode_message,
    encode_message,
)
from consensus.replica import Replica
from consensus.simulation import app as sim_app
from consensus.simulation.byzantine import ByzantineOutbox
from consensus.simulation.checkers import (
    AgreementChecker,
    DoubleSignChecker,
    Violation,
    ViolationKind,
)
from consensus.simulation.clock import SimClock
from consensus.simulation.faults import (
    Behaviour,
    Fault,
    FaultKind,
    draw_behaviours,
    draw_fault_plan,
)
from consensus.simulation.network import LinkConditions, NodeId, Partition, SimNetwork
from consensus.simulation.nodes import SimNode
from consensus.simulation.prng import Prng
from consensus.simulation.replicas import build_replica, validator_set_of
from consensus.simulation.results import (
    CHAIN_ID,
    EVENTS_MAX,
    RunResult,
    SimConfig,
    Summary,
    default_params,
    summarize,
)
from consensus.simulation.validity import ValidityChecker
from consensus.types import Height, TimestampMs

__all__ = [
    "CHAIN_ID",
    "RunResult",
    "SimConfig",
    "Simulation",
    "Summary",
    "default_params",
    "run_many",
    "run_simulation",
    "summarize",
]

# Items on the simulated clock's queue ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Deliver:
    node: NodeId
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Callback:
    """An event for one incarnation of a node's replica (timer, BlockExecuted, start)."""

    node: NodeId
    incarnation: int
    event: ev.Event


@dataclass(frozen=True, slots=True)
class _Sync:
    node: NodeId
    height: int
    source: NodeId


@dataclass(frozen=True, slots=True)
class _Tick:
    kind: str
    """'gossip', 'txs', 'heal' (end of safety phase) or 'deadline'."""


@dataclass(frozen=True, slots=True)
class _TxArrival:
    node: NodeId
    tx: bytes


_Item = _Deliver | _Callback | _Sync | _Tick | _TxArrival | Fault


class Simulation:
    """One run. Build it, call :meth:`run`, read the result."""

    def __init__(self, seed: int, config: SimConfig) -> None:
        self.seed = seed
        self.config = config
        prng = Prng(seed)
        self.prng = prng
        self.params = config.params or default_params()
        self.clock: SimClock[_Item] = SimClock()
        self.start_ms = self.clock.now_ms
        keys = [PrivateKey(prng.bytes(32)) for _ in range(config.validators)]
        self.behaviours = self._draw_behaviours(prng.fork())
        self.powers = self._draw_powers(prng.fork())
        self.validator_set = validator_set_of(keys, self.powers)
        self.nodes = self._make_nodes(keys, prng.fork())
        self.network = SimNetwork(
            prng.fork(), [n.node_id for n in self.nodes], LinkConditions.reliable()
        )
        self.honest = [n for n in self.nodes if n.is_honest]
        safety_ms = config.safety_phase_ms or prng.between(2_000, 8_000)
        crashable = [n.node_id for n in self.honest]
        self.plan = config.fault_plan or draw_fault_plan(
            prng.fork(), [n.node_id for n in self.nodes], crashable, safety_ms, config.crashes
        )
        self.network.conditions = self.plan.initial_conditions
        self.gossip_interval_ms = prng.between(100, 400)
        self.tx_interval_ms = prng.between(30, 300)
        self.exec_delay_max_ms = prng.between(0, 30)
        self.workload = prng.fork()
        self.tx_count = 0
        self.generated_txs: set[bytes] = set()
        self.agreement = AgreementChecker()
        self.double_sign = DoubleSignChecker([n.key.public_key for n in self.honest])
        self.validity = ValidityChecker(
            CHAIN_ID, self.params, self.validator_set, self.generated_txs
        )
        self.violations: list[Violation] = []
        self.events = 0
        self.messages = 0
        self.liveness_target: int | None = None
        self.finished = False
        self.started = False
        self.held: list[tuple[NodeId, NodeId, bytes]] | None = None
        """When a list, the network holds every payload here for an external driver to
        deliver, drop or duplicate (the hypothesis state machine); None: simulated links."""

    # setup ------------------------------------------------------------------------------------

    def _draw_behaviours(self, prng: Prng) -> tuple[Behaviour, ...]:
        config = self.config
        if config.behaviours is not None:
            if len(config.behaviours) != config.validators:
                raise ValueError("one behaviour per validator")
            return config.behaviours
        return tuple(
            draw_behaviours(prng, config.validators, config.byzantine, config.allowed_behaviours)
        )

    def _draw_powers(self, prng: Prng) -> tuple[int, ...]:
        """Equal powers, or (if weighted) 1..10 each with the Byzantine share kept below 1/3
        whenever the Byzantine count alone allows it ("f Byzantine" is by power)."""
        count = self.config.validators
        weighted = self.config.weighted_powers
        if weighted is None:
            weighted = prng.chance_ppm(500_000)
        if not weighted:
            return (10,) * count
        powers = [prng.between(1, 10) for _ in range(count)]
        byzantine = [i for i, b in enumerate(self.behaviours) if b is not Behaviour.HONEST]
        if 3 * len(byzantine) < count and 3 * sum(powers[i] for i in byzantine) >= sum(powers):
            for i in byzantine:  # honest ones keep >= 1 each, so now 3 * f < total
                powers[i] = 1
        return tuple(powers)

    def _make_nodes(self, keys: Sequence[PrivateKey], prng: Prng) -> list[SimNode]:
        nodes: list[SimNode] = []
        for index, (key, behaviour) in enumerate(zip(keys, self.behaviours, strict=True)):
            copies = 2 if behaviour is Behaviour.TWINS else 1
            for _ in range(copies):
                outbox = None
                if behaviour is not Behaviour.HONEST:
                    outbox = ByzantineOutbox(behaviour, key, CHAIN_ID, prng.fork())
                nodes.append(SimNode(len(nodes), index, key, behaviour, outbox))
        return nodes

    def _build_replica(self, node: SimNode) -> Replica:
        cls = self.config.replica_class if node.is_honest else Replica
        return build_replica(node, CHAIN_ID, self.params, self.validator_set, cls)

    # the loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the starts, the fault plan and the periodic work (once)."""
        if self.started:
            return
        self.started = True
        for node in self.nodes:
            self.clock.schedule(
                self.prng.between(0, 300),
                _Callback(node.node_id, -1, ev.Started(self.clock.now_ms)),
            )
        for fault in self.plan.faults:
            self.clock.schedule(fault.at_ms, fault)
        self.clock.schedule(self.plan.safety_phase_ms, _Tick("heal"))
        self.clock.schedule(self.gossip_interval_ms, _Tick("gossip"))
        self.clock.schedule(self.tx_interval_ms, _Tick("txs"))

    def step(self) -> bool:
        """Take the next scheduled item; False once the run is over."""
        item = self.clock.pop()
        if item is None or self.finished:
            return False
        self.events += 1
        if self.events > EVENTS_MAX:
            self._violate(ViolationKind.LIVENESS, f"more than {EVENTS_MAX} events")
            return False
        self._dispatch(item)
        return not (self.violations and self.config.stop_on_violation)

    def advance_to(self, elapsed_ms: int) -> None:
        """Run everything due up to ``elapsed_ms`` of sim time (for step-by-step drivers)."""
        due_limit = self.start_ms + elapsed_ms
        while (due := self.clock.peek_due_ms()) is not None and due <= due_limit:
            if not self.step():
                return
        self.clock.now_ms = TimestampMs(max(self.clock.now_ms, due_limit))

    def run(self) -> RunResult:
        self.start()
        try:
            while not self.finished and self.step():
                pass
        except OverflowError as exc:  # the bounded queue filled up: a message storm
            self._violate(ViolationKind.LIVENESS, f"{exc} (a message storm)")
        return self.result()

    def result(self) -> RunResult:
        return RunResult(
            seed=self.seed,
            config=self.config,
            behaviours=self.behaviours,
            violations=tuple(self.violations),
            heights=self.agreement.max_height,
            sim_time_ms=self.elapsed_ms,
            events=self.events,
            messages=self.messages,
        )

    @property
    def elapsed_ms(self) -> int:
        return self.clock.now_ms - self.start_ms

    def _violate(self, kind: ViolationKind, detail: str) -> None:
        self.violations.append(Violation(kind, self.elapsed_ms, detail))

    def _dispatch(self, item: _Item) -> None:
        if isinstance(item, _Deliver):
            self._on_deliver(item)
        elif isinstance(item, _Callback):
            self._on_callback(item)
        elif isinstance(item, _Sync):
            self._on_sync(item)
        elif isinstance(item, _TxArrival):
            self._on_tx_arrival(item)
        elif isinstance(item, Fault):
            self._on_fault(item)
        else:
            self._on_tick(item)

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
        for index, action in enumerate(actions[:limit]):
            if isinstance(action, act.PersistSignState):
                self._log_signed_message(node, actions, index)
            self._apply(node, action)
        if limit is not None:
            node.crash()

    def _log_signed_message(self, node: SimNode, actions: list[act.Action], index: int) -> None:
        """The node writes the message a new SignState covers into its WAL in the same fsync as
        the SignState. Persisting only the SignState and crashing before the send loses that
        vote for good (the guard refuses to sign the step again), and the round can stall for
        everyone (sim seed 10075): the restarted node must be able to send it again."""
        for action in actions[index + 1 :]:
            if isinstance(action, act.Broadcast | act.SendTo) and isinstance(
                action.message, Proposal | Vote
            ):
                payload = encode_message(action.message)
                node.log_wal(action.message.height, sha256(payload), payload)
                return

    def _on_deliver(self, item: _Deliver) -> None:
        node = self.nodes[item.node]
        if not node.is_up:
            return
        try:
            message = decode_message(item.payload)
        except CodecError:
            return  # the node's p2p layer drops undecodable frames
        height = _height_of(message)
        digest = sha256(item.payload)
        if height == node.entered_height:
            # Only a message of the height the replica is at counts as "has it" for gossip: one
            # for the next height may be refused (the replica's buffer is bounded and Byzantine
            # peers can fill it), so gossip offers it again once the node gets there (seed 60353).
            node.mark_received(height, digest)
        if node.outbox is not None:
            node.outbox.remember(item.payload)
        if height >= node.entered_height:
            node.remember(height, digest, item.payload)
            node.log_wal(height, digest, item.payload)
        now = self.clock.now_ms
        if isinstance(message, Proposal):
            self._handle(node, ev.ProposalReceived(message, now))
        elif isinstance(message, Vote):
            self._handle(node, ev.VoteReceived(message, now))
        else:
            self._handle(node, ev.EvidenceReceived(message, now))

    def _on_callback(self, item: _Callback) -> None:
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
        self._handle(node, ev.Started(self.clock.now_ms))
        self._replay_wal(node)
        self._offer_txs(node)

    def _replay_wal(self, node: SimNode) -> None:
        """After a restart the node feeds its replica the messages of its WAL again (the ones
        it received and the ones it signed), which also makes gossip offer them again."""
        for height in sorted(h for h in node.wal if h >= node.entered_height):
            for payload in list(node.wal[height].values()):
                self._on_deliver(_Deliver(node.node_id, payload))

    def _on_sync(self, item: _Sync) -> None:
        node = self.nodes[item.node]
        source = self.nodes[item.source]
        entry = source.blocks.get(item.height)
        if not node.is_up or entry is None or node.committed_height >= item.height:
            return
        block, certificate = entry
        self._handle(node, ev.CommittedBlockReceived(block, certificate, self.clock.now_ms))

    def _offer_txs(self, node: SimNode) -> None:
        txs = node.app.get_candidate_txs(self.params.block_txs_max)
        self._handle(node, ev.TxsAvailable(txs, self.clock.now_ms))

    # actions of replicas ----------------------------------------------------------------------

    def _apply(self, node: SimNode, action: act.Action) -> None:
        if isinstance(action, act.Broadcast):
            self._send(node, action.message, [n.node_id for n in self.nodes if n is not node])
        elif isinstance(action, act.SendTo):
            targets = [n.node_id for n in self.nodes if n.public_key == action.public_key]
            self._send(node, action.message, [t for t in targets if t != node.node_id])
        elif isinstance(action, act.ScheduleTimeout):
            timeout = ev.TimeoutElapsed(action.height, action.round, action.step)
            self.clock.schedule(action.delay_ms, _Callback(node.node_id, node.incarnation, timeout))
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
        for delay_ms in self.network.compute_delays_ms(source, target):
            self.clock.schedule(delay_ms, _Deliver(target, payload))

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
            self.violations.extend(
                Violation(ViolationKind.VALIDITY, self.elapsed_ms, p) for p in problems
            )
        node.blocks[height] = (block, certificate)
        node.committed_height = height
        app_hash = node.app.execute(height, block.txs)
        executed = ev.BlockExecuted(Height(height), app_hash, self.validator_set)
        delay_ms = self.prng.between(0, self.exec_delay_max_ms)
        self.clock.schedule(delay_ms, _Callback(node.node_id, node.incarnation, executed))
        self._check_liveness_done()

    # workload, gossip and faults --------------------------------------------------------------

    def _on_tick(self, tick: _Tick) -> None:
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
            self.clock.schedule(0, _TxArrival(entry, tx))
            for node in self.nodes:
                if node.node_id != entry:
                    for delay_ms in self.network.compute_delays_ms(entry, node.node_id):
                        self.clock.schedule(delay_ms, _TxArrival(node.node_id, tx))

    def _on_tx_arrival(self, item: _TxArrival) -> None:
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
            for delay_ms in self.network.compute_delays_ms(node.node_id, peer.node_id):
                self.clock.schedule(delay_ms, _Sync(peer.node_id, height, node.node_id))
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
            self._on_deliver(_Deliver(target, payload))

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
        for node in self.nodes:
            node.crash_after_actions = None
            if node.is_honest and not node.is_up:
                self._restart(node)
        self.liveness_target = self.agreement.max_height + self.config.liveness_heights
        self.clock.schedule(self.config.liveness_bound_ms, _Tick("deadline"))
        self._check_liveness_done()

    def _check_liveness_done(self) -> None:
        target = self.liveness_target
        if target is not None and all(n.committed_height >= target for n in self.honest):
            self.finished = True

    def _report_liveness_failure(self) -> None:
        states = ", ".join(f"node {n.node_id}: height {n.committed_height}" for n in self.honest)
        self._violate(
            ViolationKind.LIVENESS,
            f"honest nodes did not reach height {self.liveness_target} within "
            f"{self.config.liveness_bound_ms} ms of the heal ({states})",
        )
        self.finished = True


def _height_of(message: Message) -> int:
    return int(message.height)  # proposals, votes and evidence all name their height


def run_simulation(
    seed: int,
    validators: int = 4,
    byzantine: int = 1,
    config: SimConfig | None = None,
) -> RunResult:
    """Run one seeded simulation. ``config`` (if given) wins over ``validators``/``byzantine``."""
    if config is None:
        config = SimConfig(validators=validators, byzantine=byzantine)
    return Simulation(seed, config).run()


def run_many(
    seeds: Sequence[int],
    config: SimConfig,
    on_result: Callable[[RunResult], None] | None = None,
) -> Summary:
    results = []
    for seed in seeds:
        result = Simulation(seed, config).run()
        if on_result is not None:
            on_result(result)
        results.append(result)
    return summarize(results)
