"""The deterministic cluster simulation: real replicas, simulated clock, network and faults.

One integer seed decides everything (keys, Byzantine roles, fault plan, link behaviour, tx
arrivals), so any failure is reproduced by re-running its seed. Like TigerBeetle's VOPR a run
has a safety phase (hostile) then a liveness phase (healed): see :mod:`.faults`.

The simulator plays the node's part for each replica: it executes actions in order (persisting
the SignState before sending), runs the trivial app, gossips (re-sends messages a peer lacks,
like CometBFT's per-peer gossip) and serves block sync to peers that fell behind.

About half the seeds also draw a lock-split adversary (:mod:`.adversary`): the Byzantine
validators and the network give one round's polka and precommits to only some honest nodes,
then drive a conflicting block in later rounds; it respects the heal.

The run is split by concern: :mod:`.state` (queue items and the run's attributes),
:mod:`.host` (the node's part for each replica), :mod:`.environment` (workload, gossip, faults,
liveness); this module builds a run, drives its loop and keeps the entry points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from consensus import events as ev
from consensus.crypto import PrivateKey
from consensus.simulation.adversary import ATTACK_ROOM_MS, LockSplitAttack, draw_attack_plan
from consensus.simulation.byzantine import ByzantineOutbox
from consensus.simulation.checkers import AgreementChecker, DoubleSignChecker, ViolationKind
from consensus.simulation.clock import SimClock
from consensus.simulation.environment import Environment
from consensus.simulation.faults import Behaviour, Fault, draw_behaviours, draw_fault_plan
from consensus.simulation.network import LinkConditions, SimNetwork
from consensus.simulation.nodes import SimNode
from consensus.simulation.prng import Prng
from consensus.simulation.replicas import validator_set_of
from consensus.simulation.results import (
    BYZANTINE_SKEW_MS,
    CHAIN_ID,
    EVENTS_MAX,
    RunResult,
    SimConfig,
    Summary,
    default_params,
    summarize,
)
from consensus.simulation.state import Callback, Deliver, QueueItem, Sync, Tick, TxArrival
from consensus.simulation.validity import ValidityChecker
from consensus.types import TimestampMs

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


class Simulation(Environment):
    """One run. Build it, call :meth:`run`, read the result."""

    def __init__(self, seed: int, config: SimConfig) -> None:
        self.seed = seed
        self.config = config
        prng = Prng(seed)
        self.prng = prng
        self.params = config.params or default_params()
        self.clock = SimClock()
        self.start_ms = self.clock.now_ms
        keys = [PrivateKey(prng.bytes(32)) for _ in range(config.validators)]
        self.behaviours = self._draw_behaviours(prng.fork())
        self.powers = self._draw_powers(prng.fork())
        self.validator_set = validator_set_of(keys, self.powers)
        self.nodes = self._make_nodes(keys, prng.fork())
        self.network = SimNetwork(
            prng.fork(), [n.node_id for n in self.nodes], LinkConditions.reliable()
        )
        lags = config.sender_lag_ms
        self.network.lag_ms = {n.node_id: lags[n.node_id] for n in self.nodes[: len(lags)]}
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
        self.generated_txs = set()
        self.agreement = AgreementChecker()
        self.double_sign = DoubleSignChecker([n.key.public_key for n in self.honest])
        self.validity = ValidityChecker(
            CHAIN_ID, self.params, self.validator_set, self.generated_txs
        )
        self.violations = []
        self.events = 0
        self.messages = 0
        self.liveness_target = None
        self.finished = False
        self.started = False
        self.held = None
        self.attack = self._draw_attack(prng)
        self.block_time_bound_ms = self._draw_clock_skews(prng)

    # setup ------------------------------------------------------------------------------------

    def _draw_attack(self, prng: Prng) -> LockSplitAttack | None:
        """A lock split drawn from its own stream (taken last, so that without one every other
        draw is what it was); the safety phase is stretched to leave it room."""
        config = self.config
        if not config.lock_split_attacks or config.fault_plan is not None:
            return None
        attack_prng = prng.fork()
        plan = draw_attack_plan(
            attack_prng, self.nodes, self.validator_set, self.plan.safety_phase_ms
        )
        if plan is None:
            return None
        safety_ms = max(self.plan.safety_phase_ms, plan.start_ms + ATTACK_ROOM_MS)
        self.plan = dataclasses.replace(self.plan, safety_phase_ms=safety_ms)
        return LockSplitAttack(plan, self.nodes, self.validator_set, CHAIN_ID, attack_prng)

    def _draw_clock_skews(self, run_prng: Prng) -> int:
        """Skew each node's clock (drawn last, from its own stream, so that without skews every
        other draw is what it was); returns how far ahead of true time a committed block may
        be stamped."""
        precision = self.params.timestamp_precision_ms
        if not self.config.clock_skews:
            return precision
        honest_max = precision // 2
        prng = run_prng.fork()
        for node in self.nodes:
            if node.is_honest:
                node.clock_skew_ms = prng.between(-honest_max, honest_max)
            elif self.config.byzantine_clock_skew_ms is not None:
                node.clock_skew_ms = self.config.byzantine_clock_skew_ms
            else:
                node.clock_skew_ms = BYZANTINE_SKEW_MS * prng.between(-1, 1)
        return honest_max + precision

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

    # the loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the starts, the fault plan and the periodic work (once)."""
        if self.started:
            return
        self.started = True
        for node in self.nodes:
            self.clock.schedule(
                self.prng.between(0, 300),
                Callback(node.node_id, -1, ev.Started(self.clock.now_ms)),
            )
        for fault in self.plan.faults:
            self.clock.schedule(fault.at_ms, fault)
        self.clock.schedule(self.plan.safety_phase_ms, Tick("heal"))
        self.clock.schedule(self.gossip_interval_ms, Tick("gossip"))
        self.clock.schedule(self.tx_interval_ms, Tick("txs"))

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
            lock_split=self.attack is not None and self.attack.target is not None,
        )

    def _dispatch(self, item: QueueItem) -> None:
        if isinstance(item, Deliver):
            self._on_deliver(item)
        elif isinstance(item, Callback):
            self._on_callback(item)
        elif isinstance(item, Sync):
            self._on_sync(item)
        elif isinstance(item, TxArrival):
            self._on_tx_arrival(item)
        elif isinstance(item, Fault):
            self._on_fault(item)
        else:
            self._on_tick(item)


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
