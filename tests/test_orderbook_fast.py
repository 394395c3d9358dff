"""Tests for rtkit.orderbook.fast.FastOrderBook.

Hand-worked examples pin each matching rule on the compiled book; bad input
and the book's bounds are shown to be rejected with the book unchanged;
``_check()`` is shown to catch corrupted arrays; and differential tests hold
the book to the reference :class:`~rtkit.orderbook.book.OrderBook`:
hypothesis-drawn op sequences in a tiny id and price space (so duplicates,
crosses, FOK kills and modifies all happen), compared after every op, and a
million zero-intelligence ops compared trade for trade.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtkit.errors import ConfigError
from rtkit.orderbook import _fastcore as core
from rtkit.orderbook.book import OrderBook
from rtkit.orderbook.fast import FastBookStats, FastOrderBook
from rtkit.orderbook.flow import deep_book_flow, zero_intelligence
from rtkit.orderbook.types import (
    BUY,
    CANCEL,
    FOK,
    GTC,
    IOC,
    MODIFY,
    OPS_DTYPE,
    SELL,
    SIDE_NAMES,
    SUBMIT,
    TIF_NAMES,
    TRADES_DTYPE,
    BookStats,
    OrderRejected,
    RestingOrder,
    Trade,
)

ALL = 10**9  # depth(levels=ALL): every level
SHARED_STATS = [f.name for f in dataclasses.fields(BookStats)]


def T(maker: int, taker: int, price: int, qty: int) -> Trade:
    return Trade(maker_id=maker, taker_id=taker, price=price, qty=qty)


def snapshot(book) -> tuple:
    """Everything observable about a book except the rejection counter."""
    stats = dataclasses.replace(book.stats(), rejected=0)
    return book.depth(ALL), book.orders(), len(book), stats


def make(*orders: tuple, **bounds) -> FastOrderBook:
    """A fast book with the given GTC limit orders resting: (id, side, qty, price)."""
    book = FastOrderBook(**({"max_orders": 64, "max_price": 1_000} | bounds))
    for order_id, side, qty, price in orders:
        assert book.submit(order_id, side, qty, price=price) == []
        book._check()
    return book


def ops_array(*rows: tuple) -> np.ndarray:
    return np.array(list(rows), dtype=OPS_DTYPE)


# -- the matching rules, by hand ----------------------------------------------------


def test_a_buy_takes_the_lowest_asks_first_then_the_oldest_within_a_level():
    book = make((1, "sell", 2, 102), (2, "sell", 2, 100), (3, "sell", 1, 101), (4, "sell", 2, 101))
    assert book.submit(9, "buy", 6, price=102) == [
        T(2, 9, 100, 2),
        T(3, 9, 101, 1),
        T(4, 9, 101, 2),
        T(1, 9, 102, 1),
    ]
    assert book.depth() == ([], [(102, 1)])
    book._check()


def test_a_sell_takes_the_highest_bids_first_at_the_makers_prices():
    book = make((1, "buy", 2, 98), (2, "buy", 2, 100), (3, "buy", 2, 99))
    assert book.submit(9, "sell", 5, price=90) == [T(2, 9, 100, 2), T(3, 9, 99, 2), T(1, 9, 98, 1)]
    assert book.depth() == ([(98, 1)], [])
    book._check()


def test_a_gtc_remainder_rests_at_its_price_behind_earlier_orders():
    book = make((1, "sell", 2, 101), (2, "buy", 4, 100))
    assert book.submit(9, "buy", 5, price=102) == [T(1, 9, 101, 2)]
    assert book.order(9) == RestingOrder(9, "buy", 102, 3)
    assert book.submit(10, "buy", 1, price=102) == []
    assert [t.maker_id for t in book.submit(11, "sell", 4, price=102)] == [9, 10]
    book._check()


def test_ioc_and_market_remainders_are_cancelled():
    book = make((1, "sell", 2, 100), (2, "sell", 2, 101))
    assert book.submit(9, "buy", 3, price=100, tif="IOC") == [T(1, 9, 100, 2)]
    assert book.submit(10, "buy", 9) == [T(2, 10, 101, 2)]  # market GTC never rests
    assert len(book) == 0 and book.best_bid() is None
    assert book.submit(11, "sell", 1) == []  # market on an empty side: nothing
    book._check()


def test_fok_fills_completely_or_leaves_the_book_exactly_as_it_was():
    book = make((1, "sell", 2, 100), (2, "sell", 2, 101), (3, "sell", 5, 103))
    before = snapshot(book)
    assert book.submit(9, "buy", 5, price=101, tif="FOK") == []
    assert book.depth(ALL) == before[0] and book.orders() == before[1]
    assert book.stats() == dataclasses.replace(before[3], submitted=4, fok_killed=1)
    assert book.submit(10, "buy", 9, tif="FOK") == [
        T(1, 10, 100, 2),
        T(2, 10, 101, 2),
        T(3, 10, 103, 5),
    ]
    assert book.stats().fok_killed == 1
    book._check()


def test_self_trades_are_allowed():
    book = make((1, "sell", 2, 100))
    assert book.modify(1, price=99) == []
    assert book.submit(2, "buy", 1, price=99) == [T(1, 2, 99, 1)]
    book._check()


def test_cancel_from_the_middle_of_a_level_keeps_the_rest_in_order():
    book = make((1, "buy", 1, 99), (2, "buy", 2, 99), (3, "buy", 3, 99))
    assert book.cancel(2) == 2
    assert book.orders() == [RestingOrder(1, "buy", 99, 1), RestingOrder(3, "buy", 99, 3)]
    assert book.cancel(1) == 1 and book.cancel(3) == 3
    assert book.depth() == ([], []) and book.stats().bid_levels == 0
    book._check()


def test_modify_keeps_priority_when_reducing_and_loses_it_otherwise():
    book = make((1, "buy", 5, 99), (2, "buy", 5, 99), (3, "buy", 5, 99))
    assert book.modify(1, qty=2) == []  # reduce: still first
    assert book.modify(2, qty=5) == []  # same qty: a no-op, still second
    assert book.modify(3, qty=6) == []  # raise: to the back (already there)
    assert book.modify(1, price=98) == [] and book.modify(1, price=99) == []  # back and forth
    assert [o.order_id for o in book.orders()] == [2, 3, 1]
    book._check()


def test_modify_to_a_crossing_price_trades_and_quantities_are_remaining_ones():
    book = make((1, "buy", 5, 99), (2, "sell", 2, 101), (3, "sell", 4, 102))
    assert book.submit(4, "sell", 2, price=99) == [T(1, 4, 99, 2)]
    assert book.modify(1, qty=4, price=102) == [T(2, 1, 101, 2), T(3, 1, 102, 2)]
    assert book.order(1) is None and book.order(3) == RestingOrder(3, "sell", 102, 2)
    book._check()


def test_an_id_is_reusable_once_its_order_is_gone():
    book = make((1, "sell", 1, 100))
    assert book.submit(2, "buy", 1, price=100) == [T(1, 2, 100, 1)]
    assert book.submit(1, "buy", 3, price=90) == []  # 1 was filled
    assert book.cancel(1) == 3
    assert book.submit(1, "sell", 1, price=95) == []  # and cancelled
    book._check()


def test_stats_count_requests_trades_and_volume():
    book = make((1, "sell", 5, 100))
    book.submit(2, "buy", 2, price=100)
    book.submit(3, "buy", 9, price=100, tif="FOK")
    book.modify(1, qty=1)
    with pytest.raises(OrderRejected):
        book.cancel(7)
    assert book.stats() == FastBookStats(
        resting_orders=1, bid_levels=0, ask_levels=1, submitted=3, cancelled=0, modified=1,
        rejected=1, fok_killed=1, trades=1, volume=2, max_orders=64, max_price=1_000,
    )  # fmt: skip
    assert repr(book) == "FastOrderBook('XYZ', bid=None, ask=(100, 1))"


def test_numpy_integers_are_accepted():
    book = make()
    assert book.submit(np.int64(4), "buy", np.int32(3), price=np.uint16(99)) == []
    assert book.modify(np.int64(4), qty=np.int8(1)) == []
    assert book.order(np.int64(4)) == RestingOrder(4, "buy", 99, 1)
    assert type(book.cancel(np.int64(4))) is int


# -- sparse prices: the bitmap finds the next level however far it is ----------------


def test_the_next_best_level_is_found_across_words_and_summary_words():
    prices = [1, 2, 63, 64, 4095, 4096, 4097, 262_143, 262_144, 999_999, 1_000_000]
    book = FastOrderBook(max_orders=100, max_price=1_000_000)
    for i, p in enumerate(prices):
        book.submit(i, "buy", 1, price=p)
    assert book.depth(ALL)[0] == [(p, 1) for p in reversed(prices)]
    for p in reversed(prices):
        assert book.best_bid() == (p, 1)
        assert book.submit(100 + p, "sell", 1) == [T(prices.index(p), 100 + p, p, 1)]
        book._check()
    assert book.best_bid() is None
    for i, p in enumerate(prices):
        book.submit(i, "sell", 1, price=p)
    for p in prices:
        assert book.best_ask() == (p, 1)
        book.cancel(prices.index(p))
    assert book.best_ask() is None
    book._check()


def test_ids_that_collide_in_the_hash_table_are_found_and_removed():
    book = FastOrderBook(max_orders=8, max_price=100)  # a 16-entry table
    ids = [16 * k for k in range(8)]  # all strided by the table size
    for k, order_id in enumerate(ids):
        book.submit(order_id, "buy", k + 1, price=50)
    for order_id in (ids[3], ids[0], ids[7]):
        book.cancel(order_id)
        book._check()
    assert [o.order_id for o in book.orders()] == [16, 32, 64, 80, 96]
    assert [book.cancel(i) for i in (96, 16, 80, 32, 64)] == [7, 2, 6, 3, 5]
    book._check()


# -- bad input and bounds change nothing -------------------------------------------

BAD_REQUESTS = [
    ("submit", (-1, "buy", 1, 100), "order_id must be >= 0"),
    ("submit", (2**63, "buy", 1, 100), r"order_id must be >= 0 and < 2\*\*63"),
    ("submit", (1.0, "buy", 1, 100), "order_id must be an integer"),
    ("submit", (True, "buy", 1, 100), "order_id must be an integer"),
    ("submit", (7, "BUY", 1, 100), "side must be 'buy' or 'sell'"),
    ("submit", (7, 1, 1, 100), "side must be 'buy' or 'sell'"),
    ("submit", (7, "buy", 0, 100), "qty must be > 0"),
    ("submit", (7, "buy", 1.5, 100), "qty must be an integer"),
    ("submit", (7, "buy", True, 100), "qty must be an integer"),
    ("submit", (7, "buy", 2**40 + 1, 100), r"qty must be <= max_qty \(1099511627776\)"),
    ("submit", (7, "sell", 1, 0), "price must be > 0"),
    ("submit", (7, "sell", 1, 100.5), "price must be an integer"),
    ("submit", (7, "sell", 1, 1_001), r"price must be <= max_price \(1000\)"),
    ("submit", (7, "buy", 1, 100, "gtc"), "tif must be 'GTC', 'IOC' or 'FOK'"),
    ("submit", (1, "sell", 1, 100), "order_id 1 is already resting"),
    ("submit", (2, "buy", 1, None, "FOK"), "order_id 2 is already resting"),
    ("cancel", (99,), "no resting order with order_id 99"),
    ("cancel", (-1,), "order_id must be >= 0"),
    ("cancel", (True,), "order_id must be an integer"),
    ("modify", (99, 1), "no resting order"),
    ("modify", (1,), "nothing to modify"),
    ("modify", (1, 0), "qty must be > 0"),
    ("modify", (1, 2.0), "qty must be an integer"),
    ("modify", (1, 2**40 + 1), "qty must be <= max_qty"),
    ("modify", (1, None, 0), "price must be > 0"),
    ("modify", (1, None, 1_001), "price must be <= max_price"),
    ("modify", (1, 0, 101), "qty must be > 0"),
]


def busy_book() -> FastOrderBook:
    book = make((1, "buy", 5, 99), (2, "buy", 3, 99), (4, "sell", 4, 101), max_qty=2**40)
    book.submit(3, "sell", 1, price=101)
    book.submit(6, "buy", 5, price=101)  # fills 4 and 3
    book.submit(3, "buy", 1, price=98)
    book.cancel(3)
    return book


@pytest.mark.parametrize(("method", "args", "message"), BAD_REQUESTS)
def test_a_bad_request_is_rejected_counted_and_changes_nothing(method, args, message):
    book = busy_book()
    before, rejected = snapshot(book), book.stats().rejected
    with pytest.raises(OrderRejected, match=message):
        getattr(book, method)(*args)
    assert snapshot(book) == before
    assert book.stats().rejected == rejected + 1
    book._check()


def test_a_full_book_rejects_only_an_order_that_would_have_to_rest():
    book = make((1, "buy", 2, 99), (2, "sell", 2, 101), (3, "sell", 2, 102), max_orders=3)
    before = snapshot(book)
    with pytest.raises(OrderRejected, match=r"book full: 3 orders resting \(max_orders\)"):
        book.submit(4, "buy", 1, price=98)
    with pytest.raises(OrderRejected, match="book full"):
        book.submit(4, "buy", 3, price=101)  # would fill 2, then rest 1
    assert snapshot(book) == before and book.stats().rejected == 2
    assert book.submit(5, "buy", 1, price=100, tif="IOC") == []  # never rests: accepted
    assert book.submit(6, "buy", 3, price=102) == [T(2, 6, 101, 2), T(3, 6, 102, 1)]
    assert book.submit(7, "buy", 1, price=97) == []  # room again
    assert book.modify(1, qty=9, price=96) == []  # re-entry reuses its own slot
    book._check()


def test_process_rejects_out_of_bounds_rows_without_applying_them():
    book = make((1, "buy", 2, 99), max_orders=2, max_qty=100)
    ops = ops_array(
        (SUBMIT, 2, SELL, 1, 1_001, GTC),  # price above max_price
        (SUBMIT, 2, SELL, 101, 105, GTC),  # qty above max_qty
        (MODIFY, 1, 0, 0, 1_001, 0),
        (MODIFY, 1, 0, 101, 0, 0),
        (SUBMIT, 2, SELL, 1, 105, GTC),
        (SUBMIT, 3, SELL, 1, 106, GTC),  # full
        (SUBMIT, 3, SELL, 1, 99, GTC),  # fills: accepted
    )
    trades, rejected = book.process(ops)
    assert rejected == 5 and trades.tolist() == [(1, 3, 99, 1)]
    assert book.orders() == [RestingOrder(1, "buy", 99, 1), RestingOrder(2, "sell", 105, 1)]
    book._check()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_orders": 0}, "max_orders must be >= 1"),
        ({"max_orders": 2.0}, "max_orders must be an integer"),
        ({"max_price": 0}, "max_price must be >= 1"),
        ({"max_price": True}, "max_price must be an integer"),
        ({"max_price": 2**31 + 1}, r"must be <= 2\*\*31"),
        ({"max_qty": 0}, "max_qty must be >= 1"),
        ({"max_orders": 1, "max_qty": 2**62}, r"max_qty must be <= \(2\*\*63 - 1\)"),
        ({"symbol": ""}, "symbol must be a non-empty string"),
    ],
)
def test_bad_bounds_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FastOrderBook(**kwargs)


def test_the_default_max_qty_keeps_every_sum_inside_int64():
    book = FastOrderBook(max_orders=3, max_price=10)
    assert book.max_qty == (2**63 - 1) // 4
    for i in range(3):
        book.submit(i, "sell", book.max_qty, price=5)
    assert book.best_ask() == (5, 3 * book.max_qty)
    assert book.submit(9, "buy", book.max_qty, price=5, tif="FOK")[0].qty == book.max_qty
    book._check()


def test_queries_refuse_bad_arguments_and_answer_none_for_unknown_ids():
    book = busy_book()
    with pytest.raises(ConfigError, match="levels"):
        book.depth(0)
    with pytest.raises(OrderRejected, match="order_id must be an integer"):
        book.order("1")
    assert book.order(2**70) is None and book.order(-5) is None and book.order(77) is None


def test_check_catches_corrupted_arrays():
    cases = [
        (lambda bk: bk[1].__setitem__((99, core.L_QTY), 7), "tail, total or count wrong"),
        (lambda bk: bk[2].__setitem__(500 >> 6, 1 << (500 & 63)), "has leftovers"),
        (lambda bk: bk[5].__setitem__(core.M_BEST_BID, 98), "best prices wrong"),
        (lambda bk: bk[0].__setitem__((1, core.O_SEQ), 99), "fifo order broken"),
        (lambda bk: bk[4].fill(0), "id index does not find"),
    ]
    for corrupt, message in cases:
        book = busy_book()
        book._check()
        corrupt(book._bk)
        with pytest.raises(AssertionError, match=message):
            book._check()


# -- process --------------------------------------------------------------------------


def test_process_grows_its_trades_buffer_when_one_op_sweeps_the_book():
    n = 3_000
    ops = np.zeros(n + 1, OPS_DTYPE)
    ops[:n] = [(SUBMIT, i, SELL, 1, 100 + i % 7, GTC) for i in range(n)]
    ops[n] = (SUBMIT, n, BUY, n, 0, IOC)
    fast, ref = FastOrderBook(max_orders=n, max_price=200), OrderBook()
    trades, rejected = fast.process(ops)
    assert trades.dtype == TRADES_DTYPE and len(trades) == n and rejected == 0
    assert np.array_equal(trades, ref.process(ops)[0])
    assert len(fast) == 0
    fast._check()


def test_process_takes_any_one_dimensional_ops_array_and_refuses_the_rest():
    ops = zero_intelligence(2_000, seed=3)
    whole = FastOrderBook().process(ops)
    strided = FastOrderBook().process(np.concatenate([ops, ops])[:2000])
    assert np.array_equal(whole[0], strided[0])
    assert FastOrderBook().process(ops[:0])[0].shape == (0,)
    for bad in (np.zeros(3, np.int64), [(0, 1, 1, 1, 1, 0)], np.zeros((2, 2), OPS_DTYPE)):
        with pytest.raises(ConfigError, match="OPS_DTYPE"):
            FastOrderBook().process(bad)


# -- differential: the reference book, op by op ---------------------------------------

IDS = st.sampled_from(
    [0, 1, 2, 3, 5, 8, 13, 16, 17, 32, 33, 64, 1_000, 2**40, 2**62 + 1, 2**63 - 1]
)
FAR_PRICES = [1, 2, 63, 64, 65, 127, 128, 4_095, 4_096, 4_097, 8_192, 9_999, 10_000]
ROWS = st.lists(  # (kind, id, seed of the other fields); kind -1: an invalid row
    st.tuples(st.sampled_from([SUBMIT] * 5 + [CANCEL, MODIFY, MODIFY, -1]), IDS, st.integers(0)),
    min_size=30,
    max_size=120,
)


def make_row(kind: int, order_id: int, seed: int, live: list[int]) -> tuple:
    """One ops row; cancels and modifies name a live id three times in four."""
    rng = random.Random(seed)
    if kind == -1:  # at least one field out of range, most of the time
        return (
            rng.choice([SUBMIT, SUBMIT, MODIFY, 3]), order_id, rng.choice([BUY, SELL, 0, 2]),
            rng.choice([1, 0, -1]), rng.choice([100, 0, -3]), rng.choice([GTC, 3]),
        )  # fmt: skip
    if kind != SUBMIT and live and rng.random() < 0.75:
        order_id = rng.choice(live)
    side = rng.choice([BUY, SELL])
    # Buys mostly at 93..101 and sells at 98..106: the book builds depth and
    # some orders still cross. Far prices sit in other bitmap and summary words.
    price = rng.choice(
        [rng.randint(93, 101) + (5 if side == SELL else 0)] * 3 + [0, rng.choice(FAR_PRICES)]
    )
    if kind == SUBMIT:
        return (
            SUBMIT,
            order_id,
            side,
            rng.randint(1, 9),
            price,
            rng.choice([GTC, GTC, GTC, IOC, FOK]),
        )
    if kind == CANCEL:
        return (CANCEL, order_id, 0, 0, 0, 0)
    return (MODIFY, order_id, 0, rng.choice([0, 0, 1, 2, 5, 9]), price, 0)


def apply_api(book, row: tuple) -> tuple[list, int]:
    """Apply one ops row through ``book``'s Python API: (trades, rejected 0 or 1)."""
    kind, order_id, side, qty, price, tif = row
    try:
        if kind == SUBMIT:
            side, tif = SIDE_NAMES.get(side, side), TIF_NAMES.get(tif, tif)
            return book.submit(order_id, side, qty, price or None, tif), 0
        if kind == CANCEL:
            book.cancel(order_id)
            return [], 0
        if kind == MODIFY:
            return book.modify(order_id, qty or None, price or None), 0
    except OrderRejected:
        return [], 1
    trades, rejected = book.process(ops_array(row))
    return [T(*t) for t in trades.tolist()], rejected


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(ROWS)
def test_op_by_op_the_fast_book_matches_the_reference(rows):
    ref, fast = OrderBook(), FastOrderBook(max_orders=16, max_price=10_000)
    for kind, order_id, seed in rows:
        row = make_row(kind, order_id, seed, [o.order_id for o in ref.orders()])
        expected = apply_api(ref, row)
        if seed % 2:  # the per-call API, or a one-row process()
            got = apply_api(fast, row)
        else:
            trades, rejected = fast.process(ops_array(row))
            got = [T(*t) for t in trades.tolist()], rejected
        assert got == expected, row
        ref._check()
        fast._check()
        assert fast.depth(ALL) == ref.depth(ALL)
        assert fast.orders() == ref.orders()
        assert fast.best_bid() == ref.best_bid() and fast.best_ask() == ref.best_ask()
    for name in SHARED_STATS:
        assert getattr(fast.stats(), name) == getattr(ref.stats(), name), name


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(st.lists(ROWS, min_size=1, max_size=3))
def test_a_whole_ops_array_gives_the_references_trades(chunks):
    ref, fast = OrderBook(), FastOrderBook(max_orders=16, max_price=10_000)
    live_or_not = [0, 1, 2, 3, 5, 8, 13, 16]
    ops = ops_array(*(make_row(*r, live_or_not) for rows in chunks for r in rows))
    expected, got = ref.process(ops), fast.process(ops)
    assert np.array_equal(got[0], expected[0]) and got[1] == expected[1]
    assert fast.orders() == ref.orders()
    fast._check()


# -- differential: generated flows ------------------------------------------------------


def compare_on(ops: np.ndarray, **bounds) -> tuple:
    ref, fast = OrderBook(), FastOrderBook(**bounds)
    expected, got = ref.process(ops), fast.process(ops)
    assert got[0].dtype == TRADES_DTYPE
    assert np.array_equal(got[0], expected[0])
    assert got[1] == expected[1]
    assert fast.depth(ALL) == ref.depth(ALL)
    assert fast.orders() == ref.orders()
    for name in SHARED_STATS:
        assert getattr(fast.stats(), name) == getattr(ref.stats(), name), name
    ref._check()
    fast._check()
    return fast.stats()


MIXED = {
    "modify_rate": 0.005,
    "cross_ticks": 3,
    "ioc_fraction": 0.1,
    "fok_fraction": 0.05,
    "invalid_fraction": 0.01,
}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_mixed_zero_intelligence_flow_gives_identical_results(seed):
    stats = compare_on(zero_intelligence(50_000, seed=seed, **MIXED))
    assert stats.trades > 5_000 and stats.fok_killed > 50 and stats.modified > 500
    assert stats.rejected > 200


def test_a_deep_book_flow_gives_identical_results():
    stats = compare_on(deep_book_flow(40_000, resting=10_000, price_levels=200, seed=4))
    assert stats.resting_orders > 5_000 and stats.bid_levels + stats.ask_levels > 300


@pytest.mark.slow
def test_a_million_ops_give_identical_trades_depth_and_rejections():
    ops = zero_intelligence(1_000_000, seed=2024, **MIXED)
    stats = compare_on(ops, max_orders=1 << 16)
    assert stats.trades > 100_000 and stats.rejected > 5_000
