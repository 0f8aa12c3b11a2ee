"""DepoChain's consensus-critical core.

Everything that every validator must compute identically lives here: encodings, hashes,
sign-bytes, the BFT replica and the ledger rules. The package is pure and synchronous: no I/O,
clocks, randomness or threads (``tests/consensus/test_purity.py`` enforces it). Time and
randomness arrive as inputs.

Layers, each importing only those above it (``tests/test_layering.py`` checks there is no
cycle and that imports stand only at the top of a module):

- ``errors`` (the one root error, ``ConsensusError``), ``types``, ``codec``, ``crypto``,
  ``params``, ``round_step`` (steps and timers), ``safety`` (the sign guard);
- ``validators``; ``messages`` (votes, commit certificates, evidence); ``vote_set``,
  ``certificate``, ``evidence`` (counting and verifying them);
- ``blocks`` (a header carries the parent's certificate); ``proposal`` (carries a block);
  ``wire`` (the network envelope of all three messages);
- ``events`` and ``actions`` (the replica's inputs and outputs); ``replica/`` (Algorithm 1);
- ``ledger/`` (the deposit-token state machine, its rules in ``ledger/rules/``);
- ``simulation/`` (deterministic cluster simulation of real replicas).
"""
