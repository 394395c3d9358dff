"""Exercise content: right answers pass, plausible wrong ones fail, and messages keep the secret.

For every exercise in the catalog:

* the reference answer (the solution notebook's answer cell, executed here,
  so the catalog and the notebooks cannot drift apart) passes every public
  test and every hidden test in ``instructor/hidden_tests/``;
* the stub that ``rtkit author build`` puts in its place fails every public
  test as "not implemented yet";
* at least two plausible wrong answers (the seed's own mistakes among them)
  each fail at least one public test, with a message that names the call
  and does not contain the expected value;
* its hints are tiered, the first a nudge with no code in it;
* its solution notebook follows the conventions the grader relies on.
"""

from __future__ import annotations

import importlib.util
import math
import numbers
import re
import struct
import sys
import zlib
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from pathlib import Path

import nbformat
import numpy as np
import pytest

from rtkit.grading import catalog
from rtkit.grading.author import BEGIN, END, strip_solution
from rtkit.grading.learner import run_tests

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
HIDDEN_TESTS = ROOT / "instructor" / "hidden_tests"

EXERCISES = catalog.all_exercises()
IDS = [e.id for e in EXERCISES]
LESSONS = sorted({e.lesson for e in EXERCISES})


def _role(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("rtkit", {}).get("role")


def _notebook(lesson: str) -> nbformat.NotebookNode:
    return nbformat.read(SOLUTIONS / f"{lesson}_exercises.ipynb", as_version=4)


def _run_cells(lesson: str, stubbed: bool) -> dict:
    """Execute a solution notebook's code cells (not its check cells) in a fresh namespace."""
    namespace: dict = {"__name__": f"solutions_{lesson}"}
    for cell in _notebook(lesson).cells:
        if cell.cell_type != "code" or _role(cell) == "check":
            continue
        code = strip_solution(cell.source) if stubbed else cell.source
        exec(compile(code, f"{lesson}_exercises.ipynb", "exec"), namespace)
    return namespace


@cache
def _reference(exercise_id: str) -> object:
    ex = catalog.get(exercise_id)
    return _run_cells(ex.lesson, stubbed=False)[ex.target]


@cache
def _hidden() -> dict[str, list]:
    tests: dict[str, list] = {}
    for path in sorted(HIDDEN_TESTS.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"_hidden_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for exercise_id, extra in module.HIDDEN.items():
            tests.setdefault(exercise_id, []).extend(extra)
    return tests


# -- plausible wrong answers, each a mistake a learner (or the seed) makes -----------


def _percentile(rank_of: Callable[[float, int], int], strict: bool = False) -> Callable:
    def percentile_from_buckets(values, counts, p):
        n = sum(counts)
        if n == 0:
            return 0
        rank, seen = rank_of(p, n), 0
        for value, count in zip(values, counts, strict=True):
            seen += count
            if seen > rank if strict else seen >= rank:
                return int(value)
        return int(values[-1])

    return percentile_from_buckets


def _percentile_seed_index(values, counts, p):  # seed 002: sorted[n * p / 100] (S002-36)
    n = sum(counts)
    index, seen = min(int(n * p / 100), n - 1), 0  # 0-based: one rank too high
    for value, count in zip(values, counts, strict=True):
        seen += count
        if seen > index:
            return int(value)
    return 0


def _percentile_no_empty_case(values, counts, p):
    rank, seen = max(1, int(p * sum(counts) / 100 + 0.5)), 0
    for value, count in zip(values, counts, strict=True):
        seen += count
        if seen >= rank:
            return int(value)
    return None


def _correction(keep: Callable[[int, int], bool], first_k: int = 1) -> Callable:
    def corrected_samples(latency_ns, expected_interval_ns):
        samples = [latency_ns]
        if expected_interval_ns <= 0:
            return samples
        missed = latency_ns - first_k * expected_interval_ns
        while keep(missed, expected_interval_ns):
            samples.append(missed)
            missed -= expected_interval_ns
        return samples

    return corrected_samples


def _no_correction(latency_ns, expected_interval_ns):
    return [latency_ns]


class SeedMetrics:  # the seed's updateLatency, verbatim (S000-8)
    def __init__(self):
        self.average_ns, self.max_ns = 0, 0

    def update(self, latency_ns):
        self.max_ns = max(self.max_ns, latency_ns)
        if self.average_ns == 0:
            self.average_ns = latency_ns
        else:
            self.average_ns = (self.average_ns + latency_ns) // 2


class EwmaMetrics(SeedMetrics):  # the sentinel fixed, the EWMA kept
    def __init__(self):
        super().__init__()
        self.count = 0

    def update(self, latency_ns):
        self.max_ns = max(self.max_ns, latency_ns)
        self.count += 1
        first = self.count == 1
        self.average_ns = latency_ns if first else (self.average_ns + latency_ns) / 2


class SentinelMeanMetrics(SeedMetrics):  # a true mean, but 0 still means "unset"
    def __init__(self):
        super().__init__()
        self.total, self.count = 0, 0

    def update(self, latency_ns):
        self.max_ns = max(self.max_ns, latency_ns)
        if self.average_ns == 0:
            self.total, self.count = 0, 0
        self.total += latency_ns
        self.count += 1
        self.average_ns = self.total / self.count


class LastIsMaxMetrics(SentinelMeanMetrics):  # the mean is right, max_ns is the latest
    def update(self, latency_ns):
        self.total += latency_ns
        self.count += 1
        self.average_ns = self.total / self.count
        self.max_ns = latency_ns


def _batch_seed(arrival_ns, batch_start_ns, service_ns):  # one number per batch (S000-7)
    return int(np.sum(service_ns))


def _batch_from_start(arrival_ns, batch_start_ns, service_ns):
    return np.cumsum(np.asarray(service_ns, dtype=np.int64))


def _batch_end_for_all(arrival_ns, batch_start_ns, service_ns):
    end = batch_start_ns + int(np.sum(service_ns))
    return end - np.asarray(arrival_ns, dtype=np.int64)


def _batch_own_start(arrival_ns, batch_start_ns, service_ns):
    service = np.asarray(service_ns, dtype=np.int64)
    return batch_start_ns + np.cumsum(service) - service - np.asarray(arrival_ns, dtype=np.int64)


def _batch_floats(arrival_ns, batch_start_ns, service_ns):
    done = batch_start_ns + np.cumsum(np.asarray(service_ns, dtype=float))
    return (done - np.asarray(arrival_ns, dtype=float)).astype(np.int64)


def _closes(flush_time: Callable[[int, int, int], int], tie_joins: bool = False) -> Callable:
    def batch_closes(arrival_ns, batch_size, flush_interval_ns):
        closes, size, flush_at = [], 0, 0
        for t in arrival_ns:
            t = int(t)
            if size and (flush_at < t if tie_joins else flush_at <= t):
                closes.append((flush_at, size))
                size = 0
            if size == 0 or flush_time is _rearm:
                flush_at = flush_time(t, flush_interval_ns, flush_at)
            size += 1
            if size == batch_size:
                closes.append((t, size))
                size = 0
        if size:
            closes.append((flush_at, size))
        return closes

    return batch_closes


def _armed_at_first(t: int, interval: int, previous: int) -> int:
    return t + interval


def _ticker(t: int, interval: int, previous: int) -> int:  # the seed's free-running ticker
    return (t // interval + 1) * interval


def _rearm(t: int, interval: int, previous: int) -> int:  # an idle timer, reset by each event
    return t + interval


def _closes_size_only(arrival_ns, batch_size, flush_interval_ns):
    n = len(arrival_ns)
    return [
        (int(arrival_ns[i + batch_size - 1]), batch_size)
        for i in range(0, n, batch_size)
        if i + batch_size <= n
    ]


def _queue(
    tie_arrival_first: bool = False,
    room: Callable[[int], int] = lambda capacity: capacity,
    depth_counts_service: bool = False,
    drains: bool = True,
) -> Callable:
    def run_bounded_queue(arrival_ns, service_ns, capacity):
        waiting, busy_until = deque(), None
        done = dropped = max_depth = 0
        for t, service in zip(arrival_ns, service_ns, strict=True):
            while busy_until is not None and (
                busy_until < t if tie_arrival_first else busy_until <= t
            ):
                done += 1
                busy_until = busy_until + waiting.popleft() if waiting else None
            if busy_until is None:
                busy_until = t + service
            elif len(waiting) < room(capacity):
                waiting.append(service)
                max_depth = max(max_depth, len(waiting) + depth_counts_service)
            else:
                dropped += 1
        processed = len(arrival_ns) - dropped if drains else done
        return processed, dropped, max_depth

    return run_bounded_queue


class SeedRing:  # LockFreeRingBuffer as written: keep-one-slot-empty on free-running counters
    def __init__(self, capacity):
        self.capacity, self.mask = capacity, capacity - 1
        self.data, self.head, self.tail = [None] * capacity, 0, 0

    def push(self, item):
        if (self.head + 1) & self.mask == self.tail & self.mask:  # S000-50
            return False
        self.data[self.head & self.mask] = item
        self.head += 1
        return True

    def pop(self):
        if self.tail == self.head:
            return None, False
        item = self.data[self.tail & self.mask]  # the slot keeps the item (S000-52)
        self.tail += 1
        return item, True


class KeepsPoppedRing(SeedRing):  # the full test fixed, the popped slot never cleared
    def push(self, item):
        if self.head - self.tail == self.capacity:
            return False
        self.data[self.head & self.mask] = item
        self.head += 1
        return True


class OverfullRing(KeepsPoppedRing):  # full only past capacity: overwrites the oldest item
    def push(self, item):
        if self.head - self.tail > self.capacity:
            return False
        self.data[self.head & self.mask] = item
        self.head += 1
        return True

    def pop(self):
        if self.tail == self.head:
            return None, False
        item, self.data[self.tail & self.mask] = self.data[self.tail & self.mask], None
        self.tail += 1
        return item, True


class WrappedCountersRing(OverfullRing):  # indices kept masked: full and empty look alike
    def push(self, item):
        if (self.head + 1) & self.mask == self.tail:
            return False
        self.data[self.head] = item
        self.head = (self.head + 1) & self.mask
        return True

    def pop(self):
        if self.tail == self.head:
            return None, False
        item, self.data[self.tail] = self.data[self.tail], None
        self.tail = (self.tail + 1) & self.mask
        return item, True


class SeedStylePool:  # ObjectPool as the seed has it: reset on acquire, release unchecked
    def __init__(self, factory, reset, capacity):
        self.factory, self.reset = factory, reset
        self.free = [factory() for _ in range(capacity)]
        self.hits = self.misses = 0

    def acquire(self):
        if self.free:
            self.hits += 1
            obj = self.free.pop()
        else:
            self.misses += 1
            obj = self.factory()
        self.reset(obj)  # S000-55
        return obj

    def release(self, obj):
        self.free.append(obj)


class OwnedOnlyPool(SeedStylePool):  # refuses strangers, but not a second release
    def __init__(self, factory, reset, capacity):
        super().__init__(factory, reset, capacity)
        self.owned = {id(o) for o in self.free}

    def acquire(self):
        if self.free:
            self.hits += 1
            return self.free.pop()
        self.misses += 1
        obj = self.factory()
        self.owned.add(id(obj))
        return obj

    def release(self, obj):
        if id(obj) not in self.owned:
            raise ValueError("not from this pool")
        self.reset(obj)
        self.free.append(obj)


class EqualityPool(SeedStylePool):  # keeps the lent objects in a list: `in` compares with ==
    def __init__(self, factory, reset, capacity):
        super().__init__(factory, reset, capacity)
        self.lent = []

    def acquire(self):
        if self.free:
            self.hits += 1
            obj = self.free.pop()
        else:
            self.misses += 1
            obj = self.factory()
        self.lent.append(obj)
        return obj

    def release(self, obj):
        if obj not in self.lent:
            raise ValueError("not in use")
        self.reset(obj)
        self.lent.remove(obj)
        self.free.append(obj)


class ResetFirstPool(EqualityPool):  # checks by identity, but resets before checking
    def release(self, obj):
        self.reset(obj)
        if not any(obj is o for o in self.lent):
            raise ValueError("not in use")
        self.lent = [o for o in self.lent if o is not obj]
        self.free.append(obj)


class HashingPool(SeedStylePool):  # a set of the lent objects: lists cannot be hashed
    def __init__(self, factory, reset, capacity):
        super().__init__(factory, reset, capacity)
        self.lent = set()

    def acquire(self):
        if self.free:
            self.hits += 1
            obj = self.free.pop()
        else:
            self.misses += 1
            obj = self.factory()
        self.lent.add(obj)
        return obj

    def release(self, obj):
        if obj not in self.lent:
            raise ValueError("not in use")
        self.reset(obj)
        self.lent.discard(obj)
        self.free.append(obj)


def _push_many(room: Callable[[int, int, int], int], wrap: bool = True) -> Callable:
    def push_many(buf, head, tail, items):
        capacity = len(buf)
        n = max(0, min(len(items), room(capacity, head, tail)))
        start = head & (capacity - 1)
        first = min(n, capacity - start) if wrap else n
        buf[start : start + first] = items[:first]
        if wrap:
            buf[: n - first] = items[first:n]
        return n

    return push_many


def _push_many_item_by_item(buf, head, tail, items):
    capacity = len(buf)
    n = min(len(items), capacity - (head - tail))
    for i in range(n):
        buf[(head + i) & (capacity - 1)] = items[i]
    return n


def _push_many_unmasked(buf, head, tail, items):  # indexes buf by the counter, not its slot
    n = min(len(items), len(buf) - (head - tail))
    buf[head : head + n] = items[:n]
    return n


def _read_frames(
    crc_of: Callable[[bytes, bytes], int] | None = lambda length, payload: zlib.crc32(
        payload, zlib.crc32(length)
    ),
    fmt: str = "<II",
    padded: bool = True,
    bounded: bool = True,
    skip_bad: bool = False,
) -> Callable:
    def read_frames(buffer):
        buffer = bytes(buffer)
        records, pos = [], 0
        while pos < len(buffer) if not bounded else len(buffer) - pos >= 8:
            length, crc = struct.unpack_from(fmt, buffer, pos)
            size = (8 + length + 7) // 8 * 8 if padded else 8 + length
            if length == 0 or (bounded and size > len(buffer) - pos):
                break
            payload = buffer[pos + 8 : pos + 8 + length]
            if crc_of is not None and crc_of(buffer[pos : pos + 4], payload) != crc:
                if not skip_bad:
                    break
            else:
                records.append(payload)
            pos += size
        return records

    return read_frames


class SeedLevelsBook:  # addToPriceLevel as written: a new level for every order (S000-25)
    def __init__(self):
        self._sides = {"buy": [], "sell": []}  # (price, qty) nodes, best first

    def add(self, side, price, qty):
        nodes, i = self._sides[side], 0
        while i < len(nodes) and not (
            nodes[i][0] < price if side == "buy" else nodes[i][0] > price
        ):
            i += 1
        nodes.insert(i, (price, qty))

    @property
    def bids(self):
        return list(self._sides["buy"])

    @property
    def asks(self):
        return list(self._sides["sell"])


class BestOnlyMergeBook(SeedLevelsBook):  # merges into the best level, nowhere else
    def add(self, side, price, qty):
        nodes = self._sides[side]
        if nodes and nodes[0][0] == price:
            nodes[0] = (price, nodes[0][1] + qty)
        else:
            super().add(side, price, qty)


class UnsortedBook:  # one level per price, listed in the order the prices first came
    def __init__(self):
        self._bids, self._asks = {}, {}

    def add(self, side, price, qty):
        levels = self._bids if side == "buy" else self._asks
        levels[price] = levels.get(price, 0) + qty

    @property
    def bids(self):
        return list(self._bids.items())

    @property
    def asks(self):
        return list(self._asks.items())


class AscendingBidsBook(UnsortedBook):  # both sides sorted lowest price first
    @property
    def bids(self):
        return sorted(self._bids.items())

    @property
    def asks(self):
        return sorted(self._asks.items())


class ReplacingBook(UnsortedBook):  # the latest order's quantity replaces the level's
    def add(self, side, price, qty):
        (self._bids if side == "buy" else self._asks)[price] = qty

    @property
    def bids(self):
        return sorted(self._bids.items(), reverse=True)

    @property
    def asks(self):
        return sorted(self._asks.items())


class MethodsBook(ReplacingBook):  # right levels, but bids() and asks() are methods
    add = UnsortedBook.add

    def bids(self):
        return sorted(self._bids.items(), reverse=True)

    def asks(self):
        return sorted(self._asks.items())


class ClassLevelsBook(ReplacingBook):  # the dicts live on the class: every Book shares them
    _bids: dict = {}  # noqa: RUF012
    _asks: dict = {}  # noqa: RUF012
    add = UnsortedBook.add

    def __init__(self):
        pass


def _valid_fills(fills):
    if not fills:
        raise ValueError("no fills")
    for price, qty in fills:
        if not (isinstance(price, int) and isinstance(qty, int)) or price < 1 or qty < 1:
            raise ValueError("bad fill")


def _vwap_float(fills):
    _valid_fills(fills)
    return sum(p * q for p, q in fills) / sum(q for _, q in fills)


def _vwap_fraction_of_float(fills):
    return Fraction(_vwap_float(fills))


def _vwap_unweighted(fills):
    _valid_fills(fills)
    return Fraction(sum(p for p, _ in fills), len(fills))


def _vwap_per_fill(fills):
    _valid_fills(fills)
    return Fraction(sum(p * q for p, q in fills), len(fills))


def _vwap_int64(fills):  # numpy sums: int64 wraps round past 2**63, silently
    _valid_fills(fills)
    a = np.array(fills, dtype=np.int64)
    return Fraction(int((a[:, 0] * a[:, 1]).sum()), int(a[:, 1].sum()))


def _vwap_no_checks(fills):
    return Fraction(sum(p * q for p, q in fills), sum(q for _, q in fills))


def _vwap_checks_empty_only(fills):
    if not fills:
        raise ValueError("no fills")
    return _vwap_no_checks(fills)


def _matcher(
    at_limit: bool = False, lifo: bool = False, strict: bool = False, keep_empty: bool = False
) -> Callable:
    def match(asks, qty, limit_price):
        trades, remaining = [], []
        for price, orders in asks:
            crosses = limit_price is None or (
                price < limit_price if strict else price <= limit_price
            )
            if qty == 0 or not crosses:
                remaining.append((price, list(orders)))
                continue
            left = []
            for order_id, resting in reversed(orders) if lifo else orders:
                take = min(qty, resting)
                if take:
                    trades.append((order_id, limit_price if at_limit else price, take))
                    qty -= take
                if resting > take:
                    left.append((order_id, resting - take))
            if lifo:
                left.reverse()
            if left or keep_empty:
                remaining.append((price, left))
        return trades, remaining

    return match


def _match_level_totals(asks, qty, limit_price):  # the seed: one take from each level's total
    trades, remaining = [], []
    for price, orders in asks:
        total = sum(q for _, q in orders)
        if qty and (limit_price is None or price <= limit_price):
            take = min(qty, total)
            trades.append((orders[0][0], price, take))
            qty -= take
            if total > take:
                remaining.append((price, list(orders)))
        else:
            remaining.append((price, list(orders)))
    return trades, remaining


def _match_in_place(asks, qty, limit_price):  # right trades, but the caller's asks consumed
    trades = []
    while qty and asks and (limit_price is None or asks[0][0] <= limit_price):
        price, orders = asks[0]
        order_id, resting = orders[0]
        take = min(qty, resting)
        trades.append((order_id, price, take))
        qty -= take
        if take < resting:
            orders[0] = (order_id, resting - take)
        else:
            del orders[0]
            if not orders:
                del asks[0]
    return trades, asks


def _fok_ioc_then_nothing(asks, qty, limit_price):  # trades first, gives up too late
    trades, _ = _match_in_place(asks, qty, limit_price)
    return trades if sum(t[2] for t in trades) == qty else []


def _fok_shallow_backup(asks, qty, limit_price):  # undoes with list(asks): orders are shared
    backup = list(asks)
    trades, _ = _match_in_place(asks, qty, limit_price)
    if sum(t[2] for t in trades) < qty:
        asks[:] = backup
        return []
    return trades


def _fok(
    available: Callable[[list, int | None], int],
    enough: Callable[[int, int], bool] = lambda have, want: have >= want,
) -> Callable:
    def fill_or_kill(asks, qty, limit_price):
        if not enough(available(asks, limit_price), qty):
            return []
        trades, _ = _match_in_place(asks, qty, limit_price)
        return trades

    return fill_or_kill


def _acceptable(asks, limit_price):
    return sum(
        q
        for price, orders in asks
        if limit_price is None or price <= limit_price
        for _, q in orders
    )


def _best_level_only(asks, limit_price):
    crosses = asks and (limit_price is None or asks[0][0] <= limit_price)
    return sum(q for _, q in asks[0][1]) if crosses else 0


def _whole_side(asks, limit_price):
    return _acceptable(asks, None)


def _fok_on_a_copy(asks, qty, limit_price):  # right trades, but asks never changes
    if _acceptable(asks, limit_price) < qty:
        return []
    return _matcher()(asks, qty, limit_price)[0]


def _fok_returns_a_pair(asks, qty, limit_price):  # fills in place, but answers like match
    if _acceptable(asks, limit_price) < qty:
        return [], asks
    return _match_in_place(asks, qty, limit_price)


WRONG: dict[str, dict[str, object]] = {
    "00.percentile-from-buckets": {
        "bankers-rounding": _percentile(lambda p, n: max(1, round(p * n / 100))),
        "ceiling-rank": _percentile(lambda p, n: max(1, math.ceil(p * n / 100))),
        "off-by-one-rank": _percentile(lambda p, n: max(1, int(p * n / 100 + 0.5)), strict=True),
        "no-max-1": _percentile(lambda p, n: int(p * n / 100 + 0.5), strict=True),
        "seed-002-index": _percentile_seed_index,
        "no-empty-case": _percentile_no_empty_case,
    },
    "00.co-correction": {
        "keeps-remainder": _correction(lambda missed, interval: missed > 0),
        "stops-one-early": _correction(lambda missed, interval: missed > interval),
        "counts-the-value-twice": _correction(lambda m, i: m >= i, first_k=0),
        "no-correction": _no_correction,
    },
    "01.moving-average-bug": {
        "seed-as-is": SeedMetrics,
        "ewma": EwmaMetrics,
        "zero-sentinel": SentinelMeanMetrics,
        "max-is-last": LastIsMaxMetrics,
    },
    "01.batch-latency": {
        "one-per-batch": _batch_seed,
        "from-batch-start": _batch_from_start,
        "batch-end-for-all": _batch_end_for_all,
        "own-service-missing": _batch_own_start,
        "floats": _batch_floats,
    },
    "01.flush-deadline": {
        "free-running-ticker": _closes(_ticker),
        "idle-timer": _closes(_rearm),
        "tie-joins-old-batch": _closes(_armed_at_first, tie_joins=True),
        "size-only": _closes_size_only,
    },
    "01.drop-count": {
        "arrival-before-completion": _queue(tie_arrival_first=True),
        "in-service-takes-a-slot": _queue(room=lambda capacity: capacity - 1),
        "depth-counts-the-one-in-service": _queue(depth_counts_service=True),
        "no-drain-at-the-end": _queue(drains=False),
    },
    "02.duplicate-levels": {
        "seed-as-is": SeedLevelsBook,
        "merges-at-best-only": BestOnlyMergeBook,
        "unsorted": UnsortedBook,
        "bids-lowest-first": AscendingBidsBook,
        "replaces-quantity": ReplacingBook,
        "bids-as-methods": MethodsBook,
        "class-level-dicts": ClassLevelsBook,
    },
    "02.vwap": {
        "float-division": _vwap_float,
        "fraction-of-a-float": _vwap_fraction_of_float,
        "unweighted-mean": _vwap_unweighted,
        "divides-by-fill-count": _vwap_per_fill,
        "int64-sums": _vwap_int64,
        "no-checks": _vwap_no_checks,
        "checks-empty-only": _vwap_checks_empty_only,
    },
    "02.match-limit": {
        "trades-at-limit": _matcher(at_limit=True),
        "newest-first": _matcher(lifo=True),
        "strict-limit": _matcher(strict=True),
        "keeps-empty-levels": _matcher(keep_empty=True),
        "level-totals": _match_level_totals,
        "changes-the-asks-given": _match_in_place,
    },
    "02.fill-or-kill": {
        "ioc-then-nothing": _fok_ioc_then_nothing,
        "shallow-backup": _fok_shallow_backup,
        "whole-side-available": _fok(_whole_side),
        "best-level-only": _fok(_best_level_only),
        "exactly-enough-is-killed": _fok(_acceptable, lambda have, want: have > want),
        "leaves-asks-alone": _fok_on_a_copy,
        "returns-a-pair": _fok_returns_a_pair,
    },
    "04.ring-full-check": {
        "seed-as-is": SeedRing,
        "keeps-popped-items": KeepsPoppedRing,
        "overfull": OverfullRing,
        "wrapped-counters": WrappedCountersRing,
    },
    "04.pool-double-release": {
        "seed-style": SeedStylePool,
        "no-double-release-check": OwnedOnlyPool,
        "equality-not-identity": EqualityPool,
        "reset-before-check": ResetFirstPool,
        "hashes-objects": HashingPool,
    },
    "04.ring-wraparound": {
        "no-wrap": _push_many(lambda capacity, head, tail: capacity - (head - tail), wrap=False),
        "overwrites-unread": _push_many(lambda capacity, head, tail: capacity),
        "wastes-a-slot": _push_many(lambda capacity, head, tail: capacity - 1 - (head - tail)),
        "item-by-item": _push_many_item_by_item,
        "unmasked-head": _push_many_unmasked,
    },
    "04.journal-framing": {
        "no-crc-check": _read_frames(crc_of=None),
        "crc-of-payload-only": _read_frames(crc_of=lambda length, payload: zlib.crc32(payload)),
        "no-padding": _read_frames(padded=False),
        "big-endian": _read_frames(fmt=">II"),
        "no-bounds-check": _read_frames(bounded=False),
        "skips-bad-records": _read_frames(skip_bad=True),
    },
}


def _more_wrong_answers() -> None:
    """Lessons keep their wrong answers beside this file: ``tests/wrong_answers_NN.py``, each
    defining ``WRONG`` in the same shape as above."""
    for path in sorted(Path(__file__).parent.glob("wrong_answers_[0-9][0-9].py")):
        spec = importlib.util.spec_from_file_location(f"_wrong_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for exercise_id, answers in module.WRONG.items():
            WRONG.setdefault(exercise_id, {}).update(answers)


_more_wrong_answers()
WRONG_CASES = [(e, name) for e in IDS for name in WRONG.get(e, {})]


# -- the catalog ---------------------------------------------------------------------


def test_lessons_00_and_01_have_at_least_five_exercises_between_them():
    assert len([e for e in EXERCISES if e.lesson in ("00", "01")]) >= 5
    assert {"00", "01"} <= set(LESSONS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_exercise_has_three_to_six_named_public_tests(exercise_id):
    ex = catalog.get(exercise_id)
    assert 3 <= len(ex.tests) <= 6
    names = [t.name for t in ex.tests]
    assert len(set(names)) == len(names), "two public tests share a name"


@pytest.mark.parametrize("exercise_id", IDS)
def test_hints_are_tiered_and_the_first_is_only_a_nudge(exercise_id):
    hints = catalog.get(exercise_id).hints
    assert 2 <= len(hints) <= 4
    assert len(set(hints)) == len(hints)
    assert not any(code in hints[0] for code in ("def ", "return ", "```", "=")), hints[0]
    for h in hints:
        assert "```" not in h and "def " not in h, "a hint gives the code away"
    assert len(hints[-1]) > len(hints[0]), "the last hint should say more than the first"


@pytest.mark.parametrize("exercise_id", IDS)
def test_exercise_cites_seed_defects_by_id(exercise_id):
    ex = catalog.get(exercise_id)
    assert ex.seed_ids
    assert all(re.fullmatch(r"S00[02]-\d+", s) for s in ex.seed_ids), ex.seed_ids


# -- reference answers, stubs and wrong answers -------------------------------------------


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_answer_passes_every_public_test(exercise_id):
    reference = _reference(exercise_id)
    for t in catalog.get(exercise_id).tests:
        t.run(reference)


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_answer_passes_at_least_two_hidden_tests(exercise_id):
    hidden = _hidden().get(exercise_id, [])
    assert len(hidden) >= 2, "every exercise needs hidden tests of its own"
    reference = _reference(exercise_id)
    for t in hidden:
        t.run(reference)


def test_hidden_tests_only_name_exercises_in_the_catalog():
    assert set(_hidden()) <= set(IDS)


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_stub_fails_every_public_test_as_not_implemented(lesson):
    namespace = _run_cells(lesson, stubbed=True)
    for ex in catalog.all_exercises(lesson):
        outcomes = run_tests(ex, namespace[ex.target], ex.tests)
        assert [o.message for o in outcomes] == ["not implemented yet"] * len(ex.tests)


@pytest.mark.parametrize("exercise_id", IDS)
def test_exercise_has_at_least_two_plausible_wrong_answers(exercise_id):
    assert len(WRONG.get(exercise_id, {})) >= 2


def _failures(exercise_id: str, answer: object) -> list[tuple[str, str]]:
    failed = []
    for t in catalog.get(exercise_id).tests:
        try:
            t.run(answer)
        except AssertionError as exc:
            failed.append((t.name, str(exc)))
    return failed


@pytest.mark.parametrize(("exercise_id", "wrong"), WRONG_CASES)
def test_wrong_answer_fails_a_public_test_with_a_message_naming_the_call(exercise_id, wrong):
    failed = _failures(exercise_id, WRONG[exercise_id][wrong])
    assert failed, f"{wrong} passes every public test of {exercise_id}"
    target = catalog.get(exercise_id).target
    for name, message in failed:
        assert target in message, f"{name}: the message does not say what was called"


# Mistakes only a public test can catch: the hidden tests' values stay below 2**53 and
# never leave a histogram empty.
_HIDDEN_BLIND_SPOTS = {"floats", "no-empty-case"}


@pytest.mark.parametrize(
    ("exercise_id", "wrong"), [c for c in WRONG_CASES if c[1] not in _HIDDEN_BLIND_SPOTS]
)
def test_hidden_tests_also_catch_the_wrong_answer(exercise_id, wrong):
    caught = 0
    for t in _hidden()[exercise_id]:
        try:
            t.run(WRONG[exercise_id][wrong])
        except Exception:  # a wrong answer may also crash on the larger inputs
            caught += 1
    assert caught, f"no hidden test of {exercise_id} catches {wrong}"


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _spy(reference: object, seen: list) -> object:
    """``reference``, recording every value it gives a test (returns, or public attributes)."""
    if isinstance(reference, type):

        class Spy(reference):  # type: ignore[misc, valid-type]
            def __getattribute__(self, name):
                value = super().__getattribute__(name)
                # Only what the test reads: the reference's reads of its own state are not.
                outside = sys._getframe(1).f_locals.get("self") is not self
                if outside and not name.startswith("_") and not callable(value):
                    seen.append(value)
                return value

        Spy.__name__ = reference.__name__
        return Spy

    def spy(*args, **kwargs):
        result = reference(*args, **kwargs)  # type: ignore[operator]
        seen.append(result)
        return result

    return spy


def _without_calls(message: str) -> str:
    """``message`` without any ``name(...)``: a call's own arguments may hold the answer."""
    out, i = [], 0
    for match in re.finditer(r"[A-Za-z_][\w.]*\(", message):
        if match.start() < i:
            continue
        depth, j = 0, match.end() - 1
        while j < len(message):
            depth += {"(": 1, ")": -1}.get(message[j], 0)
            if depth == 0:
                break
            j += 1
        out.append(message[i : match.start()])
        i = j + 1
    out.append(message[i:])
    return "".join(out)


def _reveals(message: str, value: object) -> bool:
    value = _plain(value)
    text = _without_calls(message)
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        tokens = {repr(value)}
        if float(value).is_integer():
            tokens |= {repr(int(value)), f"{int(value):,}", f"{int(value):_}"}
        return any(re.search(rf"(?<![\w.\-]){re.escape(t)}(?!\w)(?!\.\d)", text) for t in tokens)
    if isinstance(value, (list, tuple)):
        forms = {repr(value), repr(list(value)), repr(tuple(value))}
        return any(f in text for f in forms if len(value) > 0)
    return False


@pytest.mark.parametrize(("exercise_id", "wrong"), WRONG_CASES)
def test_failure_messages_do_not_contain_the_expected_value(exercise_id, wrong):
    reference = _reference(exercise_id)
    for t in catalog.get(exercise_id).tests:
        try:
            t.run(WRONG[exercise_id][wrong])
            continue
        except AssertionError as exc:
            message = str(exc)
        expected: list = []
        t.run(_spy(reference, expected))
        assert expected, f"{t.name}: the spy saw no value the test checks"
        leaked = [v for v in expected if _reveals(message, v)]
        assert not leaked, f"{t.name}: message {message!r} reveals {leaked!r}"


def test_the_leak_detector_catches_a_leak():
    assert _reveals("f([1, 2]) returned 3, expected 42", 42)
    assert _reveals("should be [(100, 1), (200, 1)]", [(100, 1), (200, 1)])
    assert not _reveals("f([42, 7], 50) returned a bucket below the right one", 42)
    assert not _reveals("LatencyMetrics() after update(300): wrong", 300.0)


# -- the solution notebooks -------------------------------------------------------------


def _cells_of(nb, exercise_id: str, role: str) -> list:
    return [
        c
        for c in nb.cells
        if c.get("metadata", {}).get("rtkit", {}).get("exercise") == exercise_id
        and _role(c) == role
    ]


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_notebook_follows_the_conventions(lesson):
    nb = _notebook(lesson)
    assert nb.metadata["rtkit"]["lesson"] == lesson
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.strip() == "from rtkit.grading import check, hint"
    for ex in catalog.all_exercises(lesson):
        (answer,) = _cells_of(nb, ex.id, "answer")
        assert answer.cell_type == "code"
        assert BEGIN in answer.source and END in answer.source
        assert re.search(rf"^(def|class) {ex.target}\b", answer.source, re.M)
        (check,) = _cells_of(nb, ex.id, "check")
        assert check.source.strip().endswith(f'check("{ex.id}")')
        headings = [
            c
            for c in nb.cells
            if c.cell_type == "markdown" and c.source.startswith(f"### Exercise {ex.id}: ")
        ]
        assert len(headings) == 1, f"{ex.id}: one question cell with its heading"
        assert headings[0].source.splitlines()[0] == f"### Exercise {ex.id}: {ex.title}"
        for seed_id in ex.seed_ids:
            assert seed_id in headings[0].source, f"{ex.id}: the question does not cite {seed_id}"
        assert any(f'hint("{ex.id}")' in c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_notebook_presents_exercises_in_catalog_order(lesson):
    nb = _notebook(lesson)
    order = [c.metadata["rtkit"]["exercise"] for c in nb.cells if _role(c) == "answer"]
    assert order == [e.id for e in catalog.all_exercises(lesson)]


@pytest.mark.parametrize("lesson", LESSONS)
def test_answer_cells_stay_short(lesson):
    for cell in _notebook(lesson).cells:
        if _role(cell) == "answer":
            lines = [ln for ln in cell.source.splitlines() if ln.strip()]
            assert len(lines) <= 25, cell.source
