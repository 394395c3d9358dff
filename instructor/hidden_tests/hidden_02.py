"""Hidden tests for lesson 02's exercises. Instructors only: never ship this file.

``rtkit grade ... --hidden-tests instructor/hidden_tests`` runs them after the
public tests. They run longer, seeded workloads against the public tests'
small reference models (never against :mod:`rtkit.orderbook`, so that the
exercises stand alone): thousands of resting orders over wide price ranges,
two books side by side, fills with prices and quantities far beyond 2**63,
invalid fills hidden in long lists, random books swept by random limit and
market orders, and streams of fill-or-kill orders sent to one book, with
kills that miss by a single unit. Messages say what was called and what kind
of result was wrong, never the expected value.
"""

from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np

from rtkit.grading.catalog import PublicTest, test

# The public tests' reference models: one definition of each expected result.
from rtkit.grading.ex02 import _available, _exact_vwap, _model_levels, _reference_match

# -- 02.duplicate-levels ---------------------------------------------------------------


def _h02_read(book):
    return [tuple(lv) for lv in book.bids], [tuple(lv) for lv in book.asks]


@test("5,000 seeded random orders over wide price ranges, read every 50 orders")
def _h02_levels_wide(cls):
    rng = np.random.default_rng(2_002)
    book, orders = cls(), []
    for i in range(5_000):
        side = "buy" if rng.random() < 0.5 else "sell"
        # 200 distinct prices a side, ticks up to a billion: a tick array would not fit.
        k = int(rng.integers(0, 200))
        price = 10**9 - 1_000 - 7 * k if side == "buy" else 10**9 + 1_000 + 7 * k
        order = (side, price, int(rng.integers(1, 10**6)))
        book.add(*order)
        orders.append(order)
        if i % 50 == 49 and _h02_read(book) != _model_levels(orders):
            raise AssertionError(
                f"Book() after {i + 1} seeded random add(...) calls: bids or asks is not one "
                "level per price, in order, each the total of its orders"
            )


@test("two books do not share their levels")
def _h02_levels_two_books(cls):
    first, second = cls(), cls()
    first.add("buy", 100, 5)
    second.add("sell", 200, 7)
    second.add("buy", 100, 1)
    if _h02_read(first) != _model_levels([("buy", 100, 5)]):
        raise AssertionError(
            "Book() and a second Book(): adding to the second changed the first; keep the "
            "levels on the instance (in __init__), not on the class"
        )
    if _h02_read(second) != _model_levels([("sell", 200, 7), ("buy", 100, 1)]):
        raise AssertionError("a second Book(): its levels are not those of its own orders")


@test("10,000 orders at three prices a side: the best, middle and worst level each grow")
def _h02_levels_few_prices(cls):
    rng = np.random.default_rng(22)
    book, orders = cls(), []
    prices = {"buy": [97, 98, 99], "sell": [101, 102, 103]}
    for _ in range(10_000):
        side = "buy" if rng.random() < 0.5 else "sell"
        order = (side, int(rng.choice(prices[side])), int(rng.integers(1, 50)))
        book.add(*order)
        orders.append(order)
    if _h02_read(book) != _model_levels(orders) or _h02_read(book) != _h02_read(book):
        raise AssertionError(
            "Book() after 10,000 add(...) calls at three prices a side: bids or asks is not "
            "three levels, in order, each the total of its orders"
        )


# -- 02.vwap -------------------------------------------------------------------------


@test("2,000 seeded random fill lists, exactly")
def _h02_vwap_random(f):
    rng = np.random.default_rng(2_020)
    for trial in range(2_000):
        n = int(rng.integers(1, 30))
        base = int(rng.integers(1, 10**6))
        fills = [(base + int(rng.integers(0, 100)), int(rng.integers(1, 10_000))) for _ in range(n)]
        got = f(fills)
        if not isinstance(got, Fraction) or got != _exact_vwap(fills):
            raise AssertionError(
                f"vwap(fills) on seeded random fill list {trial} ({n} fills): not the exact "
                "volume-weighted average price, as a Fraction"
            )


@test("prices and quantities far beyond 2**63")
def _h02_vwap_huge(f):
    rng = np.random.default_rng(63)
    for trial in range(200):
        fills = [
            (10**15 + int(rng.integers(0, 10**6)), 10**12 + int(rng.integers(0, 10**9)))
            for _ in range(int(rng.integers(1, 12)))
        ]
        if f(fills) != _exact_vwap(fills):
            raise AssertionError(
                f"vwap(fills) on seeded random fill list {trial} with prices near 1e15 ticks "
                "and quantities near 1e12: not exact"
            )


@test("one bad fill hidden in a long list: ValueError")
def _h02_vwap_invalid(f):
    rng = np.random.default_rng(7)
    bad = [(100.0, 5), (100, 0), (100, -1), (-3, 2), (0, 9), (99.5, 1), (100, 2.0)]
    for trial, (price, qty) in enumerate(bad * 3):
        fills = [(int(rng.integers(1, 500)), int(rng.integers(1, 50))) for _ in range(40)]
        fills.insert(int(rng.integers(0, 41)), (price, qty))
        try:
            f(fills)
        except ValueError:
            continue
        raise AssertionError(
            f"vwap(fills) on a list of 41 fills with one invalid fill ({trial}): did not raise "
            "ValueError"
        )
    try:
        f([])
    except ValueError:
        return
    raise AssertionError("vwap([]) did not raise ValueError")


# -- 02.match-limit and 02.fill-or-kill: a reference matcher -----------------------------


def _h02_norm_book(book):
    return [(level[0], [tuple(o) for o in level[1]]) for level in book]


def _h02_random_book(rng, levels, per_level, next_id, start=100, max_qty=20):
    book, price = [], start
    for _ in range(levels):
        price += int(rng.integers(1, 4))
        orders = []
        for _ in range(int(rng.integers(1, per_level + 1))):
            orders.append((next_id, int(rng.integers(1, max_qty + 1))))
            next_id += 1
        book.append((price, orders))
    return book, next_id


def _h02_random_order(rng, book):
    total = sum(q for _, orders in book for _, q in orders)
    qty = int(rng.integers(1, max(2, total + 10)))
    if rng.random() < 0.15 or not book:
        return qty, None
    lo, hi = book[0][0] - 2, book[-1][0] + 2
    return qty, int(rng.integers(lo, hi + 1))


def _h02_check_match(f, asks, qty, limit, what):
    before = copy.deepcopy(asks)
    trades, remaining = f(asks, qty, limit)
    if asks != before:
        raise AssertionError(f"{what}: match(...) changed the asks it was given")
    want_trades, want_book = _reference_match(asks, qty, limit)
    if [tuple(t) for t in trades] != want_trades:
        raise AssertionError(f"{what}: match(...) returned trades that break price-time priority")
    if _h02_norm_book(remaining) != want_book:
        raise AssertionError(f"{what}: match(...) returned the wrong remaining asks")
    return want_book


@test("3,000 seeded random books and limit or market orders")
def _h02_match_random(f):
    rng = np.random.default_rng(2_200)
    for trial in range(3_000):
        asks, _ = _h02_random_book(rng, int(rng.integers(0, 12)), 5, 1)
        qty, limit = _h02_random_order(rng, asks)
        _h02_check_match(f, asks, qty, limit, f"seeded random book {trial}")


@test("a stream of 2,000 orders, each matched against what the last one left")
def _h02_match_stream(f):
    rng = np.random.default_rng(2_201)
    asks, next_id = _h02_random_book(rng, 40, 6, 1)
    for step in range(2_000):
        if sum(len(orders) for _, orders in asks) < 30:
            asks, next_id = _h02_random_book(rng, 40, 6, next_id, start=100 + step)
        qty = int(rng.integers(1, 60))
        limit = None if rng.random() < 0.1 else asks[0][0] + int(rng.integers(-1, 8))
        asks = _h02_check_match(f, asks, qty, limit, f"order {step} of a seeded stream")


@test("a deep book of 20,000 levels: small orders, and one that sweeps it")
def _h02_match_deep(f):
    asks = [(1_000 + i, [(i, 1 + i % 3)]) for i in range(20_000)]
    for qty, limit in ((5, 1_010), (3, None), (10**9, None), (25_000, 20_000)):
        _h02_check_match(f, asks, qty, limit, "a book of 20,000 levels")


# -- 02.fill-or-kill -------------------------------------------------------------------


def _h02_fok_expected(asks, qty, limit):
    if _available(asks, limit) < qty:
        return [], _h02_norm_book(asks)
    return _reference_match(asks, qty, limit)


def _h02_check_fok(f, asks, qty, limit, what):
    want_trades, want_book = _h02_fok_expected(asks, qty, limit)
    got = f(asks, qty, limit)
    if [tuple(t) for t in got] != want_trades:
        kind = "a kill" if not want_trades else "a fill"
        raise AssertionError(f"{what}: fill_or_kill(...) got {kind} wrong: its trades differ")
    if _h02_norm_book(asks) != want_book:
        raise AssertionError(
            f"{what}: fill_or_kill(...) left asks different from the book after its trades"
        )


@test("5,000 seeded random FOK orders, one after another, on one book")
def _h02_fok_stream(f):
    rng = np.random.default_rng(2_300)
    asks, next_id = _h02_random_book(rng, 30, 5, 1)
    for step in range(5_000):
        if sum(len(orders) for _, orders in asks) < 20:
            fresh, next_id = _h02_random_book(rng, 30, 5, next_id, start=100 + step)
            asks[:] = fresh
        total = sum(q for _, orders in asks for _, q in orders)
        qty = int(rng.integers(1, max(2, total // 3)))
        limit = None if rng.random() < 0.1 else asks[0][0] + int(rng.integers(-1, 10))
        _h02_check_fok(f, asks, qty, limit, f"FOK order {step} of a seeded stream")


@test("kills that miss by one unit, with plenty resting beyond the limit")
def _h02_fok_near_miss(f):
    rng = np.random.default_rng(2_301)
    for trial in range(1_000):
        asks, _ = _h02_random_book(rng, int(rng.integers(1, 10)), 4, 1)
        k = int(rng.integers(0, len(asks)))
        limit = asks[k][0]
        asks.append((asks[-1][0] + 5, [(9_999, 10**6)]))
        enough = sum(q for price, orders in asks if price <= limit for _, q in orders)
        for qty in (enough + 1, enough):
            _h02_check_fok(f, asks, qty, limit, f"seeded random book {trial}")


HIDDEN: dict[str, list[PublicTest]] = {
    "02.duplicate-levels": [_h02_levels_wide, _h02_levels_two_books, _h02_levels_few_prices],
    "02.vwap": [_h02_vwap_random, _h02_vwap_huge, _h02_vwap_invalid],
    "02.match-limit": [_h02_match_random, _h02_match_stream, _h02_match_deep],
    "02.fill-or-kill": [_h02_fok_stream, _h02_fok_near_miss],
}
