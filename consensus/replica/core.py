"""The Tendermint replica: ``handle(event) -> list[Action]``, nothing else acts.

Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus" (2018). The rules
are evaluated after every accepted input until none fires (``_apply_rules``); the comments cite
the paper's line numbers. Inputs are validated completely before anything changes: a rejected
input returns [] and leaves :meth:`Replica.snapshot` equal. Signing goes only through
:mod:`consensus.safety`, and ``PersistSignState`` precedes the ``Broadcast`` it covers.

Never: read a clock, draw randomness, do I/O, or sign anything but through the guard.

The replica is split by concern; this module keeps the public surface and sets up the state:

- :mod:`consensus.replica.state`: attributes, limits, :class:`ChainState`, :class:`RejectedInput`
- :mod:`consensus.replica.validation`: validating each input before anything changes
- :mod:`consensus.replica.rules`: the upon-rules of Algorithm 1
- :mod:`consensus.replica.steps`: step transitions (StartRound, timeouts, decide, new height)
- :mod:`consensus.replica.evidence`: storing votes, evidence, lock recovery, catch-up
- :mod:`consensus.replica.signing`: block validity, proposal building and signing
"""

from __future__ import annotations

from consensus.actions import Action
from consensus.crypto import PrivateKey
from consensus.events import Event
from consensus.params import ConsensusParams
from consensus.replica.rules import Algorithm1Rules
from consensus.replica.state import (
    AT_LEAST_PREVOTE,
    FUTURE_HEIGHT_MESSAGES_MAX,
    FUTURE_ROUNDS_PER_VALIDATOR_MAX,
    PENDING_EVIDENCE_MAX,
    PREVOTE_STEPS,
    PROPOSAL_ROUNDS_AHEAD_MAX,
    RULE_ITERATIONS_MAX,
    ChainState,
    RejectedInput,
    S,
)
from consensus.replica.validation import InputValidation
from consensus.round_step import RoundStep
from consensus.safety import SignState
from consensus.types import ChainId, Hash32, Height, Round, TimestampMs
from consensus.validators import ValidatorSet

__all__ = [
    "AT_LEAST_PREVOTE",
    "FUTURE_HEIGHT_MESSAGES_MAX",
    "FUTURE_ROUNDS_PER_VALIDATOR_MAX",
    "PENDING_EVIDENCE_MAX",
    "PREVOTE_STEPS",
    "PROPOSAL_ROUNDS_AHEAD_MAX",
    "RULE_ITERATIONS_MAX",
    "ChainState",
    "RejectedInput",
    "Replica",
    "S",
]


class Replica(InputValidation, Algorithm1Rules):
    """One Tendermint participant; ``private_key=None`` makes a non-voting observer."""

    def __init__(
        self,
        chain_id: ChainId,
        private_key: PrivateKey | None,
        params: ConsensusParams,
        chain: ChainState,
        sign_state: SignState | None = None,
    ) -> None:
        needed = [chain.height + 1, chain.height + 2] + ([chain.height] if chain.height else [])
        if any(h not in chain.validator_sets for h in needed):
            raise ValueError(f"validator sets for heights {needed} are required")
        self.chain_id = chain_id
        self.params = params
        self._key = private_key
        self.public_key = None if private_key is None else private_key.public_key
        self._sets = dict(chain.validator_sets)
        self._sign_state = sign_state if sign_state is not None else SignState()
        self._txs = ()
        self._evidence = {}
        self._committed_evidence = {}
        self._now_ms = TimestampMs(0)
        self._started = False
        self._future = []
        self._last_proposal = None
        self._round = Round(0)
        self._proposals = {}
        self._decision = None
        self._locked = None
        self._locked_round = -1
        self._once = frozenset()
        self._validity = {}  # cache of a pure function, not state
        self._enter_height(chain)
        self._step = S.NEW_HEIGHT

    # -----------------------------------------------------------------------------------------
    # public surface

    @property
    def height(self) -> Height:
        return self._height

    @property
    def round(self) -> Round:
        return self._round

    @property
    def step(self) -> RoundStep:
        return self._step

    @property
    def sign_state(self) -> SignState:
        return self._sign_state

    @property
    def locked(self) -> tuple[Hash32 | None, int]:
        return self._locked, self._locked_round

    @property
    def valid(self) -> tuple[Hash32 | None, int]:
        return (None if self._valid is None else self._valid.hash), self._valid_round

    def get_validator_set(self, height: int) -> ValidatorSet | None:
        return self._sets.get(height)

    def handle(self, event: Event) -> list[Action]:
        """Process one input; [] if it was rejected (the replica is then unchanged)."""
        try:
            return self.handle_strict(event)
        except RejectedInput:
            return []

    def handle_strict(self, event: Event) -> list[Action]:
        """Like :meth:`handle` but raises :class:`RejectedInput` with the reason."""
        apply = self._validate(event)
        if event.now_ms is not None:
            self._now_ms = max(self._now_ms, event.now_ms)
        out: list[Action] = []
        apply(out)
        if self._started:
            self._apply_rules(out)
        return out

    def snapshot(self) -> tuple[object, ...]:
        """Every piece of state that decides behaviour, as a comparable value."""
        return (
            self._height,
            self._round,
            self._step,
            self._started,
            self._now_ms,
            tuple(sorted(self._sets.items())),
            self._last_block_hash,
            self._last_commit,
            self._last_block_time_ms,
            self._app_hash,
            self.locked,
            self.valid,
            tuple(sorted(self._proposals.items())),
            self._votes.snapshot(),
            self._sign_state,
            self._txs,
            tuple(sorted(self._evidence)),
            tuple(sorted(self._committed_evidence)),
            self._decision,
            tuple(self._future),
            self._once,
            self._last_proposal,
        )
