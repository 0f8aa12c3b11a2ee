"""DepoChain's consensus-critical core.

Everything that every validator must compute identically lives here: encodings, hashes,
sign-bytes, the BFT replica and the ledger rules. The package is pure and synchronous: no I/O,
clocks, randomness or threads (``tests/consensus/test_purity.py`` enforces it). Time and
randomness arrive as inputs.
"""
