"""Exercises for lesson 00 (measuring time honestly): percentiles and coordinated omission.

Each exercise is registered in the catalog at import. Its public tests call
the learner's function on small, hand-worked inputs and fail with a message
that names the call and says what *kind* of result was wrong, never the
expected value: the call is printed so that the learner can reproduce it,
and the expected answer is left for them to work out.

Invariant (``tests/test_exercise_content.py``): the reference answers in
``solutions/00_exercises.ipynb`` pass every public and hidden test, and
plausible wrong answers (banker's rounding, a ceiling rank, a correction that
keeps the remainder) fail at least one public test.

Example:
    >>> from rtkit.grading import catalog
    >>> [e.id for e in catalog.all_exercises("00")]
    ['00.percentile-from-buckets', '00.co-correction']
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rtkit.grading._checks import is_int
from rtkit.grading.catalog import Exercise, register, test

__all__ = ["call_repr"]

_MAX_SHOWN = 8  # longer sequences are elided in messages


def _arg_repr(arg: object) -> str:
    if isinstance(arg, np.ndarray):
        arg = arg.tolist()
    if isinstance(arg, (list, tuple)) and len(arg) > _MAX_SHOWN:
        head = ", ".join(repr(x) for x in arg[:3])
        return f"[{head}, ... ({len(arg)} values)]"
    return repr(arg)


def call_repr(name: str, *args: object) -> str:
    """The call a test made, as a learner can paste it into a cell.

    Example:
        >>> call_repr("f", [1, 2], 50)
        'f([1, 2], 50)'
        >>> call_repr("f", list(range(100)))
        'f([0, 1, 2, ... (100 values)])'
    """
    return f"{name}({', '.join(_arg_repr(a) for a in args)})"


# -- 00.percentile-from-buckets ---------------------------------------------

PERCENTILE = "percentile_from_buckets"


def _percentile(f: Callable, values: list, counts: list, p: float) -> tuple[str, object]:
    call = call_repr(PERCENTILE, values, counts, p)
    try:
        got = f(values, counts, p)
    except ZeroDivisionError:
        raise AssertionError(
            f"{call} divided by zero: when no sample has been recorded, n is 0; "
            "handle that case before computing a rank"
        ) from None
    if not is_int(got):
        raise AssertionError(
            f"{call} returned a {type(got).__name__}, not an int: a percentile here is "
            "one of the bucket values, a whole number of nanoseconds"
        )
    return call, got


def _expect_bucket(call: str, got: object, expected: int, values: list, counts: list) -> None:
    if got == expected:
        return
    if got not in values:
        raise AssertionError(f"{call} returned a number that is not one of the bucket values")
    if counts[values.index(got)] == 0:
        raise AssertionError(f"{call} returned the value of a bucket that holds no samples")
    side = "below" if got < expected else "above"
    raise AssertionError(
        f"{call} returned a bucket {side} the one holding the sample that the rank rule "
        "picks (ranks count samples from the smallest, starting at one)"
    )


@test("returns an int, one of the bucket values")
def _percentile_returns_int(f):
    call, got = _percentile(f, [100, 200, 300, 400], [1, 1, 1, 1], 50)
    if got not in (100, 200, 300, 400):
        raise AssertionError(f"{call} returned a number that is not one of the bucket values")


@test("every percentile of a single bucket is that bucket's value")
def _percentile_single_bucket(f):
    for p in (0, 1, 50, 99.9, 100):
        call, got = _percentile(f, [7_000], [12], p)
        _expect_bucket(call, got, 7_000, [7_000], [12])


@test("one sample per bucket: p0, p50, p75 and p100")
def _percentile_one_each(f):
    values, counts = [100, 200, 300, 400], [1, 1, 1, 1]
    for p, expected in ((50, 200), (75, 300), (100, 400), (0, 100)):
        call, got = _percentile(f, values, counts, p)
        _expect_bucket(call, got, expected, values, counts)


@test("a rank exactly half-way between two samples rounds up")
def _percentile_half_up(f):
    values, counts = [10, 20, 30, 40, 50], [1, 1, 1, 1, 1]
    for p, expected in ((50, 30), (90, 50)):
        call, got = _percentile(f, values, counts, p)
        if got != expected and got in values and got < expected:
            raise AssertionError(
                f"{call} returned the sample one rank too low: p*n/100 is exactly half-way "
                "between two ranks here, and the rule rounds half-way up (Python's round() "
                "rounds half-way to the even neighbour)"
            )
        _expect_bucket(call, got, expected, values, counts)


@test("buckets holding several samples, and empty buckets")
def _percentile_counts(f):
    values, counts = [1_000, 2_000, 3_000, 4_000], [3, 0, 5, 2]
    for p, expected in ((30, 1_000), (31, 1_000), (35, 3_000), (81, 3_000), (85, 4_000)):
        call, got = _percentile(f, values, counts, p)
        _expect_bucket(call, got, expected, values, counts)


@test("no samples at all")
def _percentile_empty(f):
    for values, counts in (([], []), ([100, 200], [0, 0])):
        call, got = _percentile(f, values, counts, 99)
        if got != 0:
            raise AssertionError(
                f"{call} did not return what the question asks for when nothing was recorded"
            )


register(
    Exercise(
        id="00.percentile-from-buckets",
        lesson="00",
        title="A percentile from histogram buckets",
        difficulty=1,
        target=PERCENTILE,
        hints=(
            "A percentile is a rank: first work out how many samples there are in total and "
            "which one (counting from the smallest) the rank rule picks.",
            "Python's round() rounds 2.5 to 2 (half-way to the even neighbour). The rule here "
            "rounds half-way up: adding one half and taking the floor does that for positive "
            "numbers. Do not forget the max(1, ...).",
            "Walk the buckets in order, keeping a running total of the counts; the answer is "
            "the value of the first bucket at which the running total reaches the rank. "
            "Empty buckets never reach it first, and with no samples there is no rank at all.",
        ),
        tests=(
            _percentile_returns_int,
            _percentile_single_bucket,
            _percentile_one_each,
            _percentile_half_up,
            _percentile_counts,
            _percentile_empty,
        ),
        seed_ids=("S002-36",),
    )
)


# -- 00.co-correction ----------------------------------------------------------

CORRECTION = "corrected_samples"


def _corrected(f: Callable, latency_ns: int, interval_ns: int) -> tuple[str, list]:
    call = call_repr(CORRECTION, latency_ns, interval_ns)
    got = f(latency_ns, interval_ns)
    if got is None:
        raise AssertionError(f"{call} returned None: return the list of samples")
    try:
        samples = list(got)
    except TypeError:
        raise AssertionError(
            f"{call} returned a {type(got).__name__}, not a list of samples"
        ) from None
    if not all(is_int(s) for s in samples):
        raise AssertionError(f"{call} returned samples that are not all ints (nanoseconds)")
    return call, samples


def _expect_samples(call: str, got: list, latency_ns: int, interval_ns: int) -> None:
    expected = [latency_ns]
    if interval_ns > 0:
        expected += list(range(latency_ns - interval_ns, interval_ns - 1, -interval_ns))
    if sorted(got) == sorted(expected):
        return
    if latency_ns not in got:
        raise AssertionError(f"{call} left out the measured value itself")
    if len(got) != len(set(got)):
        raise AssertionError(f"{call} recorded the same sample more than once")
    if interval_ns > 0 and any(s < interval_ns for s in got if s != latency_ns):
        raise AssertionError(
            f"{call} added a sample smaller than the expected interval: a request that would "
            "have been sent during the stall waited at least one interval (the remainder "
            "is not recorded)"
        )
    if interval_ns > 0 and any((latency_ns - s) % interval_ns for s in got):
        raise AssertionError(
            f"{call} added a sample that is not the value minus a whole number of intervals"
        )
    if len(got) < len(expected):
        raise AssertionError(f"{call} left out some of the requests the stall held back")
    raise AssertionError(f"{call} added more samples than the stall held back")


@test("returns a list of int samples, the value included")
def _correction_returns_list(f):
    call, got = _corrected(f, 1_000, 250)
    if 1_000 not in got:
        raise AssertionError(f"{call} left out the measured value itself")


@test("a latency within one interval is recorded alone")
def _correction_short(f):
    for latency, interval in ((100, 250), (250, 250), (0, 250)):
        call, got = _corrected(f, latency, interval)
        _expect_samples(call, got, latency, interval)


@test("a stall of a whole number of intervals")
def _correction_exact(f):
    for latency, interval in ((1_000, 250), (500, 250), (3_000_000, 1_000_000)):
        call, got = _corrected(f, latency, interval)
        _expect_samples(call, got, latency, interval)


@test("a stall that is not a whole number of intervals: no remainder sample")
def _correction_remainder(f):
    for latency, interval in ((1_100, 250), (749, 250), (1_999_999, 1_000_000)):
        call, got = _corrected(f, latency, interval)
        _expect_samples(call, got, latency, interval)


@test("an interval of 0 or less means no correction")
def _correction_no_interval(f):
    for latency, interval in ((5_000, 0), (5_000, -1_000)):
        call, got = _corrected(f, latency, interval)
        if sorted(got) != [latency]:
            raise AssertionError(
                f"{call} added samples: with no positive interval there is nothing to correct, "
                "so only the measured value is recorded"
            )


@test("a long stall over a short interval")
def _correction_long(f):
    latency, interval = 2_000_000_000, 100_000
    call, got = _corrected(f, latency, interval)
    _expect_samples(call, got, latency, interval)


register(
    Exercise(
        id="00.co-correction",
        lesson="00",
        title="Coordinated-omission correction, by hand",
        difficulty=2,
        target=CORRECTION,
        hints=(
            "Picture the closed-loop tester during the stall: it meant to send one request "
            "every interval but sent none. How long would each of those missing requests "
            "have waited by the time the server answered?",
            "The first missing request was due one interval after the measured one, so it "
            "waited one interval less; the next, two intervals less; and so on. Stop before "
            "a wait would drop below one interval: that leftover is not recorded.",
            "Deal with an interval of 0 or less first (return just the value, or the loop "
            "never ends). Then start from the value minus one interval and keep subtracting "
            "the interval while what is left is at least the interval, collecting each one "
            "after the value itself.",
        ),
        tests=(
            _correction_returns_list,
            _correction_short,
            _correction_exact,
            _correction_remainder,
            _correction_no_interval,
            _correction_long,
        ),
        seed_ids=("S000-16", "S002-48", "S002-49"),
    )
)
