"""LatencyHistogram: the one way rtkit records latency.

A log-linear (HDR) histogram after Gil Tene's HdrHistogram. Values are
integer nanoseconds. The range ``[lowest, highest]`` is cut into buckets that
double in width; each bucket is split into ``2 * 10**significant_figures``
(rounded up to a power of two) equal sub-buckets. So every recorded value is
kept to a *relative* precision: with 3 significant figures, any value is known
to within 0.1 %, whether it is 800 ns or 80 s, in a fixed 34,816-count array
(about 270 KiB) whatever the number of samples.

Invariant (checked by :meth:`LatencyHistogram._check`): ``count`` equals the
sum of the bucket counts, ``min <= max``, and ``overflow_count <= count``.

Why not a list of samples? Recording is O(1) and allocation-free; two
histograms add together exactly (per-thread recording, merged later); and the
percentiles of a billion samples cost the same as those of ten.

Bucket layout and percentiles follow HdrHistogram, so results equal what the
``hdrhistogram`` package reports for the same data; the tests check that. The
percentile estimator is explicit: the target rank is ``round(p * n / 100)``,
half up and at least 1 (as in HdrHistogram's C library and Python package),
and the answer is the top of the bucket holding the sample of that rank.
One deliberate difference: ``min`` and ``max`` are the exact values recorded,
not bucket bounds, because for hard real time the worst case is the number that
matters.

Seed 000 section 1 (S000-7, S000-8) and seed 002's LatencyTracker
(S002-34..38) show what goes wrong without it; lesson 00 introduces it.

Example:
    >>> h = LatencyHistogram()
    >>> for v in (1_000, 2_000, 3_000, 1_000_000):
    ...     h.record(v)
    >>> h.count, h.min, h.max
    (4, 1000, 1000000)
    >>> h.percentile(50)
    2000
    >>> h.percentile(100)   # the top of the bucket holding the max
    1000447
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros

from rtkit.errors import ConfigError, IncompatibleError, ValueRangeError, check_int

__all__ = ["DEFAULT_PERCENTILES", "LatencyHistogram", "merged"]

DEFAULT_PERCENTILES: tuple[float, ...] = (50, 90, 99, 99.9, 99.99)

# The float64 conversion used to validate float input is exact below 2**53.
_MAX_HIGHEST = 2**53


@dataclass(frozen=True)
class _Layout:
    """Bucket geometry, derived once per (lowest, highest, significant_figures)."""

    unit_magnitude: int
    sub_bucket_half_count_magnitude: int
    sub_bucket_count: int
    sub_bucket_half_count: int
    sub_bucket_mask: int
    bucket_count: int
    counts_len: int

    def counts_index(self, value: int) -> int:
        """Index of the count that ``value`` increments (pure Python, one value)."""
        bucket = (value | self.sub_bucket_mask).bit_length() - self.unit_magnitude
        bucket -= self.sub_bucket_half_count_magnitude + 1
        sub_bucket = value >> (bucket + self.unit_magnitude)
        return ((bucket + 1) << self.sub_bucket_half_count_magnitude) + (
            sub_bucket - self.sub_bucket_half_count
        )

    def value_from_index(self, index: int) -> int:
        """The lowest value that lands in count ``index``."""
        bucket = (index >> self.sub_bucket_half_count_magnitude) - 1
        sub_bucket = (index & (self.sub_bucket_half_count - 1)) + self.sub_bucket_half_count
        if bucket < 0:
            sub_bucket -= self.sub_bucket_half_count
            bucket = 0
        return sub_bucket << (bucket + self.unit_magnitude)

    def equivalent_range(self, value: int) -> tuple[int, int]:
        """``(lowest, highest)`` values indistinguishable from ``value``."""
        lowest = self.value_from_index(self.counts_index(value))
        bucket = (value | self.sub_bucket_mask).bit_length() - self.unit_magnitude
        bucket -= self.sub_bucket_half_count_magnitude + 1
        sub_bucket = value >> (bucket + self.unit_magnitude)
        if sub_bucket >= self.sub_bucket_count:
            bucket += 1
        return lowest, lowest + (1 << (self.unit_magnitude + bucket)) - 1


@lru_cache(maxsize=32)
def _layout(lowest: int, highest: int, significant_figures: int) -> _Layout:
    unit_magnitude = lowest.bit_length() - 1  # floor(log2(lowest)), exactly
    single_unit_resolution = 2 * 10**significant_figures
    sub_bucket_count_magnitude = math.ceil(math.log2(single_unit_resolution))
    half_magnitude = max(sub_bucket_count_magnitude - 1, 0)
    sub_bucket_count = 1 << (half_magnitude + 1)
    # Buckets needed so that the top one reaches past `highest`.
    smallest_untrackable = sub_bucket_count << unit_magnitude
    bucket_count = 1
    while smallest_untrackable <= highest:
        smallest_untrackable <<= 1
        bucket_count += 1
    return _Layout(
        unit_magnitude=unit_magnitude,
        sub_bucket_half_count_magnitude=half_magnitude,
        sub_bucket_count=sub_bucket_count,
        sub_bucket_half_count=sub_bucket_count // 2,
        sub_bucket_mask=(sub_bucket_count - 1) << unit_magnitude,
        bucket_count=bucket_count,
        counts_len=(bucket_count + 1) * (sub_bucket_count // 2),
    )


@lru_cache(maxsize=32)
def _bucket_values(layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per count index: the lowest and the highest equivalent value (read-only).

    Vectorised form of :meth:`_Layout.value_from_index` and
    :meth:`_Layout.equivalent_range`: index ``i`` lies in bucket
    ``(i >> half_magnitude) - 1`` (bucket 0 also owns the first half), whose
    sub-buckets are ``2**(bucket + unit_magnitude)`` wide.
    """
    index = np.arange(layout.counts_len, dtype=np.int64)
    half_mag, half = layout.sub_bucket_half_count_magnitude, layout.sub_bucket_half_count
    bucket = (index >> half_mag) - 1
    sub_bucket = (index & (half - 1)) + half
    first = bucket < 0
    sub_bucket[first] -= half
    bucket[first] = 0
    shift = bucket + layout.unit_magnitude
    lows = sub_bucket << shift
    highs = lows + (np.int64(1) << shift) - 1
    lows.flags.writeable = False
    highs.flags.writeable = False
    return lows, highs


@njit(cache=True, nogil=True)
def _record_array(counts, values, highest, unit_magnitude, half_magnitude, half_count, mask):
    """Add each of ``values`` (int64, all >= 0) to ``counts``; clamp above ``highest``.

    Returns ``(n_overflow, min, max)`` of the values after clamping. Compiled so
    that the per-value work is a handful of integer instructions.
    """
    n_overflow = 0
    vmin = highest
    vmax = 0
    for i in range(values.shape[0]):
        v = values[i]
        if v > highest:
            v = highest
            n_overflow += 1
        vmin = min(vmin, v)
        vmax = max(vmax, v)
        bucket = 64 - leading_zeros(v | mask) - unit_magnitude - (half_magnitude + 1)
        sub_bucket = v >> (bucket + unit_magnitude)
        counts[((bucket + 1) << half_magnitude) + (sub_bucket - half_count)] += 1
    return n_overflow, vmin, vmax


def _as_nonnegative_int64(values: object) -> np.ndarray:
    """Validate ``values`` and return them as a contiguous int64 array.

    Raises :class:`ValueRangeError` for NaN, infinity, fractions, booleans or
    negatives, naming the first offending position, before anything is
    recorded. Values beyond 2**53 are clamped there (above any ``highest``).
    """
    if not isinstance(values, np.ndarray):
        # A Python sequence: validate element by element, so that a stray
        # True or a huge int is judged like record() judges it, not coerced.
        items = list(values)  # type: ignore[call-overload]
        out = np.empty(len(items), np.int64)
        for i, v in enumerate(items):
            try:
                out[i] = min(_as_value(v), _MAX_HIGHEST)
            except ValueRangeError as exc:
                raise ValueRangeError(f"values[{i}]: {exc}") from None
        return out
    arr = values.ravel()
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueRangeError(f"values must be integers (nanoseconds), got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueRangeError(
                f"values must be whole nanoseconds: values[{i}] = {arr[i].item()!r} "
                "is not an integer"
            )
    if arr.dtype.kind in "if" and arr.size and arr.min() < 0:
        i = int(np.argmax(arr < 0))
        raise ValueRangeError(f"values must be >= 0: values[{i}] = {arr[i].item()!r}")
    if arr.dtype.kind == "u":
        arr = np.minimum(arr, np.uint64(_MAX_HIGHEST))
    if arr.dtype.kind == "f":
        arr = np.minimum(arr, float(_MAX_HIGHEST))
    return np.ascontiguousarray(arr, dtype=np.int64)


def _as_value(value: object) -> int:
    """Validate one recorded value: a non-negative whole number of nanoseconds."""
    if isinstance(value, bool):
        raise ValueRangeError(f"value must be an integer number of nanoseconds, got {value!r}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    elif isinstance(value, numbers.Real):
        f = float(value)
        if not math.isfinite(f) or f != math.floor(f):
            raise ValueRangeError(f"value must be a whole number of nanoseconds, got {value!r}")
        v = int(f)
    else:
        raise ValueRangeError(f"value must be an integer number of nanoseconds, got {value!r}")
    if v < 0:
        raise ValueRangeError(f"value must be >= 0, got {v}")
    return v


class LatencyHistogram:
    """An HDR histogram of latencies in integer nanoseconds.

    Args:
        lowest: smallest value to tell apart from 0 (>= 1). Values below it
            are still counted, in the lowest bucket.
        highest: largest trackable value (>= 2 * lowest, at most 2**53). A
            larger value is recorded as ``highest`` and counted in
            :attr:`overflow_count`: never dropped silently.
        significant_figures: decimal digits of precision kept for every
            value, 1 to 5. Three means each percentile is within 0.1 %.

    Not thread-safe: give each thread its own histogram and :meth:`merge`
    them, which is exact.

    Example:
        >>> import numpy as np
        >>> h = LatencyHistogram()
        >>> h.record_many(np.arange(1, 10_001))
        >>> h.percentiles((50, 99))
        {50: 5003, 99: 9903}
        >>> h.summary()["count"]
        10000
    """

    def __init__(
        self,
        lowest: int = 1,
        highest: int = 3_600_000_000_000,
        significant_figures: int = 3,
    ) -> None:
        lowest = check_int("lowest", lowest, minimum=1)
        highest = check_int("highest", highest)
        significant_figures = check_int("significant_figures", significant_figures)
        if not 1 <= significant_figures <= 5:
            raise ConfigError(f"significant_figures must be 1..5, got {significant_figures}")
        if highest < 2 * lowest:
            raise ConfigError(f"highest must be >= 2 * lowest ({2 * lowest}), got {highest}")
        if highest > _MAX_HIGHEST:
            raise ConfigError(f"highest must be <= 2**53, got {highest}")
        self.lowest = lowest
        self.highest = highest
        self.significant_figures = significant_figures
        self._layout = _layout(lowest, highest, significant_figures)
        self._counts = np.zeros(self._layout.counts_len, dtype=np.int64)
        self._total = 0
        self._min = 0
        self._max = 0
        self._overflow = 0

    # -- recording ---------------------------------------------------------

    def record(self, value: int, count: int = 1) -> None:
        """Record ``value`` nanoseconds, ``count`` times. Cost: O(1).

        Raises :class:`~rtkit.errors.ValueRangeError` for a negative, NaN or
        fractional value; the histogram is then unchanged.

        Example:
            >>> h = LatencyHistogram()
            >>> h.record(1_500, count=3)
            >>> h.count
            3
        """
        v = _as_value(value)
        count = check_int("count", count, minimum=1)
        if v > self.highest:
            v = self.highest
            self._overflow += count
        self._counts[self._layout.counts_index(v)] += count
        self._note_extremes(v, v)
        self._total += count

    def record_many(self, values: Sequence[int] | np.ndarray) -> None:
        """Record every value of an array, vectorised. Cost: O(n), compiled.

        All values are validated first: if any is negative, NaN or
        fractional, nothing is recorded and
        :class:`~rtkit.errors.ValueRangeError` names the first bad position.

        Example:
            >>> import numpy as np
            >>> h = LatencyHistogram(highest=1_000)
            >>> h.record_many(np.array([10, 20, 5_000]))
            >>> h.count, h.overflow_count, h.max
            (3, 1, 1000)
        """
        arr = _as_nonnegative_int64(values)
        if arr.size == 0:
            return
        lay = self._layout
        n_over, vmin, vmax = _record_array(
            self._counts,
            arr,
            self.highest,
            lay.unit_magnitude,
            lay.sub_bucket_half_count_magnitude,
            lay.sub_bucket_half_count,
            lay.sub_bucket_mask,
        )
        self._overflow += int(n_over)
        self._note_extremes(int(vmin), int(vmax))
        self._total += int(arr.size)

    def record_corrected(self, value: int, expected_interval: int) -> None:
        """Record ``value`` and the samples a stalled closed-loop tester missed.

        Coordinated-omission correction, with the semantics of HdrHistogram's
        ``recordValueWithExpectedInterval`` (Java, C): when ``value`` exceeds
        ``expected_interval``, the requests that would have been sent every
        ``expected_interval`` during the stall are recorded too, with
        latencies ``value - k * expected_interval`` for every k >= 1 that
        leaves at least ``expected_interval``. (The Python port of
        HdrHistogram also records the final remainder below the interval;
        rtkit follows the reference implementations.)

        Example:
            >>> h = LatencyHistogram()
            >>> h.record_corrected(1_000, expected_interval=250)
            >>> h.count      # 1000, 750, 500, 250
            4
        """
        v = _as_value(value)
        interval = check_int("expected_interval", expected_interval)
        if interval <= 0:
            self.record(v)
            return
        self.record(v)
        n_missing = max(0, v // interval - 1)
        # In chunks: a long stall over a short interval is millions of samples.
        chunk = 1 << 20
        for first in range(1, n_missing + 1, chunk):
            k = np.arange(first, min(first + chunk, n_missing + 1), dtype=np.int64)
            self.record_many(v - interval * k)

    def _note_extremes(self, vmin: int, vmax: int) -> None:
        if self._total == 0:
            self._min, self._max = vmin, vmax
        else:
            self._min = min(self._min, vmin)
            self._max = max(self._max, vmax)

    # -- queries -----------------------------------------------------------

    @property
    def count(self) -> int:
        """Number of values recorded (clamped ones included)."""
        return self._total

    @property
    def overflow_count(self) -> int:
        """How many recorded values exceeded ``highest`` and were clamped to it."""
        return self._overflow

    @property
    def min(self) -> int:
        """Smallest value recorded, exactly (0 when empty)."""
        return self._min

    @property
    def max(self) -> int:
        """Largest value recorded, exactly, after clamping (0 when empty)."""
        return self._max

    def percentile(self, p: float) -> int:
        """The value at or below which ``p`` percent of recorded values fall.

        The sample of rank ``max(1, round(p * n / 100))`` (rounded half up, as
        HdrHistogram does) is found, and the highest value equivalent to its
        bucket reported (the lowest for ``p == 0``): never below that sample
        and at most 0.1 % above it (3 significant figures). 0 when nothing
        has been recorded. Cost: O(buckets).

        Example:
            >>> h = LatencyHistogram()
            >>> h.record_many([100, 200, 300, 400])
            >>> h.percentile(75)
            300
        """
        return self.percentiles((p,))[p]

    def percentiles(self, ps: Iterable[float] = DEFAULT_PERCENTILES) -> dict[float, int]:
        """``{p: percentile(p)}`` for each ``p``, with one pass over the counts.

        Example:
            >>> h = LatencyHistogram()
            >>> h.record_many(range(1, 101))
            >>> h.percentiles((50, 90))
            {50: 50, 90: 90}
        """
        ps = list(ps)
        for p in ps:
            if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 100:
                raise ConfigError(f"percentile must be a number in [0, 100], got {p!r}")
        if self._total == 0:
            return {p: 0 for p in ps}
        cumulative = np.cumsum(self._counts)
        lows, highs = _bucket_values(self._layout)
        result: dict[float, int] = {}
        for p in ps:
            # Same float expression as HdrHistogram, so ties round identically.
            target = max(int((p * self._total / 100) + 0.5), 1)
            index = int(np.searchsorted(cumulative, target, side="left"))
            result[p] = int(highs[index] if p else lows[index])
        return result

    def _bucket_medians(self) -> tuple[np.ndarray, np.ndarray]:
        nonzero = np.flatnonzero(self._counts)
        lows, highs = _bucket_values(self._layout)
        medians = lows[nonzero] + ((highs[nonzero] - lows[nonzero] + 1) >> 1)
        return medians.astype(np.float64), self._counts[nonzero].astype(np.float64)

    @property
    def mean(self) -> float:
        """Mean of the recorded values, to the histogram's precision (0.0 when empty).

        Each bucket counts at its midpoint, as HdrHistogram does, so means of
        merged histograms are consistent. Never report it alone (S000-8).
        """
        if self._total == 0:
            return 0.0
        medians, counts = self._bucket_medians()
        return float(np.dot(medians, counts) / self._total)

    @property
    def stdev(self) -> float:
        """Population standard deviation, to the histogram's precision."""
        if self._total == 0:
            return 0.0
        medians, counts = self._bucket_medians()
        mean = float(np.dot(medians, counts) / self._total)
        return math.sqrt(float(np.dot((medians - mean) ** 2, counts)) / self._total)

    def summary(self, ps: Iterable[float] = DEFAULT_PERCENTILES) -> dict[str, float]:
        """Count, min, the percentiles ``ps`` (keys ``p50``, ``p99.9``...), max, mean, stdev.

        Example:
            >>> h = LatencyHistogram()
            >>> h.record_many([1_000] * 99 + [50_000])
            >>> s = h.summary((50, 99, 100))
            >>> s["p50"], s["p99"], s["max"]
            (1000, 1000, 50000)
        """
        out: dict[str, float] = {"count": self._total, "min": self._min}
        for p, v in self.percentiles(ps).items():
            out[f"p{p:g}"] = v
        out["max"] = self._max
        out["mean"] = self.mean
        out["stdev"] = self.stdev
        out["overflow"] = self._overflow
        return out

    def cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, fractions)``: for each non-empty bucket, its highest value and
        the fraction of samples at or below it. The data behind CDF and
        percentile-spectrum plots.

        Example:
            >>> h = LatencyHistogram()
            >>> h.record_many([10, 10, 20, 40])
            >>> values, fractions = h.cdf()
            >>> values.tolist(), fractions.tolist()
            ([10, 20, 40], [0.5, 0.75, 1.0])
        """
        nonzero = np.flatnonzero(self._counts)
        _, highs = _bucket_values(self._layout)
        cumulative = np.cumsum(self._counts[nonzero])
        fractions = cumulative / self._total if self._total else cumulative.astype(float)
        return highs[nonzero].copy(), fractions

    def buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lowest_values, counts)`` of every non-empty bucket, in value order."""
        nonzero = np.flatnonzero(self._counts)
        lows, _ = _bucket_values(self._layout)
        return lows[nonzero].copy(), self._counts[nonzero].copy()

    # -- combining ---------------------------------------------------------

    def _same_layout(self, other: object) -> LatencyHistogram:
        if not isinstance(other, LatencyHistogram):
            raise IncompatibleError(
                f"can only merge a LatencyHistogram, got {type(other).__name__}"
            )
        mine = (self.lowest, self.highest, self.significant_figures)
        theirs = (other.lowest, other.highest, other.significant_figures)
        if mine != theirs:
            raise IncompatibleError(
                f"histograms differ in (lowest, highest, significant_figures): {mine} vs {theirs}"
            )
        return other

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Add every count of ``other`` into this histogram (exact); return self.

        Both must have the same ``lowest``, ``highest`` and
        ``significant_figures``, else :class:`~rtkit.errors.IncompatibleError`
        and nothing changes.

        Example:
            >>> a, b = LatencyHistogram(), LatencyHistogram()
            >>> a.record(100); b.record(900)
            >>> a.merge(b).count, a.max
            (2, 900)
        """
        other = self._same_layout(other)
        if other._total == 0:
            return self
        self._counts += other._counts
        self._note_extremes(other._min, other._max)
        self._total += other._total
        self._overflow += other._overflow
        return self

    def __iadd__(self, other: LatencyHistogram) -> LatencyHistogram:
        return self.merge(other)

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        self._same_layout(other)
        return self.copy().merge(other)

    def copy(self) -> LatencyHistogram:
        """An independent histogram with the same configuration and counts."""
        twin = LatencyHistogram(self.lowest, self.highest, self.significant_figures)
        twin._counts[:] = self._counts
        twin._total, twin._min, twin._max = self._total, self._min, self._max
        twin._overflow = self._overflow
        return twin

    def reset(self) -> None:
        """Forget every recorded value; keep the configuration."""
        self._counts[:] = 0
        self._total = self._min = self._max = self._overflow = 0

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        assert self._total == int(self._counts.sum()), "count != sum of bucket counts"
        assert (self._counts >= 0).all(), "negative bucket count"
        assert self._overflow <= self._total, "more overflows than values"
        if self._total:
            assert 0 <= self._min <= self._max <= self.highest, "min/max out of order"
            nonzero = np.flatnonzero(self._counts)
            lay = self._layout
            assert lay.counts_index(self._min) == nonzero[0], "min not in lowest bucket"
            assert lay.counts_index(self._max) == nonzero[-1], "max not in highest bucket"
        else:
            assert self._min == self._max == 0, "empty histogram with extremes"

    def __len__(self) -> int:
        return self._total

    def __repr__(self) -> str:
        if not self._total:
            return "LatencyHistogram(count=0)"
        p = self.percentiles((50, 99))
        return (
            f"LatencyHistogram(count={self._total}, min={self._min}, p50={p[50]}, "
            f"p99={p[99]}, max={self._max})"
        )


def merged(histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
    """One new histogram holding every count of ``histograms`` (exact).

    The pattern for threads: each records into its own histogram, with no
    lock on the hot path, and a reader merges them. An empty iterable gives
    an empty default histogram.

    Example:
        >>> parts = [LatencyHistogram() for _ in range(3)]
        >>> for i, h in enumerate(parts):
        ...     h.record(1_000 * (i + 1))
        >>> merged(parts).count, merged(parts).max
        (3, 3000)
    """
    parts = list(histograms)
    total = parts[0].copy() if parts else LatencyHistogram()
    for h in parts[1:]:
        total.merge(h)
    return total
