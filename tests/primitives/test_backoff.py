"""The one backoff: growth, cap, jitter from the injected random, and the pure count form."""

from __future__ import annotations

import pytest

from primitives.backoff import Backoff

# Moved with the code from tests/ami_listener/test_units.py (the AMI reconnects use it).


def test_backoff_doubles_to_the_maximum_and_resets() -> None:
    backoff = Backoff(1.0, 60.0, jitter=0.2, random=lambda: 0.5)  # 0.5: no jitter
    assert [backoff.next_delay() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_backoff_jitter_spreads_both_ways() -> None:
    assert Backoff(10.0, 60.0, jitter=0.2, random=lambda: 0.0).next_delay() == pytest.approx(8.0)
    assert Backoff(10.0, 60.0, jitter=0.2, random=lambda: 1.0).next_delay() == pytest.approx(12.0)


def test_backoff_survives_a_very_long_outage() -> None:
    backoff = Backoff(1.0, 60.0, jitter=0.0, random=lambda: 0.5)
    for _ in range(10_000):
        delay = backoff.next_delay()
    assert delay == 60


# The pure form, for callers that keep the count themselves.


def test_delay_for_gives_what_next_delay_gives_without_jitter() -> None:
    stateful = Backoff(30.0, 900.0)
    pure = Backoff(30.0, 900.0)
    for failures in range(1, 12):
        assert stateful.next_delay() == pure.delay_for(failures)
    assert stateful.failures == 11


@pytest.mark.parametrize(
    ("initial", "maximum", "counts", "delays"),
    [
        # the outbox: retry_backoff 30 s doubling per attempt up to retry_backoff_max 900 s
        (30.0, 900.0, [1, 2, 3, 5, 6, 7], [30, 60, 120, 480, 900, 900]),
        # the inbox's sender lookups: 30 s doubling up to 120 s
        (30.0, 120.0, [1, 2, 3, 4], [30, 60, 120, 120]),
        # Telegram 5xx: 1, 2, 4, 8 s … up to 60 s
        (1.0, 60.0, [1, 2, 3, 4, 7, 8], [1, 2, 4, 8, 60, 60]),
    ],
)
def test_delay_for_counts(
    initial: float, maximum: float, counts: list[int], delays: list[float]
) -> None:
    backoff = Backoff(initial, maximum)
    assert [backoff.delay_for(n) for n in counts] == delays


def test_the_maximum_wins_even_below_initial() -> None:
    """A setting of retry_backoff 30 with retry_backoff_max 10 has always meant 10 s."""
    backoff = Backoff(30.0, 10.0)
    assert [backoff.delay_for(n) for n in (1, 2, 3)] == [10, 10, 10]


def test_huge_counts_and_factors_do_not_overflow() -> None:
    assert Backoff(1.0, 60.0).delay_for(10**9) == 60
    assert Backoff(1.0, 60.0, factor=1e10).delay_for(100) == 60
    assert Backoff(0.0, 60.0).delay_for(50) == 0
    assert Backoff(1.0, 60.0).delay_for(0) == 1  # nothing failed yet: counts as the first


def test_fixed_is_the_same_delay_every_time() -> None:
    backoff = Backoff.fixed(5.0)
    assert [backoff.next_delay() for _ in range(4)] == [5, 5, 5, 5]


@pytest.mark.parametrize(
    "arguments",
    [
        {"initial": -1.0, "maximum": 1.0},
        {"initial": 1.0, "maximum": -1.0},
        {"initial": 1.0, "maximum": 2.0, "factor": 0.5},
        {"initial": 1.0, "maximum": 2.0, "jitter": 1.5},
    ],
)
def test_nonsense_is_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**arguments)  # type: ignore[arg-type]
