"""Consensus parameters: timeouts, block bounds, empty-block policy, evidence bounds.

Every validator must run with the same values (they shape which blocks are valid), so they are
data passed down from genesis/config, never a global. Durations are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import codec
from consensus.types import DurationMs, Round

BLOCK_TXS_HARD_MAX = 100_000
"""No configuration may allow more txs per block than this (codec list bound)."""

BLOCK_BYTES_HARD_MAX = 8 * 1024 * 1024
"""No configuration may allow a bigger encoded block than this."""

EVIDENCE_HARD_MAX = 1_000
TIME_BOUND_MAX_MS = 600_000
"""Largest clock precision or message delay a chain may configure (10 minutes)."""
ROUND_GROWTH_MAX = 90
"""The message delay grows 10 % a round up to this many rounds (10x): bounded, so a long run
of failed rounds cannot make any timestamp acceptable."""


@dataclass(frozen=True, slots=True)
class ConsensusParams:
    """Tunables of the Tendermint replica. Defaults suit a 4-bank LAN/WAN network."""

    timeout_propose_ms: int = 3_000
    """How long a non-proposer waits for round r's proposal (plus ``timeout_delta_ms * r``)."""
    timeout_prevote_ms: int = 1_000
    """Wait after seeing > 2/3 prevotes for anything before precommitting nil."""
    timeout_precommit_ms: int = 1_000
    """Wait after seeing > 2/3 precommits for anything before moving to the next round."""
    timeout_delta_ms: int = 500
    """Per-round growth of the three round timeouts, so a slow network eventually fits."""
    timeout_max_ms: int = 60_000
    """Cap on any round timeout, whatever the round."""
    timeout_commit_ms: int = 1_000
    """Pause after a block is executed before round 0 of the next height (skipped if txs wait)."""
    timeout_propose_absent_ms: int = 200
    """Propose timeout (before the per-round delta) for a proposer that missed its last turn:
    a validator that is down costs one full timeout, then short ones until it proposes again.
    A node's own choice, like every timeout: safety never depends on it."""
    block_txs_max: int = 10_000
    """Most transactions in one block."""
    block_bytes_max: int = 4 * 1024 * 1024
    """Largest encoded block (header, txs and evidence)."""
    create_empty_blocks: bool = True
    """False: at round 0 wait for TxsAvailable (or ``empty_block_interval_ms``) before proposing."""
    empty_block_interval_ms: int = 0
    """If > 0, make an empty block at most this often while no txs arrive (0 = policy above)."""
    evidence_max: int = 50
    """Most pieces of evidence in one block."""
    evidence_age_max_heights: int = 100
    """Evidence older than this many heights is no longer accepted (or includable)."""
    timestamp_precision_ms: int = 500
    """Proposer-based time: how far apart honest validators' clocks may be. A fresh proposal
    stamped more than this after the receiver's clock is from the future: prevote nil."""
    message_delay_ms: int = 5_000
    """Proposer-based time: how long a proposal may take to arrive (10 % more each round, so
    a slow network only costs rounds). A fresh proposal stamped earlier than
    ``receipt - delay - precision`` is too old: prevote nil."""

    def __post_init__(self) -> None:
        for name in (
            "timeout_propose_ms",
            "timeout_prevote_ms",
            "timeout_precommit_ms",
            "timeout_delta_ms",
            "timeout_max_ms",
            "timeout_commit_ms",
            "timeout_propose_absent_ms",
            "empty_block_interval_ms",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a non-negative int")
        if not 1 <= self.block_txs_max <= BLOCK_TXS_HARD_MAX:
            raise ValueError("block_txs_max out of range")
        if not 1024 <= self.block_bytes_max <= BLOCK_BYTES_HARD_MAX:
            raise ValueError("block_bytes_max out of range")
        if not 0 <= self.evidence_max <= EVIDENCE_HARD_MAX:
            raise ValueError("evidence_max out of range")
        if not 1 <= self.evidence_age_max_heights <= 100_000:
            raise ValueError("evidence_age_max_heights out of range")
        if not 1 <= self.timestamp_precision_ms <= TIME_BOUND_MAX_MS:
            raise ValueError("timestamp_precision_ms out of range")
        if not 1 <= self.message_delay_ms <= TIME_BOUND_MAX_MS:
            raise ValueError("message_delay_ms out of range")

    def compute_round_timeout_ms(self, base_ms: int, round_: Round) -> DurationMs:
        """``base + delta * round``, capped by ``timeout_max_ms``."""
        return DurationMs(min(base_ms + self.timeout_delta_ms * round_, self.timeout_max_ms))

    def get_propose_timeout_ms(self, round_: Round, proposer_absent: bool = False) -> DurationMs:
        base = self.timeout_propose_absent_ms if proposer_absent else self.timeout_propose_ms
        return self.compute_round_timeout_ms(min(base, self.timeout_propose_ms), round_)

    def get_prevote_timeout_ms(self, round_: Round) -> DurationMs:
        return self.compute_round_timeout_ms(self.timeout_prevote_ms, round_)

    def get_precommit_timeout_ms(self, round_: Round) -> DurationMs:
        return self.compute_round_timeout_ms(self.timeout_precommit_ms, round_)

    def is_timely(self, proposal_time_ms: int, received_ms: int, round_: Round) -> bool:
        """Proposer-based timestamps: was a fresh proposal of ``round_`` stamped at
        ``proposal_time_ms`` and received at ``received_ms`` (our clock) on time? Fewer than
        1/3 of the power cannot then move block time beyond these bounds of honest clocks."""
        delay = self.message_delay_ms * (10 + min(round_, ROUND_GROWTH_MAX)) // 10
        precision = self.timestamp_precision_ms
        return proposal_time_ms - precision <= received_ms <= proposal_time_ms + delay + precision

    @property
    def is_waiting_for_txs(self) -> bool:
        """Whether round 0 waits for txs before proposing (CometBFT's ``WaitForTxs``)."""
        return not self.create_empty_blocks or self.empty_block_interval_ms > 0

    def to_wire(self) -> list[object]:
        return [
            self.timeout_propose_ms,
            self.timeout_prevote_ms,
            self.timeout_precommit_ms,
            self.timeout_delta_ms,
            self.timeout_max_ms,
            self.timeout_commit_ms,
            self.block_txs_max,
            self.block_bytes_max,
            self.create_empty_blocks,
            self.empty_block_interval_ms,
            self.evidence_max,
            self.evidence_age_max_heights,
            self.timestamp_precision_ms,
            self.message_delay_ms,
            self.timeout_propose_absent_ms,
        ]

    @classmethod
    def from_wire(cls, value: codec.Value) -> ConsensusParams:
        f = codec.expect_list(value, "consensus_params", 15)
        if len(f) not in (12, 15):  # 12: written before proposer-based time (its defaults)
            raise codec.CodecError(f"consensus_params: expected 15 fields, got {len(f)}")
        timing = {}
        if len(f) == 15:
            timing = {
                "timestamp_precision_ms": codec.expect_uint(f[12], "precision", 2**40),
                "message_delay_ms": codec.expect_uint(f[13], "message_delay", 2**40),
                "timeout_propose_absent_ms": codec.expect_uint(f[14], "timeout_ms", 2**40),
            }
        ms = [codec.expect_uint(f[i], "timeout_ms", 2**40) for i in range(6)]
        try:
            return cls(
                timeout_propose_ms=ms[0],
                timeout_prevote_ms=ms[1],
                timeout_precommit_ms=ms[2],
                timeout_delta_ms=ms[3],
                timeout_max_ms=ms[4],
                timeout_commit_ms=ms[5],
                block_txs_max=codec.expect_uint(f[6], "block_txs_max"),
                block_bytes_max=codec.expect_uint(f[7], "block_bytes_max"),
                create_empty_blocks=codec.expect_bool(f[8], "create_empty_blocks"),
                empty_block_interval_ms=codec.expect_uint(f[9], "interval", 2**40),
                evidence_max=codec.expect_uint(f[10], "evidence_max"),
                evidence_age_max_heights=codec.expect_uint(f[11], "evidence_age_max_heights"),
                **timing,
            )
        except ValueError as exc:
            raise codec.CodecError(f"consensus_params: {exc}") from exc
