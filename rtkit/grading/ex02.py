"""Exercises for lesson 02 (low-latency trading): price levels, VWAP, matching, fill-or-kill.

Each exercise is registered in the catalog at import and is about one defect
of seed 000's order book (ids from SEED_NOTES): a new price level for every
order, even at a price that already has one (S000-25); float prices, here
averaged exactly in integer ticks (S000-30); matching that only decrements a
level's total, emits no trades and mutates the caller's order (S000-26,
S000-33); and a fill-or-kill order, which must decide before it changes the
book, as every reject must (S000-31).

The learner writes self-contained code on plain Python data: a book side is
a list of levels ``(price, orders)``, best price first, each ``orders`` a
list of ``(order_id, qty)`` in arrival order. The semantics are those of
:mod:`rtkit.orderbook` (price-time priority, trades at the maker's price,
fill-or-kill all or nothing), so the lesson can compare answers with it.

Messages name the call and the kind of mistake, never the expected value;
calls of the learner's code are guarded (:mod:`rtkit.grading._checks`).

Example:
    >>> from rtkit.grading import catalog
    >>> for e in catalog.all_exercises("02"):
    ...     print(e.difficulty, e.id, e.target)
    1 02.duplicate-levels Book
    1 02.vwap vwap
    2 02.match-limit match
    3 02.fill-or-kill fill_or_kill
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from rtkit.grading._checks import guarded_call, is_int
from rtkit.grading.catalog import Exercise, register, test
from rtkit.grading.ex00 import call_repr

__all__: list[str] = []


# -- 02.duplicate-levels ------------------------------------------------------------

BOOK = "Book"
Order = tuple[str, int, int]  # (side, price, qty), as passed to Book.add


def _adds(orders: Sequence[Order]) -> str:
    if len(orders) > 4:
        return f"{len(orders)} calls of add(...)"
    return ", ".join(f"add{order!r}" for order in orders)


def _model_levels(orders: Sequence[Order]) -> tuple[list, list]:
    totals: dict[str, dict[int, int]] = {"buy": {}, "sell": {}}
    for side, price, qty in orders:
        totals[side][price] = totals[side].get(price, 0) + qty
    return sorted(totals["buy"].items(), reverse=True), sorted(totals["sell"].items())


def _levels_of(book: object, name: str, what: str) -> list[tuple[int, int]]:
    got = guarded_call(f"{what}: reading {name}", getattr, book, name)
    if callable(got):
        raise AssertionError(
            f"{what}: {name} is a method; make it a property (or a list attribute), read "
            f"without calling it"
        )
    try:
        levels = [tuple(level) for level in got]  # type: ignore[union-attr]
    except TypeError:
        raise AssertionError(
            f"{what}: {name} is a {type(got).__name__}, not a list of (price, total_qty) pairs"
        ) from None
    if not all(len(lv) == 2 and is_int(lv[0]) and is_int(lv[1]) for lv in levels):
        raise AssertionError(f"{what}: {name} is not a list of (price, total_qty) pairs of ints")
    return levels


def _expect_levels(book: object, orders: Sequence[Order], what: str) -> None:
    bids, asks = _model_levels(orders)
    for name, expected, best in (("bids", bids, "highest"), ("asks", asks, "lowest")):
        got = _levels_of(book, name, what)
        if got == expected:
            continue
        prices = [price for price, _ in got]
        if len(set(prices)) < len(prices):
            raise AssertionError(
                f"{what}: {name} lists the same price more than once: orders at one price "
                "share one level, their quantities added (the seed makes a new level for every "
                "order, S000-25)"
            )
        if sorted(prices) != sorted(price for price, _ in expected):
            raise AssertionError(
                f"{what}: {name} does not hold one level for each price at which orders rest "
                "on that side"
            )
        if prices != [price for price, _ in expected]:
            raise AssertionError(f"{what}: {name} is not in order, {best} price first")
        raise AssertionError(
            f"{what}: a level's quantity in {name} is not the total of the orders resting at "
            "its price"
        )


def _book_after(cls: type, orders: Sequence[Order]) -> tuple[object, str]:
    book = guarded_call(f"{BOOK}()", cls)
    for i, order in enumerate(orders):
        before = f"{BOOK}() after {_adds(orders[:i])}" if i else f"{BOOK}()"
        guarded_call(f"{before}: add{order!r}", book.add, *order)  # type: ignore[attr-defined]
    return book, f"{BOOK}() after {_adds(orders)}" if orders else f"{BOOK}()"


def _check_book(cls: type, orders: Sequence[Order]) -> None:
    book, what = _book_after(cls, orders)
    _expect_levels(book, orders, what)


@test("a new book has no levels")
def _levels_empty(cls):
    _check_book(cls, [])


@test("orders at one price share one level, their quantities added")
def _levels_merge(cls):
    for orders in (
        [("buy", 100, 10), ("buy", 100, 5)],
        [("sell", 105, 3), ("sell", 105, 4), ("sell", 105, 1)],
        [("buy", 99, 2), ("buy", 100, 7), ("buy", 99, 5), ("sell", 101, 1)],
    ):
        _check_book(cls, orders)


@test("bids highest price first, asks lowest price first")
def _levels_sorted(cls):
    for orders in (
        [("buy", 98, 1), ("buy", 100, 2), ("buy", 99, 3)],
        [("sell", 103, 1), ("sell", 101, 2), ("sell", 102, 3)],
        [("sell", 107, 4), ("buy", 95, 6), ("sell", 106, 1), ("buy", 97, 2)],
    ):
        _check_book(cls, orders)


@test("an order at a price deep in the book joins that price's level")
def _levels_deep(cls):
    bids = [("buy", p, 1) for p in (100, 99, 98, 97)]
    asks = [("sell", p, 1) for p in (101, 102, 103, 104)]
    for orders in ([*bids, ("buy", 98, 6)], [*asks, ("sell", 104, 2)], [*bids, ("buy", 97, 3)]):
        book, _ = _book_after(cls, orders[:-1])
        guarded_call(
            f"{BOOK}() after {_adds(orders[:-1])}: add{orders[-1]!r}", book.add, *orders[-1]
        )
        _expect_levels(book, orders, f"{BOOK}() after four orders, then add{orders[-1]!r}")


@test("300 seeded random orders: one level per price, each the total of its orders")
def _levels_random(cls):
    rng = np.random.default_rng(2)
    orders: list[Order] = []
    book = guarded_call(f"{BOOK}()", cls)
    for _ in range(300):
        side = "buy" if rng.random() < 0.5 else "sell"
        price = int(rng.integers(90, 100)) if side == "buy" else int(rng.integers(101, 111))
        order = (side, price, int(rng.integers(1, 100)))
        guarded_call(f"{BOOK}() after {_adds(orders)}: add{order!r}", book.add, *order)
        orders.append(order)
        _expect_levels(book, orders, f"{BOOK}() after {_adds(orders)} (seeded random)")


register(
    Exercise(
        id="02.duplicate-levels",
        lesson="02",
        title="One level per price",
        difficulty=1,
        target=BOOK,
        hints=(
            "Add three buys to SeedBook at 100, 101 and 100 and print its bids. How many levels "
            "does the price 100 get? Follow the walk in add for the third order: where does it "
            "stop, and what does it do there?",
            "The seed's walk stops at the right place, then always inserts a new node. A level "
            "stands for a price, not for an order: when the node before the insertion point "
            "already has the order's price, the quantity belongs to that node.",
            "Either mend the walk (after the loop, if prev is not None and prev.price equals "
            "the price, add qty to prev.volume and stop), or keep one dict per side mapping a "
            "price to its total, adding qty with dict.get(price, 0) + qty. The bids property "
            "returns that side's (price, total) pairs sorted with the highest price first "
            "(sorted(..., reverse=True)); asks lowest first.",
        ),
        tests=(_levels_empty, _levels_merge, _levels_sorted, _levels_deep, _levels_random),
        seed_ids=("S000-25",),
    )
)


# -- 02.vwap -------------------------------------------------------------------------

VWAP = "vwap"


def _exact_vwap(fills: Sequence[tuple[int, int]]) -> Fraction:
    return Fraction(sum(p * q for p, q in fills), sum(q for _, q in fills))


def _vwap(f: Callable, fills: list) -> tuple[str, object]:
    call = call_repr(VWAP, fills)
    got = guarded_call(call, f, fills)
    if isinstance(got, float):
        raise AssertionError(
            f"{call} returned a float: a float cannot hold most averages exactly (S000-30); "
            "return a fractions.Fraction"
        )
    if not isinstance(got, Fraction):
        raise AssertionError(f"{call} returned a {type(got).__name__}, not a fractions.Fraction")
    return call, got


_NOT_VWAP = "is not the sum of price * qty over the fills divided by the total quantity"


def _expect_vwap(f: Callable, fills: list, otherwise: str = _NOT_VWAP) -> None:
    call, got = _vwap(f, fills)
    right = _exact_vwap(fills)
    if got == right:
        return
    qty = sum(q for _, q in fills)
    if got == Fraction(float(right)) or got == Fraction(sum(p * q for p, q in fills) / qty):
        raise AssertionError(
            f"{call} is not exact: it went through a float, which holds most averages only "
            "approximately; divide the two integer sums as a Fraction"
        )
    if got == Fraction(sum(p for p, _ in fills), len(fills)):
        raise AssertionError(
            f"{call} gave every fill the same weight: a fill counts as many times as it has "
            "units of quantity"
        )
    if got == Fraction(sum(p * q for p, q in fills), len(fills)):
        raise AssertionError(
            f"{call} divided by the number of fills: divide by the total quantity traded"
        )
    raise AssertionError(f"{call} {otherwise}")


@test("returns a Fraction: exactly the volume-weighted mean price")
def _vwap_exact(f):
    for fills in ([(100, 3), (101, 1)], [(1, 1), (2, 2)], [(10_001, 3), (10_002, 3), (9_999, 1)]):
        _expect_vwap(f, fills)


@test("each price weighs as much as the quantity traded at it")
def _vwap_weighted(f):
    for fills in ([(100, 1), (110, 9)], [(250, 40), (251, 1), (249, 2)]):
        _expect_vwap(f, fills)


@test("one fill, or fills all at one price: that price")
def _vwap_one_price(f):
    for fills in ([(250, 7)], [(99, 1), (99, 5), (99, 2)]):
        _expect_vwap(f, fills)


_TOO_LARGE = (
    "is not exact for large prices and quantities: the sums of price * qty are past what an "
    "int64 holds (numpy's integers wrap round without a word) and what a float holds to the "
    "unit; Python's int never overflows"
)


@test("exact with large prices and quantities")
def _vwap_large(f):
    # A price of 2.5 million in ticks of 1e-6, and fills of billions of units: price * qty
    # is near 1e22, past 2**63, where an int64 wraps round, and far past 2**53.
    fills = [(2_500_000_000_001, 4_000_000_000), (2_500_000_000_003, 3_000_000_001)]
    _expect_vwap(f, fills, otherwise=_TOO_LARGE)


_INVALID = (
    ([], "no fills: there is no average price of nothing traded"),
    ([(100.5, 1)], "a float price: prices are whole ticks (S000-30)"),
    ([(100, 2), (101.0, 1)], "a float price, even a whole one: prices are int ticks (S000-30)"),
    ([(100, 0)], "a quantity of zero: a fill trades something"),
    ([(100, 3), (101, -2)], "a negative quantity"),
    ([(0, 5)], "a price of zero: prices are positive"),
)


@test("no fills, a float price or a quantity below one: ValueError")
def _vwap_invalid(f):
    _expect_vwap(f, [(100, 2), (104, 2)])
    for fills, kind in _INVALID:
        call = call_repr(VWAP, fills)
        try:
            f(fills)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except ZeroDivisionError:
            raise AssertionError(
                f"{call} raised ZeroDivisionError, not ValueError: check the fills before "
                "dividing, and raise ValueError"
            ) from None
        except Exception as exc:
            raise AssertionError(
                f"{call} raised {type(exc).__name__}, not ValueError ({kind})"
            ) from None
        raise AssertionError(f"{call} returned a value, but should raise ValueError ({kind})")


register(
    Exercise(
        id="02.vwap",
        lesson="02",
        title="Volume-weighted average price, exactly",
        difficulty=1,
        target=VWAP,
        hints=(
            "Work out the average price of buying 1 unit at 100 and 9 units at 110 by hand: what "
            "did you pay in total, and for how many units? Then try 1 at 1 and 2 at 2: can a "
            "float hold that answer?",
            "Two running sums, both integers: price times quantity over every fill, and the "
            "quantity alone. Python's int never overflows, so the sums stay exact; only the "
            "final division could lose anything, and Fraction does not.",
            "First check the input: raise ValueError if fills is empty, or if any price or "
            "quantity is not an int (isinstance(x, int)) or is below 1. Then return "
            "Fraction(sum of p * q, sum of q), from the fractions module, without dividing "
            "with / anywhere.",
        ),
        tests=(_vwap_exact, _vwap_weighted, _vwap_one_price, _vwap_large, _vwap_invalid),
        seed_ids=("S000-30",),
    )
)


# -- 02.match-limit ------------------------------------------------------------------

MATCH = "match"
Level = tuple[int, list[tuple[int, int]]]  # (price, [(order_id, qty), ... oldest first])


def _reference_match(asks: Sequence, qty: int, limit: int | None) -> tuple[list, list]:
    trades: list[tuple[int, int, int]] = []
    remaining: list[Level] = []
    for price, orders in asks:
        if qty == 0 or (limit is not None and price > limit):
            remaining.append((price, [tuple(o) for o in orders]))
            continue
        left = []
        for order_id, resting in orders:
            take = min(qty, resting)
            if take:
                trades.append((order_id, price, take))
                qty -= take
            if resting > take:
                left.append((order_id, resting - take))
        if left:
            remaining.append((price, left))
    return trades, remaining


def _trades_of(got: object, call: str) -> list[tuple]:
    try:
        trades = [tuple(t) for t in got]  # type: ignore[union-attr]
    except TypeError:
        trades = None
    if trades is None or not all(len(t) == 3 and all(is_int(x) for x in t) for t in trades):
        raise AssertionError(f"{call} did not return its trades as (maker_id, price, qty) of ints")
    return trades


def _book_of(got: object, call: str, name: str) -> list[Level]:
    try:
        levels = [tuple(level) for level in got]  # type: ignore[union-attr]
        book = [(level[0], [tuple(o) for o in level[1]]) for level in levels]
    except (TypeError, IndexError, KeyError):
        levels, book = [], []
        ok = False
    else:
        ok = all(len(level) == 2 for level in levels) and all(
            is_int(price) and all(len(o) == 2 and is_int(o[0]) and is_int(o[1]) for o in orders)
            for price, orders in book
        )
    if not ok:
        raise AssertionError(
            f"{call}: {name} is not a list of levels (price, [(order_id, qty), ...])"
        )
    return book


def _diagnose_trades(
    call: str, got: list, expected: list, qty: int, limit: int | None, asks: Sequence
) -> None:
    """Raise the most specific message for trades that differ from ``expected``."""
    if got == expected:
        return
    traded = sum(t[2] for t in got)
    if traded > qty:
        raise AssertionError(f"{call} traded more than the incoming order's quantity")
    if limit is not None and any(t[1] > limit for t in got):
        prices = {price for price, _ in asks}
        if all(t[1] in prices for t in got):
            raise AssertionError(
                f"{call} traded at a price above the order's limit: a buy crosses only asks "
                "at or below its limit"
            )
    if [t[2] for t in got] == [t[2] for t in expected] and [t[0] for t in got] == [
        t[0] for t in expected
    ]:
        raise AssertionError(
            f"{call} traded at the wrong prices: each trade is at the resting (maker's) "
            "order's price, whatever the incoming order's limit"
        )
    for price, orders in asks:
        ids = [t[0] for t in got if t[1] == price]
        oldest_first = [o[0] for o in orders]
        newest_first = oldest_first[::-1][: len(ids)]
        if len(ids) > 1 and ids == newest_first and ids != oldest_first[: len(ids)]:
            raise AssertionError(
                f"{call} filled a level's orders newest first: within a level the oldest "
                "order fills first (time priority)"
            )
    at_limit = limit is not None and any(t[1] == limit for t in expected)
    if at_limit and not any(t[1] == limit for t in got):
        raise AssertionError(
            f"{call} did not trade with the asks at exactly its limit price: a buy crosses "
            "asks at or below its limit"
        )
    if traded < sum(t[2] for t in expected):
        raise AssertionError(
            f"{call} stopped trading while the order still crossed: a buy trades while it has "
            "quantity left and the best ask is at or below its limit (any ask, for a market "
            "order)"
        )
    touched = {t[1] for t in expected}
    if got and len(got) == len({t[1] for t in got}) and len(expected) > len(touched):
        raise AssertionError(
            f"{call} made one trade per level: a level's orders fill one by one, oldest "
            "first, one trade for each resting order (the seed only takes from a level's "
            "total, S000-26)"
        )
    raise AssertionError(
        f"{call} did not return, in order, (maker_id, price, qty) for each resting order it "
        "filled: best price first, oldest order first within a price"
    )


def _diagnose_book(call: str, got: list, expected: list, name: str) -> None:
    if got == expected:
        return
    if any(not orders for _, orders in got):
        raise AssertionError(
            f"{call} left an empty level in {name}: a level whose orders are all filled "
            "leaves the book"
        )
    if any(o[1] <= 0 for _, orders in got for o in orders):
        raise AssertionError(
            f"{call} left a filled order (quantity zero or less) in {name}: a filled order "
            "leaves the book"
        )
    raise AssertionError(
        f"{call}: {name} is not the book after those trades; a partly filled order keeps its "
        "place at the front of its level with what is left of it, and levels that did not "
        "trade stay as they were"
    )


def _match(f: Callable, asks: list, qty: int, limit: int | None) -> None:
    call = call_repr(MATCH, asks, qty, limit)
    before = copy.deepcopy(asks)
    got = guarded_call(call, f, asks, qty, limit)
    if asks != before:
        raise AssertionError(
            f"{call} changed the asks it was given: the caller's data is not the matcher's to "
            "change (S000-33); build and return a new book"
        )
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise AssertionError(f"{call} did not return a pair (trades, remaining_asks)")
    trades = _trades_of(got[0], call)
    remaining = _book_of(got[1], call, "the remaining asks")
    expected_trades, expected_book = _reference_match(asks, qty, limit)
    _diagnose_trades(call, trades, expected_trades, qty, limit, asks)
    _diagnose_book(call, remaining, expected_book, "the remaining asks")


def _asks(*levels: tuple[int, list[tuple[int, int]]]) -> list:
    return [(price, list(orders)) for price, orders in levels]


@test("returns (trades, remaining_asks), each trade (maker_id, price, qty)")
def _match_shape(f):
    _match(f, _asks((100, [(1, 5)])), 3, 100)
    _match(f, _asks((100, [(1, 5)]), (101, [(2, 2)])), 6, 101)


@test("within a level, the oldest order fills first; a partly filled one keeps its place")
def _match_fifo(f):
    level = (100, [(1, 5), (2, 5), (3, 5)])
    for qty in (7, 12, 15):
        _match(f, _asks(level, (102, [(4, 1)])), qty, 100)
    _match(f, _asks((100, [(7, 2), (3, 2), (9, 2)])), 5, 101)


@test("trades at the resting order's price, best level first, up to the limit")
def _match_prices(f):
    book = _asks((100, [(1, 2)]), (101, [(2, 3), (5, 1)]), (103, [(3, 4)]))
    for qty, limit in ((10, 102), (10, 101), (3, 105), (10, 103)):
        _match(f, book, qty, limit)


@test("an order that does not reach the best ask trades nothing")
def _match_no_cross(f):
    _match(f, _asks((100, [(1, 5)]), (101, [(2, 5)])), 5, 99)
    _match(f, [], 5, 200)
    _match(f, [], 5, None)


@test("filled orders and emptied levels leave the book; the asks given are not changed")
def _match_sweep(f):
    _match(f, _asks((100, [(1, 5), (2, 1)]), (101, [(3, 4)])), 10, 101)
    _match(f, _asks((100, [(1, 5), (2, 1)]), (101, [(3, 4)])), 6, 101)
    _match(f, _asks((50, [(8, 1)]), (60, [(9, 1)])), 99, 70)


@test("a market order (limit_price None) crosses any ask")
def _match_market(f):
    book = _asks((100, [(1, 2)]), (150, [(2, 3)]), (900, [(3, 4), (4, 4)]))
    for qty in (4, 9, 20):
        _match(f, book, qty, None)


register(
    Exercise(
        id="02.match-limit",
        lesson="02",
        title="Match a buy limit order, price-time priority",
        difficulty=2,
        target=MATCH,
        hints=(
            "Play it by hand with the question's example: take the best ask level, then the "
            "first order in it. How much trades, at what price, and what is left of each side? "
            "When do you move on to the next order, and to the next level?",
            "Walk the levels in order, best first, and stop at the first one above the limit "
            "(a market order has none). Inside a level, walk its orders oldest first; each "
            "trade takes the smaller of what the incoming order still wants and what the "
            "resting order has. Build the new book as you go instead of changing the old one.",
            "Keep trades and remaining as new lists. For each level: if no quantity is left, "
            "or the limit is not None and the price is above it, append (price, list(orders)) "
            "unchanged. Otherwise build a new list left: for each (order_id, resting), take "
            "min(qty, resting); if that is above zero, append (order_id, price, take) to "
            "trades and subtract it from qty; if resting is above take, append (order_id, "
            "resting - take) to left. Append (price, left) only if left is not empty.",
        ),
        tests=(
            _match_shape,
            _match_fifo,
            _match_prices,
            _match_no_cross,
            _match_sweep,
            _match_market,
        ),
        seed_ids=("S000-26", "S000-33"),
    )
)


# -- 02.fill-or-kill -----------------------------------------------------------------

FOK = "fill_or_kill"


def _available(asks: Sequence, limit: int | None) -> int:
    return sum(q for price, orders in asks if limit is None or price <= limit for _, q in orders)


def _fok(f: Callable, asks: list, qty: int, limit: int | None, what: str = "") -> tuple:
    """Call ``f`` on ``asks`` (changed in place); return (call, trades, book after, before)."""
    call = f"{what}{call_repr(FOK, asks, qty, limit)}"
    before = copy.deepcopy(asks)
    got = guarded_call(call, f, asks, qty, limit)
    if isinstance(got, tuple) and len(got) == 2 and all(isinstance(x, list) for x in got):
        raise AssertionError(
            f"{call} returned a pair, as match does: fill_or_kill changes asks in place and "
            "returns only the list of trades"
        )
    trades = _trades_of(got, call)
    after = _book_of(asks, call, "asks after the call")
    return call, trades, after, _book_of(before, call, "asks")


def _expect_kill(f: Callable, asks: list, qty: int, limit: int | None) -> None:
    call, trades, after, before = _fok(f, asks, qty, limit)
    if trades:
        raise AssertionError(
            f"{call} returned trades, but the quantity resting at acceptable prices cannot "
            "fill the whole order: a fill-or-kill order fills completely or not at all"
        )
    if after == before:
        return
    shallow = [p for p, _ in after] == [p for p, _ in before]
    raise AssertionError(
        f"{call} returned no trades but changed the book: when the order cannot fill, asks "
        "must be exactly as it was. Find out whether it can fill before changing anything"
        + (" (a copy of the list of levels still shares each level's orders)" if shallow else "")
    )


def _expect_fill(f: Callable, asks: list, qty: int, limit: int | None, what: str = "") -> None:
    expected_trades, expected_book = _reference_match(asks, qty, limit)
    call, trades, after, before = _fok(f, asks, qty, limit, what)
    if not trades:
        exactly = _available(before, limit) == qty
        raise AssertionError(
            f"{call} returned no trades, but the order can fill completely: "
            + (
                "the quantity resting at acceptable prices is exactly enough, and exactly "
                "enough fills"
                if exactly
                else "add up the quantity resting at every acceptable price, not just the best"
            )
        )
    _diagnose_trades(call, trades, expected_trades, qty, limit, before)
    if after == before:
        raise AssertionError(
            f"{call} filled the order but left asks as it was: take what traded out of the "
            "book, in place"
        )
    _diagnose_book(call, after, expected_book, "asks after the call")


@test("an order that can fill: price-time priority, and asks changed in place")
def _fok_fills(f):
    _expect_fill(f, _asks((100, [(1, 5), (2, 5)]), (101, [(3, 4)])), 7, 101)
    _expect_fill(f, _asks((100, [(1, 5), (2, 5)]), (101, [(3, 4)])), 3, 100)
    _expect_fill(f, _asks((100, [(1, 2)]), (102, [(2, 3), (6, 3)]), (104, [(3, 9)])), 6, 103)


@test("exactly enough at acceptable prices: it fills")
def _fok_exact(f):
    _expect_fill(f, _asks((100, [(1, 5), (2, 5)]), (101, [(3, 4)])), 14, 101)
    _expect_fill(f, _asks((100, [(1, 5)]), (101, [(3, 4)]), (109, [(4, 50)])), 9, 101)


@test("not enough at acceptable prices: no trades, and asks exactly as it was")
def _fok_kill(f):
    _expect_kill(f, _asks((100, [(1, 5), (2, 5)]), (101, [(3, 4)]), (105, [(4, 100)])), 20, 102)
    _expect_kill(f, _asks((100, [(1, 5), (2, 5)]), (101, [(3, 4)])), 15, 101)
    _expect_kill(f, _asks((100, [(1, 5)])), 3, 99)
    _expect_kill(f, [], 1, 100)


@test("enough only across several levels: it fills")
def _fok_levels(f):
    _expect_fill(f, _asks((100, [(1, 1)]), (101, [(2, 1)]), (102, [(3, 1), (4, 2)])), 4, 102)
    _expect_fill(f, _asks((100, [(1, 3)]), (103, [(2, 3)])), 5, 103)


@test("a kill leaves the book as it was for the next order; a market order counts every ask")
def _fok_sequence(f):
    book = _asks((100, [(1, 5), (2, 5)]), (101, [(3, 4)]), (300, [(4, 6)]))
    _expect_kill(f, book, 16, 150)
    what = f"after {FOK}(asks, 16, 150) was killed, "
    _expect_fill(f, book, 12, 150, what)
    _expect_fill(f, book, 7, None, f"{what}and {FOK}(asks, 12, 150) filled, ")


register(
    Exercise(
        id="02.fill-or-kill",
        lesson="02",
        title="Fill or kill: all of it, or leave the book alone",
        difficulty=3,
        target=FOK,
        hints=(
            "Before any trade, could you tell whether the order will fill completely? What "
            "do you need to add up, and where do you stop adding? Then think about what the "
            "book must look like if the answer is no.",
            "Two passes. The first only reads: the quantity resting at every level the order "
            "may trade with (all of them, for a market order). If that is less than the "
            "order's quantity, return straight away: nothing has been touched, so nothing needs "
            "undoing. Only then trade, changing the book in place.",
            "Pass one: sum the quantities of the orders at each level while the level's price "
            "is at or below the limit (every level if the limit is None). If the sum is below "
            "qty, return an empty list. Pass two: while qty is left, look at the first order of "
            "the first level; take the smaller of the two quantities, record (order_id, price, "
            "take), and either put back (order_id, resting - take) at the front of the level "
            "or delete the order, deleting the level from asks when its orders run out.",
        ),
        tests=(_fok_fills, _fok_exact, _fok_kill, _fok_levels, _fok_sequence),
        seed_ids=("S000-26", "S000-31"),
    )
)
