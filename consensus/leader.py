"""Leader skipping: who proposes round 0 of a height, from committed data only.

The plain rotation (:meth:`consensus.validators.ValidatorSet.proposer`) gives a crashed
validator every n-th height, and each of those heights waits out a propose timeout. Here a
validator of height ``h - 1``'s set with no precommit in the certificate that block ``h``
carries in its header (``last_commit``, the certificate of block ``h - 1``) is "shown absent",
and round 0 of height ``h + 1`` skips it: the plain rotation's pick proposes unless it is shown
absent, and then the next validator after it in the rotation that is not. Rounds >= 1 keep the
plain rotation, and so does round 0 if skipping would leave no one.

Why it is safe: the input is block ``h`` itself, which every correct node that enters height
``h + 1`` has decided identically, so all of them name the same proposer for every
``(height, round)``. A node's OWN certificate of block ``h`` (built from the precommits it
happened to receive) is never an input: nodes hold different ones. Proposer identity matters to
liveness only; locks and quorums alone keep agreement. Liveness never depends on the skip data:
from round 1 on every validator gets its turn as in plain Tendermint, so a Byzantine proposer
that leaves honest signatures out of its certificate costs them at most one round-0 turn each.

Fairness: a validator that is not shown absent keeps exactly its plain turns; one that comes
back signs precommits again, and once one of them is in a carried certificate (normally the
next block's) it has its turns back.
"""

from __future__ import annotations

from collections.abc import Mapping

from consensus.messages import CommitCertificate
from consensus.types import Height, PublicKey, Round
from consensus.validators import ROTATION_CYCLE_MAX, Validator, ValidatorSet

NO_SKIPS: frozenset[PublicKey] = frozenset()


def compute_absent_signers(
    certificate: CommitCertificate | None, signers_set: ValidatorSet | None
) -> frozenset[PublicKey]:
    """Validators of ``signers_set`` (the set of the certificate's height) with no signature in
    ``certificate``; none when there is no certificate (heights 1 and 2) or no set to read its
    indexes with."""
    if certificate is None or signers_set is None:
        return NO_SKIPS
    signed = {sig.validator_index for sig in certificate.signatures}
    return frozenset(v.public_key for i, v in enumerate(signers_set.validators) if i not in signed)


def compute_proposer_skips(
    last_commit_in_block: CommitCertificate | None, validator_sets: Mapping[int, ValidatorSet]
) -> frozenset[PublicKey]:
    """The skip set of the height after a block whose header carries ``last_commit_in_block``
    (read with the set of that certificate's height, if ``validator_sets`` holds it)."""
    if last_commit_in_block is None:
        return NO_SKIPS
    signers_set = validator_sets.get(last_commit_in_block.height)
    return compute_absent_signers(last_commit_in_block, signers_set)


def get_proposer(
    vset: ValidatorSet, height: Height | int, round_: Round | int, skips: frozenset[PublicKey]
) -> Validator:
    """The proposer of ``(height, round_)``. Round 0: the plain rotation's pick at position
    ``height``, or if that validator is in ``skips``, the first one after it in the rotation
    that is not (so a present validator keeps exactly its plain turns, and an absent one's turns
    go to whoever follows it). Rounds >= 1, and round 0 when nobody would be left: plain."""
    plain = vset.proposer(height, round_)
    if round_ > 0 or plain.public_key not in skips:
        return plain
    for offset in range(1, ROTATION_CYCLE_MAX + 1):
        candidate = vset.proposer(height + offset, 0)
        if candidate.public_key not in skips:
            return candidate
    return plain  # everyone skipped (or, with hashed picks, no one present drawn): plain


def could_propose(
    vset: ValidatorSet,
    height: Height | int,
    round_: Round | int,
    public_key: PublicKey,
    skips: frozenset[PublicKey] | None,
) -> bool:
    """Whether ``public_key`` proposes ``(height, round_)``; with ``skips`` unknown (None: the
    block before ``height`` is not decided yet) any validator may be round 0's proposer, and
    the replica checks again once it enters the height."""
    if skips is None and round_ == 0:
        return vset.contains(public_key)
    return get_proposer(vset, height, round_, skips or NO_SKIPS).public_key == public_key
