"""Tests for rtkit.orderbook.flow: the zero-intelligence (Santa Fe) order flow.

The flow is seeded and deterministic, has the op mix its rates say (checked
against the exact probabilities the model implies, with bounds of many
standard deviations), names only resting orders in cancels and modifies (so
books reject nothing but the injected invalid ops), and refuses bad
parameters.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtkit.errors import ConfigError
from rtkit.orderbook.book import OrderBook
from rtkit.orderbook.fast import FastOrderBook
from rtkit.orderbook.flow import deep_book_flow, zero_intelligence
from rtkit.orderbook.types import (
    BUY,
    CANCEL,
    FOK,
    GTC,
    IOC,
    MARKET,
    MODIFY,
    OPS_DTYPE,
    SELL,
    SUBMIT,
)


def submits(ops: np.ndarray) -> np.ndarray:
    return ops[ops["kind"] == SUBMIT]


def test_the_same_seed_gives_the_same_flow_and_another_seed_another():
    a = zero_intelligence(20_000, seed=11, modify_rate=0.01, cross_ticks=2, ioc_fraction=0.2)
    b = zero_intelligence(20_000, seed=11, modify_rate=0.01, cross_ticks=2, ioc_fraction=0.2)
    c = zero_intelligence(20_000, seed=12, modify_rate=0.01, cross_ticks=2, ioc_fraction=0.2)
    assert a.dtype == OPS_DTYPE and a.shape == (20_000,)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_the_first_ops_of_seed_zero_are_pinned():
    ops = zero_intelligence(6, seed=0)
    assert ops.tolist() == [
        (SUBMIT, 1, BUY, 23, 9946, GTC),  # asks empty: the window hangs off the mid
        (SUBMIT, 2, SELL, 10, 9958, GTC),  # 12 ticks above the best bid
        (SUBMIT, 3, BUY, 2, 9888, GTC),  # 70 below the best ask
        (SUBMIT, 4, BUY, 8, 9887, GTC),
        (SUBMIT, 5, BUY, 15, 9945, GTC),
        (SUBMIT, 6, SELL, 4, 10028, GTC),
    ]


def test_submitted_ids_are_unique_and_in_order_and_prices_are_in_range():
    ops = zero_intelligence(50_000, seed=3, modify_rate=0.02, max_price=10_050)
    subs = submits(ops)
    assert np.array_equal(subs["order_id"], np.arange(1, len(subs) + 1))
    assert (subs["qty"] > 0).all() and np.isin(subs["side"], (BUY, SELL)).all()
    assert (subs["price"] >= 0).all() and (subs["price"] <= 10_050).all()
    assert (subs["price"] == 10_050).any()  # clamped at max_price
    mods = ops[ops["kind"] == MODIFY]
    assert (mods["price"] >= 0).all() and (mods["qty"] >= 0).all()
    assert ((mods["price"] > 0) | (mods["qty"] > 0)).all()


def test_a_book_applying_the_flow_from_empty_rejects_nothing():
    ops = zero_intelligence(100_000, seed=5, modify_rate=0.01, cross_ticks=3, fok_fraction=0.1)
    trades, rejected = FastOrderBook().process(ops)
    assert rejected == 0 and len(trades) > 10_000
    trades, rejected = OrderBook().process(ops[:20_000])
    assert rejected == 0


def test_a_book_rejects_exactly_the_injected_invalid_ops():
    n, fraction = 100_000, 0.03
    ops = zero_intelligence(n, seed=6, invalid_fraction=fraction, modify_rate=0.01)
    book = FastOrderBook()
    _, rejected = book.process(ops)
    assert abs(rejected - n * fraction) < 6 * math.sqrt(n * fraction)
    ref = OrderBook()
    assert ref.process(ops[:30_000])[1] == FastOrderBook().process(ops[:30_000])[1] > 0
    assert set(np.unique(ops["kind"])) == {SUBMIT, CANCEL, MODIFY, 3}


def replay(ops: np.ndarray) -> np.ndarray:
    """The number of resting orders before each op."""
    book = FastOrderBook()
    resting = np.empty(len(ops), np.int64)
    for i in range(len(ops)):
        resting[i] = len(book)
        book.process(ops[i : i + 1])
    return resting


def test_the_op_mix_follows_the_rates():
    rates = {"limit_rate": 1.0, "market_rate": 0.3, "cancel_rate": 0.02, "modify_rate": 0.01}
    ops = zero_intelligence(30_000, seed=8, **rates)
    resting = replay(ops)
    total = rates["limit_rate"] + rates["market_rate"]
    total = total + (rates["cancel_rate"] + rates["modify_rate"]) * resting
    kind = ops["kind"]
    market = (kind == SUBMIT) & (ops["price"] == MARKET)
    limit = (kind == SUBMIT) & (ops["price"] != MARKET)
    for observed, p in (
        (limit, rates["limit_rate"] / total),
        (market, rates["market_rate"] / total),
        (kind == CANCEL, rates["cancel_rate"] * resting / total),
        (kind == MODIFY, rates["modify_rate"] * resting / total),
    ):
        expected, sd = p.sum(), math.sqrt((p * (1 - p)).sum())
        assert abs(observed.sum() - expected) < 6 * sd, (observed.sum(), expected)
    buys = (submits(ops)["side"] == BUY).mean()
    assert abs(buys - 0.5) < 6 * math.sqrt(0.25 / len(submits(ops)))


def test_zero_rates_give_no_ops_of_that_kind():
    ops = zero_intelligence(20_000, seed=9, market_rate=0.0, cancel_rate=0.0)
    assert (ops["kind"] == SUBMIT).all() and (ops["price"] > 0).all()
    ops = zero_intelligence(20_000, seed=9, limit_rate=0.0, market_rate=1.0)
    assert (ops["price"] == MARKET).all()


def test_tif_fractions_and_size_distributions():
    ops = submits(zero_intelligence(40_000, seed=10, ioc_fraction=0.2, fok_fraction=0.1))
    n = len(ops)
    for tif, p in ((IOC, 0.2), (FOK, 0.1), (GTC, 0.7)):
        assert abs((ops["tif"] == tif).mean() - p) < 6 * math.sqrt(p * (1 - p) / n)
    mean = ops["qty"].mean()  # geometric: variance m (m - 1) = 90
    assert abs(mean - 10) < 6 * math.sqrt(90 / n) and ops["qty"].min() == 1
    constant = submits(zero_intelligence(1_000, seed=10, mean_size=7, size_dist="constant"))
    assert (constant["qty"] == 7).all()
    assert (submits(zero_intelligence(1_000, seed=10, mean_size=1))["qty"] == 1).all()


def test_without_crossing_only_market_orders_take_liquidity():
    ops = zero_intelligence(50_000, seed=12, cross_ticks=0)
    trades, _ = FastOrderBook().process(ops)
    market_ids = submits(ops)["order_id"][submits(ops)["price"] == MARKET]
    assert len(trades) > 1_000 and np.isin(trades["taker_id"], market_ids).all()
    ops = zero_intelligence(50_000, seed=12, cross_ticks=3)
    trades, _ = FastOrderBook().process(ops)
    assert not np.isin(trades["taker_id"], market_ids).all()


def test_limit_prices_stay_within_the_window_behind_the_opposite_best():
    ops = zero_intelligence(5_000, seed=13, price_levels=20, market_rate=0.0, cancel_rate=0.05)
    book, checked = FastOrderBook(), 0
    for i, (kind, _, side, _, price, _) in enumerate(ops.tolist()):
        opposite = book.best_ask() if side == BUY else book.best_bid()
        if kind == SUBMIT and opposite is not None:
            assert 1 <= (opposite[0] - price) * side <= 20
            checked += 1
        book.process(ops[i : i + 1])
    assert checked > 2_000


def test_initial_depth_fills_the_book_without_trading():
    ops = zero_intelligence(3_000, seed=14, initial_depth=3_000, price_levels=50)
    book = FastOrderBook()
    trades, _ = book.process(ops)
    assert len(trades) == 0 and len(book) == 3_000
    bids, asks = book.depth(10**6)
    assert len(bids) + len(asks) > 80
    assert bids[-1][0] >= 9_940 and asks[-1][0] <= 10_060


def test_a_deep_book_flow_keeps_a_deep_book():
    ops = deep_book_flow(200_000, resting=10_000, price_levels=300, seed=15)
    book = FastOrderBook()
    book.process(ops[:10_000])
    for chunk in np.array_split(ops[10_000:], 10):
        book.process(chunk)
        stats = book.stats()
        assert 8_000 < len(book) < 13_000, len(book)
        assert stats.bid_levels > 200 and stats.ask_levels > 200


def test_max_resting_caps_the_generators_book():
    ops = zero_intelligence(20_000, seed=16, market_rate=0.0, cancel_rate=0.0, max_resting=500)
    book = FastOrderBook(max_orders=500)
    _, rejected = book.process(ops)
    assert rejected == 0 and len(book) <= 500
    assert (ops["price"][:500] > 0).all() and (ops["price"][500:] == MARKET).sum() > 1_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_ops": -1}, "n_ops must be >= 0"),
        ({"n_ops": 1.5}, "n_ops must be an integer"),
        ({"limit_rate": -1.0}, "limit_rate must be a number >= 0"),
        ({"market_rate": float("nan")}, "market_rate must be a number"),
        ({"cancel_rate": float("inf")}, "cancel_rate must be a number"),
        ({"modify_rate": "0.1"}, "modify_rate must be a number"),
        ({"limit_rate": 0.0, "market_rate": 0.0}, "limit_rate \\+ market_rate must be > 0"),
        ({"mean_size": 0.5}, "mean_size must be >= 1"),
        ({"size_dist": "poisson"}, "size_dist must be one of"),
        ({"price_levels": 0}, "price_levels must be >= 1"),
        ({"cross_ticks": -1}, "cross_ticks must be >= 0"),
        ({"initial_mid": 0}, "initial_mid must be >= 1"),
        ({"initial_mid": 2_000_000}, "initial_mid must be <= max_price"),
        ({"initial_depth": 2_000}, "initial_depth must be <= n_ops"),
        ({"ioc_fraction": 1.5}, "ioc_fraction must be a number in \\[0, 1.0\\]"),
        ({"ioc_fraction": 0.6, "fok_fraction": 0.6}, "ioc_fraction \\+ fok_fraction"),
        ({"invalid_fraction": -0.1}, "invalid_fraction must be a number"),
        ({"max_resting": 0}, "max_resting must be >= 1"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"seed": True}, "seed must be an integer"),
    ],
)
def test_bad_parameters_are_refused(kwargs, message):
    kwargs = {"n_ops": 1_000} | kwargs
    with pytest.raises(ConfigError, match=message):
        zero_intelligence(kwargs.pop("n_ops"), **kwargs)


def test_deep_book_flow_needs_room_for_its_prefill():
    with pytest.raises(ConfigError, match="n_ops must be >= resting"):
        deep_book_flow(100, resting=1_000)
    with pytest.raises(ConfigError, match="resting must be >= 1"):
        deep_book_flow(100, resting=0)


def test_an_empty_flow_is_an_empty_ops_array():
    ops = zero_intelligence(0)
    assert ops.shape == (0,) and ops.dtype == OPS_DTYPE
