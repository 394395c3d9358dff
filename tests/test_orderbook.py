"""Tests for rtkit.orderbook.book.OrderBook and the tick helpers.

Hand-worked examples pin each matching rule; every bad input is shown to be
rejected with the book left exactly as it was; a hypothesis state machine
drives the book against a deliberately simple model (a flat list of resting
orders with arrival numbers, matched by sorting) and compares trades and
depth after every step, with ``_check()`` after every operation.
"""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rtkit.errors import ConfigError, ValueRangeError
from rtkit.orderbook.book import OrderBook, from_ticks, to_ticks
from rtkit.orderbook.types import (
    BUY,
    CANCEL,
    FOK,
    GTC,
    IOC,
    MODIFY,
    OPS_DTYPE,
    SELL,
    SUBMIT,
    TRADES_DTYPE,
    OrderRejected,
    RestingOrder,
    Trade,
)

ALL = 10**9  # depth(levels=ALL): every level


def T(maker: int, taker: int, price: int, qty: int) -> Trade:
    return Trade(maker_id=maker, taker_id=taker, price=price, qty=qty)


def snapshot(book: OrderBook) -> tuple:
    """Everything observable about the book except the rejection counter."""
    stats = dataclasses.replace(book.stats(), rejected=0)
    return book.depth(ALL), book.orders(), len(book), stats


def make(*orders: tuple) -> OrderBook:
    """A book with the given GTC limit orders resting: (id, side, qty, price)."""
    book = OrderBook()
    for order_id, side, qty, price in orders:
        assert book.submit(order_id, side, qty, price=price) == []
        book._check()
    return book


# -- price-time priority, maker price, partial fills ----------------------------


def test_a_buy_takes_the_lowest_asks_first_across_levels():
    book = make((1, "sell", 2, 102), (2, "sell", 2, 100), (3, "sell", 2, 101))
    assert book.submit(9, "buy", 5, price=102) == [
        T(2, 9, 100, 2),
        T(3, 9, 101, 2),
        T(1, 9, 102, 1),
    ]
    book._check()
    assert book.depth() == ([], [(102, 1)])


def test_a_sell_takes_the_highest_bids_first_across_levels():
    book = make((1, "buy", 2, 98), (2, "buy", 2, 100), (3, "buy", 2, 99))
    assert book.submit(9, "sell", 5, price=98) == [T(2, 9, 100, 2), T(3, 9, 99, 2), T(1, 9, 98, 1)]
    book._check()
    assert book.depth() == ([(98, 1)], [])


def test_within_a_level_the_oldest_order_trades_first():
    book = make((5, "sell", 1, 100), (3, "sell", 2, 100), (8, "sell", 3, 100))
    assert book.submit(9, "buy", 4, price=100) == [
        T(5, 9, 100, 1),
        T(3, 9, 100, 2),
        T(8, 9, 100, 1),
    ]
    assert book.orders() == [RestingOrder(8, "sell", 100, 2)]
    book._check()


def test_trades_are_at_the_resting_orders_price_not_the_incoming_one():
    book = make((1, "sell", 3, 100), (2, "buy", 3, 90))
    assert book.submit(3, "buy", 1, price=105) == [T(1, 3, 100, 1)]
    assert book.submit(4, "sell", 1, price=80) == [T(2, 4, 90, 1)]
    book._check()


def test_a_limit_order_that_does_not_cross_rests_without_trading():
    book = make((1, "sell", 3, 100))
    assert book.submit(2, "buy", 3, price=99) == []
    assert book.depth() == ([(99, 3)], [(100, 3)])
    book._check()


def test_a_partially_filled_maker_keeps_its_place_with_the_rest():
    book = make((1, "sell", 5, 100), (2, "sell", 5, 100))
    assert book.submit(9, "buy", 3, price=100) == [T(1, 9, 100, 3)]
    assert book.order(1) == RestingOrder(1, "sell", 100, 2)
    assert book.submit(10, "buy", 3, price=100) == [T(1, 10, 100, 2), T(2, 10, 100, 1)]
    book._check()


def test_a_partially_filled_gtc_taker_rests_its_remainder_at_its_own_price():
    book = make((1, "sell", 2, 101), (2, "buy", 4, 100))
    assert book.submit(9, "buy", 5, price=102) == [T(1, 9, 101, 2)]
    assert book.order(9) == RestingOrder(9, "buy", 102, 3)
    assert book.submit(10, "buy", 1, price=102) == []  # queues behind 9
    assert book.depth() == ([(102, 4), (100, 4)], [])
    assert book.submit(11, "sell", 4, price=102) == [T(9, 11, 102, 3), T(10, 11, 102, 1)]
    book._check()


def test_snapshots_are_copies_the_caller_cannot_use_to_change_the_book():
    book = make((1, "sell", 5, 100))
    snap = book.order(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.qty = 1
    book.submit(2, "buy", 2, price=100)
    assert snap.qty == 5 and book.order(1).qty == 3


def test_a_filled_maker_leaves_the_book_and_its_level_goes_with_it():
    book = make((1, "sell", 2, 100), (2, "sell", 2, 101))
    assert book.submit(9, "buy", 2, price=100) == [T(1, 9, 100, 2)]
    assert book.order(1) is None and book.best_ask() == (101, 2)
    assert book.stats().ask_levels == 1
    book._check()


def test_self_trades_are_allowed():
    book = make((1, "sell", 2, 100))
    assert book.submit(2, "buy", 2, price=100) == [T(1, 2, 100, 2)]


# -- time in force and market orders -------------------------------------------


def test_ioc_trades_what_it_can_and_cancels_the_remainder():
    book = make((1, "sell", 2, 100), (2, "sell", 2, 102))
    assert book.submit(9, "buy", 5, price=101, tif="IOC") == [T(1, 9, 100, 2)]
    assert book.order(9) is None and book.depth() == ([], [(102, 2)])
    assert book.submit(10, "buy", 5, price=90, tif="IOC") == []
    assert len(book) == 1
    book._check()


@pytest.mark.parametrize("tif", ["GTC", "IOC"])
def test_a_market_order_sweeps_any_price_and_never_rests(tif):
    book = make((1, "sell", 2, 100), (2, "sell", 2, 5000), (3, "buy", 1, 90))
    assert book.submit(9, "buy", 7, tif=tif) == [T(1, 9, 100, 2), T(2, 9, 5000, 2)]
    assert book.depth() == ([(90, 1)], [])
    assert book.order(9) is None
    book._check()


def test_a_market_order_on_an_empty_side_does_nothing():
    book = make((1, "buy", 1, 90))
    assert book.submit(2, "buy", 5) == []
    assert book.depth() == ([(90, 1)], []) and book.stats().submitted == 2


def test_fok_that_cannot_fill_leaves_the_book_exactly_as_it_was():
    book = make((1, "sell", 2, 100), (2, "sell", 2, 101), (3, "sell", 9, 103), (4, "buy", 1, 99))
    before = snapshot(book)
    # 4 available at <= 102, the 9 at 103 does not count
    assert book.submit(9, "buy", 5, price=102, tif="FOK") == []
    depth, orders, n, stats = snapshot(book)
    assert (depth, orders, n) == before[:3]
    assert stats == dataclasses.replace(before[3], submitted=5, fok_killed=1)
    book._check()


def test_fok_that_can_fill_fills_completely_across_levels():
    book = make((1, "sell", 2, 100), (2, "sell", 2, 101), (3, "sell", 9, 103))
    assert book.submit(9, "buy", 4, price=101, tif="FOK") == [T(1, 9, 100, 2), T(2, 9, 101, 2)]
    assert book.depth() == ([], [(103, 9)]) and book.order(9) is None
    book._check()


def test_market_fok_counts_the_whole_opposite_side():
    book = make((1, "buy", 2, 100), (2, "buy", 3, 50))
    assert book.submit(9, "sell", 6, tif="FOK") == []
    assert len(book) == 2
    assert book.submit(9, "sell", 5, tif="FOK") == [T(1, 9, 100, 2), T(2, 9, 50, 3)]
    assert len(book) == 0
    book._check()


# -- cancel, modify, ids ---------------------------------------------------------


def test_cancel_returns_the_remaining_quantity_after_a_partial_fill():
    book = make((1, "sell", 10, 100))
    book.submit(9, "buy", 4, price=100)
    assert book.cancel(1) == 6
    assert len(book) == 0 and book.depth() == ([], [])
    assert book.stats().cancelled == 1
    book._check()


def test_cancel_from_the_middle_of_a_level_keeps_the_others_in_order():
    book = make((1, "buy", 1, 99), (2, "buy", 2, 99), (3, "buy", 3, 99))
    assert book.cancel(2) == 2
    assert book.depth() == ([(99, 4)], [])
    assert book.submit(9, "sell", 4, price=99) == [T(1, 9, 99, 1), T(3, 9, 99, 3)]
    book._check()


def test_modify_reducing_qty_keeps_time_priority():
    book = make((1, "buy", 5, 99), (2, "buy", 5, 99))
    assert book.modify(1, qty=2) == []
    assert book.best_bid() == (99, 7)
    assert book.submit(9, "sell", 3, price=99) == [T(1, 9, 99, 2), T(2, 9, 99, 1)]
    book._check()


def test_modify_to_the_same_qty_and_price_is_a_no_op_that_keeps_priority():
    book = make((1, "buy", 5, 99), (2, "buy", 5, 99))
    assert book.modify(1, qty=5, price=99) == []
    assert book.modify(1, price=99) == []
    assert book.submit(9, "sell", 1, price=99) == [T(1, 9, 99, 1)]
    book._check()


def test_modify_raising_qty_loses_time_priority():
    book = make((1, "buy", 5, 99), (2, "buy", 5, 99))
    assert book.modify(1, qty=6) == []
    assert book.orders() == [RestingOrder(2, "buy", 99, 5), RestingOrder(1, "buy", 99, 6)]
    assert book.submit(9, "sell", 6, price=99) == [T(2, 9, 99, 5), T(1, 9, 99, 1)]
    book._check()


def test_modify_changing_price_loses_time_priority_even_when_moved_back():
    book = make((1, "sell", 5, 101), (2, "sell", 5, 101))
    assert book.modify(1, price=102) == []
    assert book.modify(1, price=101) == []
    assert book.submit(9, "buy", 6, price=101) == [T(2, 9, 101, 5), T(1, 9, 101, 1)]
    book._check()


def test_modify_to_a_crossing_price_trades_and_rests_the_remainder():
    book = make((1, "buy", 5, 99), (2, "sell", 2, 100), (3, "sell", 2, 101))
    assert book.modify(1, price=100) == [T(2, 1, 100, 2)]
    assert book.order(1) == RestingOrder(1, "buy", 100, 3)
    assert book.modify(1, qty=4, price=102) == [T(3, 1, 101, 2)]
    assert book.order(1) == RestingOrder(1, "buy", 102, 2)
    assert book.depth() == ([(102, 2)], [])
    book._check()


def test_modify_quantities_refer_to_the_remaining_quantity_after_a_partial_fill():
    book = make((1, "sell", 10, 100), (2, "sell", 10, 100))
    book.submit(9, "buy", 4, price=100)  # 1 has 6 left
    assert book.modify(1, qty=6) == []  # equal to remaining: no-op, still first
    assert book.modify(1, qty=5) == []  # reduce: still first
    assert book.order(1) == RestingOrder(1, "sell", 100, 5)
    assert book.submit(10, "buy", 1, price=100) == [T(1, 10, 100, 1)]
    assert book.modify(1, qty=7) == []  # 4 left -> 7: raised, goes to the back
    assert book.submit(11, "buy", 11, price=100) == [T(2, 11, 100, 10), T(1, 11, 100, 1)]
    book._check()


def test_an_id_is_reusable_once_its_order_is_filled_or_cancelled():
    book = make((1, "sell", 2, 100))
    book.submit(2, "buy", 2, price=100)  # fills 1; 2 never rests
    assert book.submit(1, "buy", 3, price=99) == []
    assert book.submit(2, "sell", 1, price=101) == []
    assert book.cancel(1) == 3
    assert book.submit(1, "sell", 4, price=102) == []
    assert book.orders() == [RestingOrder(2, "sell", 101, 1), RestingOrder(1, "sell", 102, 4)]
    book._check()


def test_numpy_integers_are_accepted_and_stored_as_python_ints():
    book = OrderBook()
    book.submit(np.int64(1), "sell", np.int32(5), price=np.int64(100))
    trades = book.submit(np.int64(2), "buy", np.int64(2), price=np.int64(100))
    assert trades == [T(1, 2, 100, 2)] and type(trades[0].price) is int
    assert type(book.order(1).qty) is int and book.modify(np.int64(1), qty=np.int64(1)) == []
    book._check()


def test_stats_count_requests_trades_and_volume():
    book = make((1, "sell", 2, 100), (2, "sell", 2, 101))
    book.submit(3, "buy", 3, price=101)
    book.modify(2, qty=1)
    book.cancel(2)
    with pytest.raises(OrderRejected):
        book.cancel(2)
    s = book.stats()
    assert (s.submitted, s.cancelled, s.modified, s.rejected) == (3, 1, 1, 1)
    assert (s.trades, s.volume, s.resting_orders, s.bid_levels, s.ask_levels) == (2, 3, 0, 0, 0)


def test_depth_is_limited_to_the_requested_number_of_levels():
    book = make(
        *[(i, "buy", 1, 90 + i) for i in range(8)],
        *[(10 + i, "sell", 2, 100 + i) for i in range(3)],
    )
    bids, asks = book.depth(2)
    assert bids == [(97, 1), (96, 1)] and asks == [(100, 2), (101, 2)]
    assert len(book.depth()[0]) == 5 and book.depth(1) == ([(97, 1)], [(100, 2)])


def test_the_symbol_must_be_a_non_empty_string():
    assert OrderBook("ABC").symbol == "ABC"
    with pytest.raises(ConfigError, match="symbol"):
        OrderBook("")


# -- bad input changes nothing -------------------------------------------------------

BAD_REQUESTS = [
    ("submit", (-1, "buy", 1, 100), "order_id must be >= 0"),
    ("submit", (1.0, "buy", 1, 100), "order_id must be an integer"),
    ("submit", (True, "buy", 1, 100), "order_id must be an integer"),
    ("submit", ("7", "buy", 1, 100), "order_id must be an integer"),
    ("submit", (7, "BUY", 1, 100), "side must be 'buy' or 'sell'"),
    ("submit", (7, 1, 1, 100), "side must be 'buy' or 'sell'"),
    ("submit", (7, None, 1, 100), "side must be 'buy' or 'sell'"),
    ("submit", (7, "buy", 0, 100), "qty must be > 0"),
    ("submit", (7, "buy", -3, 100), "qty must be > 0"),
    ("submit", (7, "buy", 1.5, 100), "qty must be an integer"),
    ("submit", (7, "buy", 2.0, 100), "qty must be an integer"),
    ("submit", (7, "buy", True, 100), "qty must be an integer"),
    ("submit", (7, "buy", "3", 100), "qty must be an integer"),
    ("submit", (7, "sell", 1, 0), "price must be > 0"),
    ("submit", (7, "sell", 1, -100), "price must be > 0"),
    ("submit", (7, "sell", 1, 100.5), "price must be an integer"),
    ("submit", (7, "sell", 1, True), "price must be an integer"),
    ("submit", (7, "sell", 1, Decimal(100)), "price must be an integer"),
    ("submit", (7, "buy", 1, 100, "gtc"), "tif must be 'GTC', 'IOC' or 'FOK'"),
    ("submit", (7, "buy", 1, 100, "DAY"), "tif must be"),
    ("submit", (7, "buy", 1, 100, 0), "tif must be"),
    ("submit", (1, "sell", 1, 100), "order_id 1 is already resting"),
    ("submit", (2, "buy", 1, None, "FOK"), "order_id 2 is already resting"),
    ("cancel", (99,), "no resting order with order_id 99"),
    ("cancel", (3,), "no resting order with order_id 3"),  # filled
    ("cancel", (-1,), "order_id must be >= 0"),
    ("cancel", (True,), "order_id must be an integer"),
    ("modify", (99, 1), "no resting order"),
    ("modify", (3, 1), "no resting order"),
    ("modify", (1,), "nothing to modify"),
    ("modify", (1, None, None), "nothing to modify"),
    ("modify", (1, 0), "qty must be > 0"),
    ("modify", (1, -2), "qty must be > 0"),
    ("modify", (1, 2.0), "qty must be an integer"),
    ("modify", (1, True), "qty must be an integer"),
    ("modify", (1, None, 0), "price must be > 0"),
    ("modify", (1, None, 101.0), "price must be an integer"),
    ("modify", (1, 5, False), "price must be an integer"),
    ("modify", (1, 0, 101), "qty must be > 0"),  # a good price does not save a bad qty
]


def busy_book() -> OrderBook:
    book = make((1, "buy", 5, 99), (2, "buy", 3, 99), (4, "sell", 4, 101), (5, "sell", 2, 103))
    book.submit(3, "sell", 1, price=101)  # 3 rests behind 4
    book.submit(6, "buy", 5, price=101)  # fills 4 and 3: id 3 is free again
    book.submit(3, "buy", 1, price=98)
    book.cancel(3)
    book._check()
    return book


@pytest.mark.parametrize(("method", "args", "message"), BAD_REQUESTS)
def test_a_bad_request_is_rejected_counted_and_changes_nothing(method, args, message):
    book = busy_book()
    before, rejected = snapshot(book), book.stats().rejected
    with pytest.raises(OrderRejected, match=message) as info:
        getattr(book, method)(*args)
    assert isinstance(info.value, ValueError)
    assert snapshot(book) == before
    assert book.stats().rejected == rejected + 1
    book._check()


@pytest.mark.parametrize("levels", [0, -1, 1.5, True, None])
def test_depth_levels_must_be_a_positive_integer(levels):
    book = busy_book()
    before = snapshot(book)
    with pytest.raises(ConfigError, match="levels"):
        book.depth(levels)
    assert snapshot(book) == before


@pytest.mark.parametrize("order_id", [1.0, True, "1", None])
def test_order_lookup_needs_an_integer_id(order_id):
    with pytest.raises(OrderRejected, match="order_id must be an integer"):
        busy_book().order(order_id)


# -- ops arrays ------------------------------------------------------------------


def ops_array(*rows: tuple) -> np.ndarray:
    return np.array(list(rows), dtype=OPS_DTYPE)


def test_process_applies_rows_in_order_and_returns_a_trades_array():
    ops = ops_array(
        (SUBMIT, 1, SELL, 5, 100, GTC),
        (SUBMIT, 2, SELL, 5, 101, GTC),
        (SUBMIT, 3, BUY, 7, 0, IOC),  # market
        (MODIFY, 2, 0, 1, 0, 0),  # qty 3 -> 1, price unchanged
        (SUBMIT, 4, BUY, 9, 101, FOK),  # cannot fill: nothing
        (MODIFY, 2, 0, 0, 99, 0),  # reprice below the bids: none; rests
        (CANCEL, 2, 0, 0, 0, 0),
    )
    book = OrderBook()
    trades, rejected = book.process(ops)
    assert trades.dtype == TRADES_DTYPE and rejected == 0
    assert trades.tolist() == [(1, 3, 100, 5), (2, 3, 101, 2)]
    assert len(book) == 0
    book._check()


def test_process_counts_and_skips_invalid_rows():
    ops = ops_array(
        (SUBMIT, 1, SELL, 5, 100, GTC),
        (SUBMIT, 1, SELL, 5, 100, GTC),  # duplicate live id
        (SUBMIT, 2, 0, 5, 100, GTC),  # side 0
        (SUBMIT, 2, BUY, 5, 100, 7),  # tif 7
        (SUBMIT, 2, BUY, 0, 100, GTC),  # qty 0
        (SUBMIT, 2, BUY, 1, -5, GTC),  # negative price
        (SUBMIT, -2, BUY, 1, 100, GTC),  # negative id
        (MODIFY, 1, 0, 0, 0, 0),  # nothing to modify
        (MODIFY, 1, 0, -1, 0, 0),  # negative qty
        (CANCEL, 8, 0, 0, 0, 0),  # unknown id
        (3, 1, BUY, 1, 100, GTC),  # unknown kind
        (SUBMIT, 2, BUY, 1, 100, GTC),
    )
    book = OrderBook()
    trades, rejected = book.process(ops)
    assert rejected == 10 and book.stats().rejected == 10
    assert trades.tolist() == [(1, 2, 100, 1)]
    assert book.orders() == [RestingOrder(1, "sell", 100, 4)]
    book._check()


def test_process_gives_the_same_trades_as_the_api():
    rng = random.Random(5)
    ops = np.zeros(3000, dtype=OPS_DTYPE)
    for row in ops:
        row["kind"] = rng.choices((SUBMIT, CANCEL, MODIFY), (6, 2, 2))[0]
        row["order_id"] = rng.randrange(40)
        row["side"] = rng.choice((BUY, SELL))
        row["qty"] = rng.randrange(0, 20)
        row["price"] = rng.choice((0, *range(95, 106)))
        row["tif"] = rng.choices((GTC, IOC, FOK), (6, 2, 2))[0]
    batch = OrderBook()
    trades, rejected = batch.process(ops)
    api, expected, n_rejected = OrderBook(), [], 0
    for kind, order_id, side, qty, price, tif in ops.tolist():
        try:
            if kind == SUBMIT:
                side_name, tif_name = {BUY: "buy", SELL: "sell"}[side], ("GTC", "IOC", "FOK")[tif]
                expected += api.submit(order_id, side_name, qty, price or None, tif_name)
            elif kind == CANCEL:
                api.cancel(order_id)
            else:
                expected += api.modify(order_id, qty or None, price or None)
        except OrderRejected:
            n_rejected += 1
        api._check()
    assert trades.tolist() == [dataclasses.astuple(t) for t in expected]
    assert rejected == n_rejected > 0 and len(trades) > 100
    assert snapshot(batch) == snapshot(api)


def test_process_of_an_empty_array_returns_an_empty_trades_array():
    trades, rejected = OrderBook().process(np.zeros(0, dtype=OPS_DTYPE))
    assert trades.shape == (0,) and trades.dtype == TRADES_DTYPE and rejected == 0


@pytest.mark.parametrize(
    "ops", [np.zeros(3, dtype=np.int64), [(0, 1, 1, 1, 1, 0)], np.zeros((2, 2), dtype=OPS_DTYPE)]
)
def test_process_needs_a_one_dimensional_ops_dtype_array(ops):
    with pytest.raises(ConfigError, match="OPS_DTYPE"):
        OrderBook().process(ops)


# -- tick helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "tick", "ticks"),
    [
        ("100.25", "0.05", 2005),
        (Decimal("0.3"), Decimal("0.1"), 3),
        ("0.30", "0.1", 3),
        (100, "0.01", 10000),
        ("1E+2", "0.5", 200),
        ("-1.5", "0.5", -3),
        ("0", "0.25", 0),
        ("12345678901234567890.125", "0.125", 98765431209876543121),
        (np.int64(7), 1, 7),
    ],
)
def test_to_ticks_converts_exact_multiples(price, tick, ticks):
    assert to_ticks(price, tick) == ticks
    assert type(to_ticks(price, tick)) is int


@pytest.mark.parametrize(
    ("price", "tick", "message"),
    [
        ("100.26", "0.05", "not a multiple of tick_size"),
        ("0.1", "0.25", "not a multiple"),
        (0.1, "0.1", "not float"),
        (100.0, "0.01", "not float"),
        ("1.0", 0.5, "not float"),
        ("abc", "0.1", "not a decimal number"),
        ("NaN", "0.1", "must be finite"),
        ("Infinity", "0.1", "must be finite"),
        (True, "0.1", "must be a Decimal, str or int"),
        (None, "0.1", "must be a Decimal, str or int"),
        ("1", "0", "tick_size must be > 0"),
        ("1", "-0.1", "tick_size must be > 0"),
    ],
)
def test_to_ticks_refuses_off_tick_prices_floats_and_bad_tick_sizes(price, tick, message):
    with pytest.raises(ValueRangeError, match=message):
        to_ticks(price, tick)


def test_the_float_trap_that_to_ticks_avoids():
    assert 0.1 + 0.2 != 0.3
    assert to_ticks("0.1", "0.1") + to_ticks("0.2", "0.1") == to_ticks("0.3", "0.1")
    assert to_ticks(str(0.1), "0.1") == 1  # a float's shortest repr, on purpose


@pytest.mark.parametrize(
    ("ticks", "tick", "price"),
    [
        (10050, "0.01", "100.50"),
        (3, "0.1", "0.3"),
        (-3, "0.5", "-1.5"),
        (0, "0.01", "0.00"),
        (7, 5, "35"),
    ],
)
def test_from_ticks_gives_the_exact_decimal(ticks, tick, price):
    result = from_ticks(ticks, tick)
    assert isinstance(result, Decimal) and str(result) == price


@pytest.mark.parametrize("ticks", [1.0, True, "3", None])
def test_from_ticks_needs_integer_ticks(ticks):
    with pytest.raises(ValueRangeError, match="ticks must be an integer"):
        from_ticks(ticks, "0.01")


def test_ticks_round_trip():
    rng = random.Random(3)
    for tick in ("0.01", "0.05", "0.125", "1", "25", "0.0001"):
        for _ in range(200):
            n = rng.randrange(-(10**12), 10**12)
            assert to_ticks(from_ticks(n, tick), tick) == n
            assert to_ticks(str(from_ticks(n, tick)), Decimal(tick)) == n


# -- a simple model, and a state machine that holds the book to it -----------------


class Model:
    """Resting orders in a flat list; matching sorts the candidates each time."""

    def __init__(self) -> None:
        self.resting: list[dict] = []  # {id, side, price, qty, seq}
        self.seq = 0

    def find(self, order_id: int) -> dict | None:
        return next((o for o in self.resting if o["id"] == order_id), None)

    def match(self, order_id: int, side: str, qty: int, price: int | None, tif: str) -> list:
        if side == "buy":
            ok = [
                o
                for o in self.resting
                if o["side"] == "sell" and (price is None or o["price"] <= price)
            ]
            ok.sort(key=lambda o: (o["price"], o["seq"]))
        else:
            ok = [
                o
                for o in self.resting
                if o["side"] == "buy" and (price is None or o["price"] >= price)
            ]
            ok.sort(key=lambda o: (-o["price"], o["seq"]))
        if tif == "FOK" and sum(o["qty"] for o in ok) < qty:
            return []
        trades = []
        for maker in ok:
            if qty == 0:
                break
            fill = min(qty, maker["qty"])
            trades.append(T(maker["id"], order_id, maker["price"], fill))
            qty -= fill
            maker["qty"] -= fill
        self.resting = [o for o in self.resting if o["qty"] > 0]
        if qty and price is not None and tif == "GTC":
            self.seq += 1
            self.resting.append(
                {"id": order_id, "side": side, "price": price, "qty": qty, "seq": self.seq}
            )
        return trades

    def modify(self, order_id: int, qty: int | None, price: int | None) -> list:
        o = self.find(order_id)
        new_qty = o["qty"] if qty is None else qty
        new_price = o["price"] if price is None else price
        if new_price == o["price"] and new_qty <= o["qty"]:
            o["qty"] = new_qty
            return []
        self.resting.remove(o)
        return self.match(order_id, o["side"], new_qty, new_price, "GTC")

    def depth(self) -> tuple[list, list]:
        sides = []
        for side, sign in (("buy", -1), ("sell", 1)):
            totals: dict[int, int] = {}
            for o in self.resting:
                if o["side"] == side:
                    totals[o["price"]] = totals.get(o["price"], 0) + o["qty"]
            sides.append(sorted(totals.items(), key=lambda kv: sign * kv[0]))
        return sides[0], sides[1]

    def orders(self) -> list[RestingOrder]:
        key = {
            "buy": lambda o: (0, -o["price"], o["seq"]),
            "sell": lambda o: (1, o["price"], o["seq"]),
        }
        ordered = sorted(self.resting, key=lambda o: key[o["side"]](o))
        return [RestingOrder(o["id"], o["side"], o["price"], o["qty"]) for o in ordered]


IDS = st.integers(0, 23)
QTYS = st.integers(1, 8)
# Buys mostly below 100 and sells mostly above it, overlapping at 99..101:
# the book builds depth and some orders still cross.
PRICES = {"buy": st.integers(94, 101), "sell": st.integers(99, 106)}
BAD_VALUES = st.sampled_from([0, -1, 1.0, True, None, "1"])


class BookVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook()
        self.model = Model()
        self.rejected = 0
        self.next_id = 0  # ids cycle through 0..23, so filled ids get reused

    def rejects(self, call, *args) -> None:
        before = snapshot(self.book)
        with pytest.raises(OrderRejected):
            call(*args)
        self.rejected += 1
        assert snapshot(self.book) == before

    def submit(self, order_id, side, qty, price, tif) -> None:
        if self.model.find(order_id) is not None:
            self.rejects(self.book.submit, order_id, side, qty, price, tif)
        else:
            expected = self.model.match(order_id, side, qty, price, tif)
            assert self.book.submit(order_id, side, qty, price, tif) == expected

    def fresh_id(self) -> int:
        self.next_id = (self.next_id + 1) % 24
        return self.next_id

    def has_resting(self) -> bool:
        return bool(self.model.resting)

    @rule(data=st.data(), side=st.sampled_from(["buy", "sell"]), qty=QTYS)
    def rest(self, data, side, qty):
        self.submit(self.fresh_id(), side, qty, data.draw(PRICES[side]), "GTC")

    @rule(
        data=st.data(),
        side=st.sampled_from(["buy", "sell"]),
        qty=st.integers(1, 20),
        market=st.booleans(),
        tif=st.sampled_from(["GTC", "IOC", "FOK"]),
    )
    def take(self, data, side, qty, market, tif):
        price = None if market else data.draw(PRICES[side])
        self.submit(self.fresh_id(), side, qty, price, tif)

    @precondition(has_resting)
    @rule(data=st.data())
    def cancel_resting(self, data):
        o = data.draw(st.sampled_from(self.model.resting))
        self.model.resting.remove(o)
        assert self.book.cancel(o["id"]) == o["qty"]

    @precondition(has_resting)
    @rule(data=st.data(), dq=st.sampled_from([None, -2, -1, 0, 0, 1, 3]), dp=st.integers(-3, 3))
    def modify_resting(self, data, dq, dp):
        o = data.draw(st.sampled_from(self.model.resting))
        qty = None if dq is None else max(1, o["qty"] + dq)
        price = data.draw(st.sampled_from([None, o["price"] + dp]))
        if qty is None and price is None:
            self.rejects(self.book.modify, o["id"], qty, price)
        else:
            assert self.book.modify(o["id"], qty, price) == self.model.modify(o["id"], qty, price)

    @rule(
        order_id=IDS,
        call=st.sampled_from(["submit", "cancel", "modify", "bad qty", "bad price"]),
        bad=BAD_VALUES,
    )
    def any_id_or_bad_value(self, order_id, call, bad):
        """Unknown and duplicate ids, and bad values, for ids live or not."""
        live = self.model.find(order_id) is not None
        if call == "submit":
            self.submit(order_id, "buy", 1, 100, "GTC")
        elif call == "bad qty":
            self.rejects(self.book.submit, order_id, "sell", bad, 100)
        elif call == "bad price":
            self.rejects(self.book.modify, order_id, None, 0 if bad is None else bad)
        elif not live:
            self.rejects(getattr(self.book, call), order_id, *([1] if call == "modify" else []))
        elif call == "cancel":
            assert self.book.cancel(order_id) == self.model.find(order_id)["qty"]
            self.model.resting.remove(self.model.find(order_id))
        elif call == "modify":
            assert self.book.modify(order_id, 1) == self.model.modify(order_id, 1, None)

    @invariant()
    def book_matches_model(self):
        self.book._check()
        assert self.book.depth(ALL) == self.model.depth()
        assert self.book.orders() == self.model.orders()
        assert len(self.book) == len(self.model.resting)
        assert self.book.stats().rejected == self.rejected


TestBookVersusModel = BookVersusModel.TestCase
TestBookVersusModel.settings = settings(
    max_examples=250, stateful_step_count=80, deadline=None, derandomize=True, database=None
)


def test_seeded_stress_against_the_model():
    rng = random.Random(2024)
    book, model = OrderBook(), Model()
    for step in range(6000):
        order_id = rng.randrange(60)
        action = rng.choices(("submit", "cancel", "modify"), (6, 2, 2))[0]
        resting = model.find(order_id)
        if action == "submit" and resting is None:
            side, qty = rng.choice(("buy", "sell")), rng.randrange(1, 30)
            offset = rng.randrange(-2, 9)  # ticks away from 100 on the passive side
            price = (
                None if rng.random() < 0.05 else (100 - offset if side == "buy" else 100 + offset)
            )
            tif = rng.choices(("GTC", "IOC", "FOK"), (8, 1, 1))[0]
            assert book.submit(order_id, side, qty, price, tif) == model.match(
                order_id, side, qty, price, tif
            )
        elif action == "cancel" and resting is not None:
            model.resting.remove(resting)
            assert book.cancel(order_id) == resting["qty"]
        elif action == "modify" and resting is not None:
            qty = rng.choice((None, rng.randrange(1, 30)))
            new_price = resting["price"] + rng.randrange(-3, 4)
            price = rng.choice((None, new_price)) if qty else new_price
            assert book.modify(order_id, qty, price) == model.modify(order_id, qty, price)
        if step % 10 == 0:
            book._check()
            assert book.depth(ALL) == model.depth(), step
    book._check()
    assert book.orders() == model.orders()
    assert book.stats().trades > 300 and book.stats().fok_killed > 50


def test_the_package_re_exports_every_public_name():
    import rtkit.orderbook as ob

    for name in ob.__all__:
        assert getattr(ob, name) is not None, name
    assert ob.OrderBook is OrderBook and ob.Trade is Trade
    assert ob.FastOrderBook.__name__ == "FastOrderBook" and callable(ob.zero_intelligence)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        ob.Nope  # noqa: B018
