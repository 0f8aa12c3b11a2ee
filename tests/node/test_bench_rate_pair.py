"""``depochain bench --then-rate-fraction F``: the second run offers F times what the max-rate
run committed; a fraction outside (0, 1), or with --rate / --attack, is refused up front."""

from __future__ import annotations

import pytest

from node.bench.rate_pair import second_rate
from node.cli import main


def test_the_second_run_offers_the_fraction_of_what_the_first_committed() -> None:
    assert second_rate({"committed_tx_per_s": 1500.0}, 0.8) == pytest.approx(1200.0)
    assert second_rate({"committed_tx_per_s": 10.0}, 0.5) == pytest.approx(5.0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2])
def test_a_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError):
        second_rate({"committed_tx_per_s": 1500.0}, fraction)


def test_a_first_run_that_committed_nothing_gives_no_rate() -> None:
    with pytest.raises(RuntimeError):
        second_rate({"committed_tx_per_s": 0.0}, 0.8)


@pytest.mark.parametrize(
    "extra",
    [["--then-rate-fraction", "1.2"], ["--then-rate-fraction", "0.8", "--rate", "100"],
     ["--then-rate-fraction", "0.8", "--attack"]],
)  # fmt: skip
def test_the_command_refuses_what_it_cannot_run(
    extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *extra]) == 2
    assert "--then-rate-fraction" in capsys.readouterr().err
