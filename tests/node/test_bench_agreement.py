"""``depochain bench``'s verdict that the nodes agree: same block hash and app hash at the height
every node reached and a few below it, whatever heights the nodes stopped at."""

from __future__ import annotations

from node.bench.cluster import StoredChain, is_agreement


def _chain(top: int, *, block_fork_at: int = 0, app_fork_at: int = 0) -> StoredChain:
    """Heights 1..top; from ``block_fork_at`` (or ``app_fork_at``) on, other hashes."""
    hashes = {}
    for height in range(1, top + 1):
        block_forked = int(0 < block_fork_at <= height)
        app_forked = int(0 < app_fork_at <= height)
        block = bytes([height % 256, block_forked]) * 16
        app = bytes([height % 256, app_forked, 7]) * 10 + b"\0\0"
        hashes[height] = (block, app)
    return StoredChain(top, hashes)


def _common(chains: list[StoredChain]) -> int:
    return min(chain.latest_height for chain in chains)


def test_nodes_at_different_heights_with_one_history_agree() -> None:
    chains = [_chain(40), _chain(42), _chain(45), _chain(40)]
    assert is_agreement(chains, _common(chains), 5)


def test_a_different_block_at_the_common_height_disagrees() -> None:
    chains = [_chain(40), _chain(42, block_fork_at=40), _chain(45)]
    assert not is_agreement(chains, _common(chains), 5)


def test_a_different_app_hash_below_the_common_height_disagrees() -> None:
    chains = [_chain(40), _chain(40, app_fork_at=36), _chain(45)]
    assert not is_agreement(chains, _common(chains), 5)


def test_nodes_at_different_heights_that_forked_disagree() -> None:
    # The old verdict counted any two different heights as agreement.
    chains = [_chain(30), _chain(31, block_fork_at=29)]
    assert not is_agreement(chains, _common(chains), 5)


def test_a_difference_deeper_than_the_depth_is_not_looked_at() -> None:
    chains = [_chain(40), _chain(40, block_fork_at=1)]
    assert not is_agreement(chains, 40, 5)  # a fork persists: every later height differs
    shallow = [_chain(40), StoredChain(40, {**_chain(40).hashes, 30: (b"x" * 32, b"y" * 32)})]
    assert is_agreement(shallow, 40, 5)
    assert not is_agreement(shallow, 40, 10)


def test_a_height_missing_from_a_store_disagrees() -> None:
    full = _chain(40)
    holed = StoredChain(40, {h: v for h, v in full.hashes.items() if h != 38})
    assert not is_agreement([full, holed], 40, 5)


def test_nothing_committed_is_nothing_to_disagree_on() -> None:
    assert is_agreement([StoredChain(0, {}), StoredChain(0, {})], 0, 5)
