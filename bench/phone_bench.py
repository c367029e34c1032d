"""Phone normalisation per call: the bench's random callers (each number new to the memo)
and a repeated-caller mix (the memo's case), with and without the plain-digit shortcut.

    python bench/phone_bench.py
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from bench_billing import callers

from primitives.phones import PhoneNormaliser


def _per_call(make: Callable[[], PhoneNormaliser], numbers: list[str]) -> float:
    """Median over 3 rounds of µs per normalise(), a fresh normaliser each round."""
    rounds = []
    for _ in range(3):
        phones = make()
        start = time.process_time()
        for number in numbers:
            phones.normalise(number)
        rounds.append((time.process_time() - start) / len(numbers) * 1e6)
    return statistics.median(rounds)


def _without_shortcut() -> PhoneNormaliser:
    phones = PhoneNormaliser()
    phones._plain = None
    return phones


def main() -> None:
    fresh = [c.callerid for c in callers(20_000, 20_000, seed=3)]
    rng = random.Random(4)
    regulars = fresh[:500]
    repeated = [rng.choice(regulars) for _ in range(20_000)]  # 500 callers, 40 calls each
    for name, numbers in (("bench's random callers", fresh), ("500 repeating callers", repeated)):
        before = _per_call(_without_shortcut, numbers)
        after = _per_call(PhoneNormaliser, numbers)
        print(f"{name:24} parse {before:6.1f} µs/call, shortcut {after:6.1f} µs/call")


if __name__ == "__main__":
    main()
