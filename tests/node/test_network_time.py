"""Network-adjusted time: the node runs on its clock plus the median of its peers' clock
offsets, so a node whose clock is wrong follows the network and a minority of wrong (or lying)
peers cannot move an honest node's time."""

from __future__ import annotations

import pytest

from consensus.types import TimestampMs
from node.clock import CLOCK_SKEW_ENV, SkewedClock, SystemClock, system_clock_from_env
from node.gossip import StatusPayload, decode_gossip, encode_gossip
from node.network_time import CORRECTION_MAX_MS, WINDOW_S, NetworkTime

MINUTE = 60_000
DEADBAND = 250


class HandClock:
    """A clock the test moves by hand (wall and monotonic)."""

    def __init__(self, wall_ms: int = 1_000_000) -> None:
        self.wall_ms = wall_ms
        self.mono_s = 0.0

    def now_ms(self) -> TimestampMs:
        return TimestampMs(self.wall_ms)

    def monotonic_s(self) -> float:
        return self.mono_s


def _network(own_skew_ms: int, peer_skews_ms: list[int]) -> NetworkTime:
    """A node whose clock is ``own_skew_ms`` off true time, hearing peers ``peer_skews_ms`` off."""
    true_ms = 1_000_000
    base = HandClock(true_ms + own_skew_ms)
    network = NetworkTime(base, DEADBAND)
    for index, skew in enumerate(peer_skews_ms):
        network.observe(bytes([index]) * 32, true_ms + skew)
    return network


def test_an_honest_node_is_not_moved_by_two_peers_a_minute_off_either_way() -> None:
    network = _network(0, [0, MINUTE, -MINUTE])
    assert network.offset_ms == 0


def test_a_node_a_minute_ahead_follows_the_network() -> None:
    network = _network(MINUTE, [0, 0, -MINUTE])
    assert network.offset_ms == -MINUTE
    assert network.now_ms() == 1_000_000
    assert network.system_ms() == 1_000_000 + MINUTE  # what it tells peers: its raw clock


def test_a_node_a_minute_behind_follows_the_network() -> None:
    assert _network(-MINUTE, [0, 0, MINUTE]).offset_ms == MINUTE


def test_small_offsets_are_left_alone() -> None:
    assert _network(0, [DEADBAND, DEADBAND, -10]).offset_ms == 0
    assert _network(0, [DEADBAND + 1, DEADBAND + 1, 0]).offset_ms == DEADBAND + 1


def test_the_least_delayed_sample_of_a_peer_counts() -> None:
    """A status queued behind a big block arrives late: its offset looks negative. The largest
    offset of the window is the one with the least delay."""
    base = HandClock()
    network = NetworkTime(base, DEADBAND)
    peers = [bytes([i]) * 32 for i in range(3)]
    for delay_ms in (2_000, 3_000, 0, 1_500):
        for peer in peers:
            network.observe(peer, base.wall_ms - delay_ms)
    assert network.estimates_ms() == dict.fromkeys(peers, 0)
    assert network.offset_ms == 0


def test_samples_expire_after_the_window() -> None:
    base = HandClock()
    network = NetworkTime(base, DEADBAND)
    for i in range(3):
        network.observe(bytes([i]) * 32, base.wall_ms + MINUTE)
    assert network.offset_ms == MINUTE
    base.mono_s += WINDOW_S + 1
    network.observe(b"\x09" * 32, base.wall_ms)
    assert network.offset_ms == 0


def test_a_median_beyond_ten_minutes_is_not_followed() -> None:
    far = CORRECTION_MAX_MS + 1
    assert _network(0, [far, far, far]).offset_ms == 0


def test_status_messages_carry_the_clock_and_older_ones_still_decode() -> None:
    payload = StatusPayload(12, 1_700_000_000_123)
    assert decode_gossip(encode_gossip(payload)) == payload
    assert decode_gossip(encode_gossip(StatusPayload(12))) == StatusPayload(12)


def test_the_test_only_skew_comes_from_the_environment() -> None:
    assert isinstance(system_clock_from_env({}), SystemClock)
    skewed = system_clock_from_env({CLOCK_SKEW_ENV: "-60000"})
    assert isinstance(skewed, SkewedClock) and skewed.skew_ms == -MINUTE
    with pytest.raises(ValueError, match=CLOCK_SKEW_ENV):
        system_clock_from_env({CLOCK_SKEW_ENV: "soon"})
