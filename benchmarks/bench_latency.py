"""Benchmark: rtkit LatencyHistogram.record_many against the hdrhistogram package.

Both record the same seeded, lognormal-ish int64 latencies into a histogram of
the same configuration (1 ns .. 1 h, 3 significant figures):

* rtkit: one vectorised ``record_many(values)`` call (numba-compiled loop);
* hdrhistogram (the pure-Python port of HdrHistogram): ``record_value`` once
  per value, which is how that package records. It is slow, so it is timed on
  a prefix of the values.

Then the precision check: the percentiles of rtkit's histogram over that
prefix must equal the oracle's, else the script exits with status 1.

Not part of the test suite; ``make bench`` runs it. Usage:

    python benchmarks/bench_latency.py [--n 10000000] [--repeat 3] [--prefix 1000000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version

import numba
import numpy as np
from hdrh.histogram import HdrHistogram

from rtkit.latency import LatencyHistogram, _record_array

CONFIG = (1, 3_600_000_000_000, 3)  # lowest, highest, significant figures
CHECK_PERCENTILES = (50, 90, 99, 99.9, 99.99, 100)


def latencies(n: int, seed: int) -> np.ndarray:
    """``n`` int64 latencies: lognormal body (median 20 us) plus 0.1 % stalls near 5 ms."""
    rng = np.random.default_rng(seed)
    body = rng.lognormal(mean=np.log(20_000), sigma=0.6, size=n)
    stalls = rng.random(n) < 0.001
    body[stalls] = rng.lognormal(mean=np.log(5_000_000), sigma=0.5, size=int(stalls.sum()))
    return np.clip(np.rint(body), 1, CONFIG[1]).astype(np.int64)


def rates(seconds: list[float], n: int) -> tuple[float, float, float]:
    """(min, median, max) values/s from per-repeat times."""
    per_s = [n / s for s in seconds]
    return min(per_s), statistics.median(per_s), max(per_s)


def fmt_rate(r: float) -> str:
    return f"{r / 1e6:10.2f} M values/s"


def print_rates(label: str, seconds: list[float], n: int) -> float:
    lo, med, hi = rates(seconds, n)
    print(f"  {label}")
    print(f"    min    {fmt_rate(lo)}")
    print(f"    median {fmt_rate(med)}")
    print(f"    max    {fmt_rate(hi)}")
    return med


def time_rtkit(values: np.ndarray, repeat: int) -> tuple[list[float], LatencyHistogram]:
    seconds, h = [], LatencyHistogram(*CONFIG)
    for _ in range(repeat):
        h = LatencyHistogram(*CONFIG)
        t0 = time.perf_counter()
        h.record_many(values)
        seconds.append(time.perf_counter() - t0)
    return seconds, h


def time_hdrhistogram(values: list[int], repeat: int) -> tuple[list[float], HdrHistogram]:
    seconds, oracle = [], HdrHistogram(*CONFIG)
    for _ in range(repeat):
        oracle = HdrHistogram(*CONFIG)
        record_value = oracle.record_value
        t0 = time.perf_counter()
        for v in values:
            record_value(v)
        seconds.append(time.perf_counter() - t0)
    return seconds, oracle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="values for rtkit")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats of each side")
    parser.add_argument(
        "--prefix", type=int, default=1_000_000, help="values for hdrhistogram (a prefix)"
    )
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeat < 1 or args.prefix < 1:
        parser.error("--n, --repeat and --prefix must be >= 1")
    prefix_n = min(args.prefix, args.n)

    print("LatencyHistogram.record_many vs hdrhistogram record_value")
    print(
        f"environment: python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}, hdrhistogram {version('hdrhistogram')}, "
        f"{os.cpu_count()} CPUs ({platform.machine()}, {platform.system()})"
    )
    values = latencies(args.n, args.seed)
    print(
        f"data: {args.n:,} lognormal-ish int64 latencies (seed {args.seed}), "
        f"min {values.min():,} ns, median {int(np.median(values)):,} ns, "
        f"max {values.max():,} ns"
    )
    print(
        f"histogram: lowest={CONFIG[0]}, highest={CONFIG[1]:,}, "
        f"significant_figures={CONFIG[2]}; {args.repeat} timed repeats per side"
    )
    print()

    # Warm-up: the first call compiles the numba kernel, or loads it from the
    # on-disk cache; either way it is a one-off cost kept out of the timings.
    t0 = time.perf_counter()
    LatencyHistogram(*CONFIG).record_many(values[:1_000])
    warmup_s = time.perf_counter() - t0
    stats = _record_array.stats
    how = "loaded from numba's on-disk cache" if stats.cache_hits else "JIT-compiled"
    print(f"rtkit warm-up, first call on 1,000 values ({how}): {warmup_s:.3f} s, not timed below")

    rtkit_seconds, _ = time_rtkit(values, args.repeat)
    rtkit_median = print_rates(
        f"rtkit record_many, one call on all {args.n:,} values:", rtkit_seconds, args.n
    )

    prefix = values[:prefix_n]
    prefix_list = prefix.tolist()  # Python ints, as the package records them; not timed
    hdr_seconds, oracle = time_hdrhistogram(prefix_list, args.repeat)
    hdr_median = print_rates(
        f"hdrhistogram record_value, per-value loop on the first {prefix_n:,} values only "
        "(it is too slow for all):",
        hdr_seconds,
        prefix_n,
    )
    print()
    print(
        f"ratio of median rates, rtkit / hdrhistogram: {rtkit_median / hdr_median:,.0f}x "
        "(values/s; rtkit vectorised over an array vs the package's per-value API)"
    )
    print()

    h = LatencyHistogram(*CONFIG)
    h.record_many(prefix)
    ours = h.percentiles(CHECK_PERCENTILES)
    theirs = oracle.get_percentile_to_value_dict(list(CHECK_PERCENTILES))
    print(f"percentiles over the {prefix_n:,}-value prefix (ns):")
    print(f"  {'p':>7} {'rtkit':>12} {'hdrhistogram':>14}")
    for p in CHECK_PERCENTILES:
        mark = "" if ours[p] == theirs.get(p) else "   <-- differs"
        print(f"  {p:>7g} {ours[p]:>12,} {theirs.get(p, 0):>14,}{mark}")
    same_counts = np.array_equal(h._counts, np.ctypeslib.as_array(oracle.counts))
    if all(ours[p] == theirs.get(p) for p in CHECK_PERCENTILES) and same_counts:
        print("precision check: identical percentiles (and identical bucket counts)")
        return 0
    print("precision check: FAILED, percentiles or bucket counts differ from hdrhistogram")
    return 1


if __name__ == "__main__":
    sys.exit(main())
