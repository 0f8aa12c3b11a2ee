"""The one root of the consensus core's expected failures.

Errors by blame: input from a peer, a client or a file that the core refuses raises a
:class:`ConsensusError`, which the node catches, counts and answers; a broken invariant in our
own code is an ``AssertionError`` and crashes. Every exception class in ``consensus/`` derives
from :class:`ConsensusError` (``tests/consensus/test_errors.py`` checks it). The tree, each
kind defined next to the code that raises it:

- :class:`consensus.codec.CodecError`: bytes or a value that is not canonical, is malformed or
  exceeds a bound (every decoder raises only this);
- :class:`InvalidMessage`: a signed message or proof that does not prove what it claims:
  :class:`consensus.vote_set.InvalidVote`, :class:`consensus.evidence.InvalidEvidence`,
  :class:`consensus.certificate.CertificateError` (and its six kinds);
- :class:`consensus.blocks.InvalidBlock`: a block whose contents contradict its header;
- :class:`consensus.validators.InvalidValidatorSet`: a validator set that breaks the rules;
- :class:`consensus.replica.RejectedInput`: an event the replica does not accept;
- :class:`consensus.safety.DoubleSignRefused`: the signing guard refuses a signature;
- :class:`consensus.ledger.codes.InvalidTransaction`: a transaction that breaks a ledger rule
  (it carries the receipt code);
- :class:`consensus.ledger.genesis.GenesisError`: a genesis document that is not valid.

The kinds that were ``ValueError`` before this root existed still are, for callers that catch
``ValueError``.
"""

from __future__ import annotations


class ConsensusError(Exception):
    """Input the consensus core refuses (see the module docstring for the kinds)."""


class InvalidMessage(ConsensusError, ValueError):
    """A signed message, certificate or evidence that does not verify."""
