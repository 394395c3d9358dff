"""Hidden tests for lesson 00's exercises. Instructors only: never ship this file.

``rtkit grade ... --hidden-tests instructor/hidden_tests`` runs them after the
public tests. They hold each answer to the library it imitates:
``percentile_from_buckets`` to :meth:`rtkit.LatencyHistogram.percentile` and
``corrected_samples`` to :meth:`rtkit.LatencyHistogram.record_corrected`, on
seeded data, so the results are the same on every machine. Messages follow
the public tests' rule: they say what was called and what kind of result was
wrong, never the expected value (graded students read them in their feedback).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from rtkit.grading.catalog import PublicTest, test
from rtkit.latency import LatencyHistogram

PERCENTILES = (0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100)


def _seeded_histogram(n: int, seed: int) -> LatencyHistogram:
    rng = np.random.default_rng(seed)
    h = LatencyHistogram()
    h.record_many(np.rint(rng.lognormal(np.log(100_000), 1.5, size=n)).astype(np.int64))
    return h


def _unambiguous(p: float, n: int) -> bool:
    # Keep (p, n) whose rank every reasonable float expression of p*n/100 rounds alike:
    # either far from a half-way point, or exactly half-way with p*n/100 exact in binary.
    exact = Fraction(str(p)) * n / 100
    distance = abs(exact - (exact.numerator // exact.denominator) - Fraction(1, 2))
    return distance > Fraction(1, 10**6) or exact.denominator == 2


@test("agrees with LatencyHistogram.percentile on seeded samples (lists and numpy arrays)")
def _percentile_matches_histogram(f):
    for n, seed in ((1, 1), (7, 2), (1_000, 3), (9_973, 4), (100_000, 5)):
        h = _seeded_histogram(n, seed)
        lows, counts = h.buckets()
        highs, _ = h.cdf()  # LatencyHistogram reports a bucket's highest value for p > 0
        for p in PERCENTILES:
            if not _unambiguous(p, n):
                continue
            values = lows if p == 0 else highs
            as_lists = n % 2 == 1
            args = (values.tolist(), counts.tolist()) if as_lists else (values, counts)
            if f(*args, p) != h.percentile(p):
                kind = "lists" if as_lists else "numpy arrays"
                raise AssertionError(
                    f"percentile_from_buckets(...) on the buckets of {n} seeded lognormal samples "
                    f"(as {kind}), p={p!r}: disagrees with LatencyHistogram.percentile"
                )


@test("percentiles never decrease as p grows")
def _percentile_monotone(f):
    h = _seeded_histogram(5_000, 6)
    lows, counts = h.buckets()
    previous = None
    for p in np.arange(0, 100.5, 0.5).tolist():
        got = f(lows.tolist(), counts.tolist(), p)
        if previous is not None and got < previous:
            raise AssertionError(
                f"percentile_from_buckets(...) on 5000 seeded samples: p={p!r} gave a smaller "
                "value than a lower p"
            )
        previous = got


@test("huge counts: half-way ranks still round up")
def _percentile_huge_counts(f):
    values, counts = [1_000, 2_000, 3_000], [10**12, 1, 10**12]
    for p, expected in ((50, 2_000), (100, 3_000), (0, 1_000)):
        if f(values, counts, p) != expected:
            raise AssertionError(
                f"percentile_from_buckets({values!r}, [10**12, 1, 10**12], {p!r}) picked the "
                "wrong bucket (with counts this large, keep the arithmetic exact enough)"
            )


def _histogram_of(samples: object) -> tuple[list, list]:
    h = LatencyHistogram()
    h.record_many(list(samples))  # type: ignore[call-overload]
    lows, counts = h.buckets()
    return lows.tolist(), counts.tolist()


@test("agrees with LatencyHistogram.record_corrected on seeded stalls")
def _correction_matches_histogram(f):
    rng = np.random.default_rng(7)
    cases = [
        (int(v), int(i))
        for v, i in zip(
            rng.integers(0, 5_000_000, size=40), rng.integers(1, 400_000, size=40), strict=True
        )
    ]
    cases += [(0, 1), (1, 1), (2, 1), (999_999, 1_000), (1_000_000, 1_000), (7, 0), (7, -3)]
    for latency, interval in cases:
        reference = LatencyHistogram()
        reference.record_corrected(latency, interval)
        expected = reference.buckets()
        got = _histogram_of(f(latency, interval))
        if got != (expected[0].tolist(), expected[1].tolist()):
            raise AssertionError(
                f"corrected_samples({latency!r}, {interval!r}) records different samples "
                "from LatencyHistogram.record_corrected"
            )


@test("a one-second stall over a 1 µs interval")
def _correction_huge(f):
    latency, interval = 1_000_000_000, 1_000
    got = list(f(latency, interval))
    k = latency // interval  # samples: latency - j * interval for j = 0 .. k - 1
    if len(got) != k or sum(got) != k * latency - interval * (k - 1) * k // 2:
        raise AssertionError(
            f"corrected_samples({latency!r}, {interval!r}) did not record one sample for each "
            "request the stall held back, and only those"
        )


HIDDEN: dict[str, list[PublicTest]] = {
    "00.percentile-from-buckets": [
        _percentile_matches_histogram,
        _percentile_monotone,
        _percentile_huge_counts,
    ],
    "00.co-correction": [_correction_matches_histogram, _correction_huge],
}
