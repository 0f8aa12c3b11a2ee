"""The validator's sign state at start-up: what it last signed, or a refusal to start.

:meth:`node.signer.SignStateFile.load` reads the file. When the file is missing, "never signed"
is true only for a validator with no history; for any other it would let the key sign a second,
different proposal or vote at a height and round it already signed (a crash between prevote and
send, then the file lost to a restore or a move, made exactly that happen). So a missing file
is answered here, in this order, before the replica exists (and so before ``Started``):

1. Rebuild it from the WAL. The driver logs every message it signs, and fsyncs the log, before
   it persists the sign state, so when the WAL covers the height after the store's tip, the
   highest of our own validly signed proposals and votes in it is at least what we last
   signed. The rebuilt state is persisted before anything is handled.
2. Otherwise, with blocks behind it (or a WAL that has seen heights), refuse to start with a
   :class:`~node.signer.SignStateMissingError` that says how to recover.

A validator with an empty store and an empty WAL is new: it starts with nothing signed.

What it must never do: count a message as ours without checking our signature on it (peers'
messages are logged before they are validated), or start signing from zero with history behind.
"""

from __future__ import annotations

import logging
from pathlib import Path

from consensus import codec
from consensus.crypto import SignPurpose, compute_sign_bytes, sha256
from consensus.events import ProposalReceived, VoteReceived
from consensus.messages import Vote, VoteType
from consensus.proposal import Proposal
from consensus.safety import SignState, SignStep
from consensus.types import ChainId, Height, PublicKey, Round
from node.signer import SignStateError, SignStateFile, SignStateMissingError
from node.wal import WriteAheadLog
from node.wal_events import decode_event

log = logging.getLogger("depochain.signer")

RECOVERY_DOC = 'docs/operations.md, "Sign state missing"'


def load_sign_state_at_start(
    sign_state_file: SignStateFile,
    wal: WriteAheadLog,
    store_height: int,
    chain_id: ChainId,
    public_key: PublicKey,
) -> SignState | None:
    """The state the replica must start with; None only for a validator that never signed.

    Raises :class:`SignStateMissingError` when the file is gone and cannot be rebuilt, and
    :class:`~node.signer.SignStateCorruptError` for a damaged file (never rebuilt over)."""
    stored = sign_state_file.load()
    if stored is not None:
        return stored
    if not is_wal_covering(wal, store_height):
        raise SignStateMissingError(
            compute_missing_message(sign_state_file.path, wal, store_height)
        )
    own = find_own_sign_states(wal, chain_id, public_key)
    floor = SignState(Height(store_height), Round(0), SignStep.NONE, None)
    rebuilt = max([floor, *own], key=_position)
    if rebuilt == SignState():
        return None  # a new validator: nothing committed, nothing signed
    sign_state_file.persist(rebuilt)
    log.warning(
        "sign state: %s was missing; rebuilt from %d own messages in the WAL as height %d "
        "round %d step %s",
        sign_state_file.path,
        len(own),
        rebuilt.height,
        rebuilt.round,
        rebuilt.step.name,
    )
    return rebuilt


def is_wal_covering(wal: WriteAheadLog, store_height: int) -> bool:
    """True if the WAL holds every message signed above ``store_height``.

    The driver marks height h in the WAL right after block h is stored and before the replica
    moves on, so an intact WAL's last marker is the store's height, or one below it when the
    process died between the two (then the log holds that height's inputs: it is not empty).
    A WAL with no marker behind a store with blocks, or one ahead of the store, is another
    node's history or a fresh folder: it proves nothing."""
    marker = wal.last_height or 0
    if marker == store_height:
        return True
    return marker == store_height - 1 and any(True for _ in wal.replay())


def find_own_sign_states(
    wal: WriteAheadLog, chain_id: ChainId, public_key: PublicKey
) -> list[SignState]:
    """The sign state each of our validly signed proposals and votes in the WAL stands for."""
    states: dict[tuple[int, int, int], SignState] = {}
    for record in wal.replay():
        try:
            event = decode_event(record)
        except codec.CodecError:  # the driver's replay reports these; none is a signature
            continue
        state = _own_sign_state(event, chain_id, public_key)
        if state is None:
            continue
        known = states.setdefault(_position(state), state)
        if known.sign_bytes_hash != state.sign_bytes_hash:
            raise SignStateError(
                f"the WAL holds two different messages this validator signed at height "
                f"{state.height} round {state.round} step {state.step.name}: it has already "
                f"double-signed. Refusing to start; an operator must investigate."
            )
    return list(states.values())


def _own_sign_state(event: object, chain_id: ChainId, public_key: PublicKey) -> SignState | None:
    if isinstance(event, ProposalReceived):
        proposal = event.proposal
        if proposal.proposer != public_key or not proposal.is_signature_valid(chain_id):
            return None
        return _signed(proposal, SignPurpose.PROPOSAL, SignStep.PROPOSAL, chain_id)
    if isinstance(event, VoteReceived):
        vote = event.vote
        if vote.validator != public_key or not vote.is_signature_valid(chain_id):
            return None
        step = SignStep.PREVOTE if vote.type == VoteType.PREVOTE else SignStep.PRECOMMIT
        return _signed(vote, SignPurpose.VOTE, step, chain_id)
    return None


def _signed(
    message: Proposal | Vote, purpose: SignPurpose, step: SignStep, chain_id: ChainId
) -> SignState:
    # The same digest consensus.safety stores: sha256 of the exact bytes the key signed.
    digest = sha256(compute_sign_bytes(purpose, chain_id, message.sign_payload()))
    return SignState(message.height, message.round, step, digest)


def _position(state: SignState) -> tuple[int, int, int]:
    return (state.height, state.round, int(state.step))


def compute_missing_message(path: Path, wal: WriteAheadLog, store_height: int) -> str:
    """What an operator reads when the node refuses to start: why, and the ways out."""
    marker = wal.last_height
    seen = "no committed height" if marker is None else f"committed heights up to {marker}"
    return (
        f"sign-state file {path} is missing. This validator's store holds {store_height} blocks, "
        f"and its WAL (which records {seen}) cannot prove what the key signed "
        f"after that. Refusing to start: signing from scratch could make this validator sign "
        f"two different blocks at one height (double-signing). To recover, either restore "
        f"{path.name} from the machine or backup that last ran this validator key (the newest "
        f"copy, never an older one), or, if it is lost, make sure no other process uses this "
        f"key and run `depochain sign-state floor --home <this node's home> --height N` with N "
        f"above every height the key may have signed (the network's latest committed height "
        f"+ 2: it may have voted in the height in progress); the validator then signs nothing "
        f"below height N. See {RECOVERY_DOC}."
    )
