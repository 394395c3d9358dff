"""OrderBook: a price-time priority limit order book, the readable reference.

One instrument, one thread, requests applied in the order they arrive.
Prices are integer ticks, quantities integer lots. Each side keeps a map
price -> level plus the level prices in a sorted list (``bisect``); each level
is a FIFO of its resting orders (an ``OrderedDict`` keyed by order id, so
cancelling from the middle is O(1)) and carries its aggregate quantity; an
id -> order index finds any resting order in O(1).

An incoming buy trades while its price is >= the best ask (a market buy
crosses any ask), best level first and, within a level, oldest order first;
every trade is at the resting (maker) order's price. GTC limit remainders rest
at the back of their level; IOC and market remainders are cancelled; a FOK
order fills completely or does nothing. Sells are symmetric. The full rules
are in :meth:`OrderBook.submit` and :meth:`OrderBook.modify`;
:class:`~rtkit.orderbook.fast.FastOrderBook` implements the same rules and a
differential test holds the two to identical trades and depth.

Invariant (checked by :meth:`OrderBook._check`): the book is never crossed at
rest (best bid < best ask); every level is non-empty, its total equals the sum
of its orders' quantities, and its orders are in arrival order; the id index
holds exactly the resting orders, each in the level of its side and price.

What the seed (000 §2, l.399-759) got wrong, and what this book does instead:

* S000-25: ``addToPriceLevel`` made a new "level" for every order, so depth at
  a price was wrong and insertion cost O(resting orders). Here one level per
  price, looked up by price in O(1) (a new price finds its place in O(log L)
  by bisection), with its total kept up to date.
* S000-26: matching decremented only the level's volume: resting orders were
  never updated, filled ones stayed "open" forever and no trade was emitted.
  Here matching walks the level's FIFO order by order, returns a
  :class:`~rtkit.orderbook.types.Trade` per fill and drops filled makers.
* S000-30: ``float64`` prices used as level identity. Here prices are integer
  ticks; :func:`to_ticks` converts a decimal price exactly or refuses.
* S000-32: no cancel, an ``orders`` map never read. Here :meth:`~OrderBook.cancel`
  and :meth:`~OrderBook.modify` reach any order in O(1) through the id index.
* S000-33: the engine mutated the caller's ``*Order``. Here the caller passes
  plain values; the book keeps its own records and hands out frozen copies
  (:class:`~rtkit.orderbook.types.RestingOrder`).
* S000-34: side and status were strings compared in the hot path. Here the
  API's strings are checked once at the edge and stored as integer codes.

Seed 000 section 2; the order-book lesson is built on it.

Example:
    >>> book = OrderBook()
    >>> book.submit(1, "sell", 5, price=101)
    []
    >>> book.submit(2, "sell", 5, price=100)
    []
    >>> for trade in book.submit(3, "buy", 7, price=101):
    ...     print(trade)
    Trade(maker_id=2, taker_id=3, price=100, qty=5)
    Trade(maker_id=1, taker_id=3, price=101, qty=2)
    >>> book.depth()
    ([], [(101, 3)])
"""

from __future__ import annotations

import bisect
import itertools
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from rtkit.errors import ConfigError, check_int
from rtkit.orderbook.types import (
    BUY,
    CANCEL,
    FOK,
    GTC,
    MODIFY,
    OPS_DTYPE,
    SELL,
    SIDE_CODES,
    SIDE_NAMES,
    SUBMIT,
    TIF_CODES,
    TIF_NAMES,
    TRADES_DTYPE,
    BookStats,
    OrderRejected,
    RestingOrder,
    Trade,
    from_ticks,
    is_int,
    to_ticks,
)

# BookStats and the tick helpers live in types (shared with the fast book).
__all__ = ["BookStats", "OrderBook", "from_ticks", "to_ticks"]

_COUNTERS = ("submitted", "cancelled", "modified", "rejected", "fok_killed", "trades", "volume")


class _Order:
    """The book's own record of a resting order (never shared with callers)."""

    __slots__ = ("order_id", "price", "qty", "seq", "side")

    def __init__(self, order_id: int, side: int, price: int, qty: int, seq: int) -> None:
        self.order_id = order_id
        self.side = side
        self.price = price
        self.qty = qty  # remaining
        self.seq = seq  # arrival number: time priority within a level


class _Level:
    """One price: its orders oldest first, keyed by id, and their total qty."""

    __slots__ = ("orders", "price", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.total = 0
        self.orders: OrderedDict[int, _Order] = OrderedDict()


class _Side:
    """The levels of one side of the book.

    ``keys`` holds ``sign * price`` for every level, ascending, with
    ``sign`` +1 for bids and -1 for asks: the best price is then always at the
    end of the list, so emptying the best level (what matching does) is a
    ``pop()``. Adding or removing any other level shifts the list: O(L) in
    the number of levels, a ``memmove`` that stays cheap at realistic depths.
    """

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, _Level] = {}
        self.keys: list[int] = []

    def best(self) -> _Level | None:
        return self.levels[self.sign * self.keys[-1]] if self.keys else None

    def level_at(self, price: int) -> _Level:
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = _Level(price)
            bisect.insort(self.keys, self.sign * price)
        return level

    def remove_level(self, price: int) -> None:
        del self.levels[price]
        key = self.sign * price
        if self.keys[-1] == key:
            self.keys.pop()
        else:
            del self.keys[bisect.bisect_left(self.keys, key)]

    def best_first(self) -> Iterator[_Level]:
        for key in reversed(self.keys):
            yield self.levels[self.sign * key]


class OrderBook:
    """A limit order book for one symbol with price-time priority matching.

    Every request is validated completely before anything changes: a rejected
    request raises :class:`~rtkit.orderbook.types.OrderRejected` (a
    ``ValueError``), counts in ``stats().rejected`` and leaves the book
    exactly as it was.

    Example:
        >>> book = OrderBook("XYZ")
        >>> book.submit(1, "buy", 10, price=99)
        []
        >>> book.submit(2, "sell", 4)   # market sell
        [Trade(maker_id=1, taker_id=2, price=99, qty=4)]
        >>> book.best_bid(), book.order(1)
        ((99, 6), RestingOrder(order_id=1, side='buy', price=99, qty=6))
    """

    def __init__(self, symbol: str = "XYZ") -> None:
        if not isinstance(symbol, str) or not symbol:
            raise ConfigError(f"symbol must be a non-empty string, got {symbol!r}")
        self.symbol = symbol
        self._bids = _Side(+1)
        self._asks = _Side(-1)
        self._orders: dict[int, _Order] = {}
        self._seq = 0  # arrival counter: time priority
        self._count = dict.fromkeys(_COUNTERS, 0)

    # -- requests ------------------------------------------------------------

    def submit(
        self,
        order_id: int,
        side: str,
        qty: int,
        price: int | None = None,
        tif: str = "GTC",
    ) -> list[Trade]:
        """Submit an order and return its trades, in execution order.

        ``side`` is ``"buy"`` or ``"sell"``; ``price`` is in ticks, or
        ``None`` for a market order; ``tif`` is ``"GTC"`` (the remainder
        rests), ``"IOC"`` (the remainder is cancelled) or ``"FOK"`` (fill it
        all now or do nothing). Market orders never rest. ``order_id`` must
        not belong to a resting order; ids of filled or cancelled orders may
        be reused.

        Runtime complexity: O(1) per fill; a remainder rests in O(1) at an
        existing price (dict lookup, FIFO append), and at a new price in
        O(log L) to find its place among the L level prices plus an O(L)
        list shift. A FOK first sums the crossing levels: O(levels crossed).

        Example:
            >>> book = OrderBook()
            >>> book.submit(1, "sell", 3, price=100)
            []
            >>> book.submit(2, "buy", 5, price=100, tif="FOK")
            []
            >>> book.submit(3, "buy", 5, price=100, tif="IOC")
            [Trade(maker_id=1, taker_id=3, price=100, qty=3)]
            >>> len(book)
            0
        """
        self._check_new_id(order_id)
        if side not in SIDE_CODES:
            raise self._reject(f"side must be 'buy' or 'sell', got {side!r}")
        if tif not in TIF_CODES:
            raise self._reject(f"tif must be 'GTC', 'IOC' or 'FOK', got {tif!r}")
        self._check_positive("qty", qty)
        if price is not None:
            self._check_positive("price", price)
        self._count["submitted"] += 1
        limit = None if price is None else int(price)
        return self._match(int(order_id), SIDE_CODES[side], int(qty), limit, TIF_CODES[tif])

    def cancel(self, order_id: int) -> int:
        """Remove a resting order and return the quantity it still had.

        Runtime complexity: O(1) (plus O(L) if its level empties and is not
        the best).

        Example:
            >>> book = OrderBook()
            >>> book.submit(7, "buy", 10, price=99)
            []
            >>> book.cancel(7), len(book)
            (10, 0)
        """
        order = self._resting(order_id)
        self._remove(order)
        self._count["cancelled"] += 1
        return order.qty

    def modify(
        self, order_id: int, qty: int | None = None, price: int | None = None
    ) -> list[Trade]:
        """Change a resting order's remaining quantity and/or price.

        ``qty`` is the new *remaining* quantity (fills so far don't count).
        Same price and a qty no larger than the remaining one: reduced in
        place, time priority kept, returns ``[]``. Otherwise (qty raised or
        price changed) the order loses priority: it is taken out and entered
        again as a GTC limit order with the same id and side, so a new price
        that crosses trades, and any remainder rests at the back of its level.

        Runtime complexity: O(1) to reduce in place; otherwise as
        :meth:`cancel` followed by :meth:`submit`.

        Example:
            >>> book = OrderBook()
            >>> book.submit(1, "buy", 5, price=99), book.submit(2, "buy", 5, price=99)
            ([], [])
            >>> book.modify(1, qty=2)            # reduce: 1 stays first
            []
            >>> [(t.maker_id, t.qty) for t in book.submit(3, "sell", 3, price=99)]
            [(1, 2), (2, 1)]
            >>> book.submit(4, "sell", 1, price=101)
            []
            >>> book.modify(2, price=101)        # reprice across the spread: trades
            [Trade(maker_id=4, taker_id=2, price=101, qty=1)]
            >>> book.order(2)
            RestingOrder(order_id=2, side='buy', price=101, qty=3)
        """
        order = self._resting(order_id)
        if qty is None and price is None:
            raise self._reject("nothing to modify: give qty and/or price")
        if qty is not None:
            self._check_positive("qty", qty)
        if price is not None:
            self._check_positive("price", price)
        new_qty = order.qty if qty is None else int(qty)
        new_price = order.price if price is None else int(price)
        self._count["modified"] += 1
        if new_price == order.price and new_qty <= order.qty:
            level = self._side(order.side).levels[order.price]
            level.total -= order.qty - new_qty
            order.qty = new_qty
            return []
        self._remove(order)
        return self._match(order.order_id, order.side, new_qty, new_price, GTC)

    def process(self, ops: np.ndarray) -> tuple[np.ndarray, int]:
        """Apply an ops array (``OPS_DTYPE``) row by row through the API.

        Returns ``(trades, n_rejected)``: a ``TRADES_DTYPE`` array of every
        fill in execution order, and how many rows were rejected (invalid
        rows, unknown kinds included, are counted and skipped, never applied).
        The same contract as ``FastOrderBook.process``, so the two books can
        be compared on the same array.

        Runtime complexity: the sum of the requests' costs.

        Example:
            >>> from rtkit.orderbook.types import OPS_DTYPE, SUBMIT, CANCEL, BUY, SELL, GTC
            >>> ops = np.array([(SUBMIT, 1, SELL, 5, 100, GTC), (SUBMIT, 2, BUY, 2, 0, GTC),
            ...                 (CANCEL, 9, 0, 0, 0, 0)], dtype=OPS_DTYPE)
            >>> trades, n_rejected = OrderBook().process(ops)
            >>> trades.tolist(), n_rejected
            ([(1, 2, 100, 2)], 1)
        """
        if not isinstance(ops, np.ndarray) or ops.dtype != OPS_DTYPE or ops.ndim != 1:
            raise ConfigError("ops must be a one-dimensional array of OPS_DTYPE")
        trades: list[Trade] = []
        rejected = 0
        for kind, order_id, side, qty, price, tif in ops.tolist():
            try:
                if kind == SUBMIT:  # an unknown side or tif code is rejected by submit
                    side, tif = SIDE_NAMES.get(side, side), TIF_NAMES.get(tif, tif)
                    trades += self.submit(order_id, side, qty, price or None, tif)
                elif kind == CANCEL:
                    self.cancel(order_id)
                elif kind == MODIFY:
                    trades += self.modify(order_id, qty or None, price or None)
                else:
                    raise self._reject(f"kind must be {SUBMIT}, {CANCEL} or {MODIFY}, got {kind}")
            except OrderRejected:
                rejected += 1
        out = np.array([(t.maker_id, t.taker_id, t.price, t.qty) for t in trades], TRADES_DTYPE)
        return out, rejected

    # -- queries -------------------------------------------------------------

    def best_bid(self) -> tuple[int, int] | None:
        """``(price, total_qty)`` of the highest bid, or ``None``. Runtime complexity: O(1)."""
        level = self._bids.best()
        return None if level is None else (level.price, level.total)

    def best_ask(self) -> tuple[int, int] | None:
        """``(price, total_qty)`` of the lowest ask, or ``None``.

        Runtime complexity: O(1).

        Example:
            >>> book = OrderBook()
            >>> _ = book.submit(1, "sell", 2, price=105), book.submit(2, "sell", 3, price=104)
            >>> book.best_ask(), book.best_bid()
            ((104, 3), None)
        """
        level = self._asks.best()
        return None if level is None else (level.price, level.total)

    def depth(self, levels: int = 5) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best ``levels`` price levels of each side as ``(price, total_qty)``.

        Bids come highest first, asks lowest first.

        Runtime complexity: O(levels).

        Example:
            >>> book = OrderBook()
            >>> for i, p in enumerate((98, 99, 99, 101)):
            ...     _ = book.submit(i, "buy" if p < 100 else "sell", 1, price=p)
            >>> book.depth()
            ([(99, 2), (98, 1)], [(101, 1)])
        """
        n = check_int("levels", levels, minimum=1)
        bids = [(lv.price, lv.total) for lv in itertools.islice(self._bids.best_first(), n)]
        asks = [(lv.price, lv.total) for lv in itertools.islice(self._asks.best_first(), n)]
        return bids, asks

    def order(self, order_id: int) -> RestingOrder | None:
        """A copy of resting order ``order_id``, or ``None``. Runtime complexity: O(1)."""
        if not is_int(order_id):
            raise OrderRejected(f"order_id must be an integer, got {order_id!r}")
        o = self._orders.get(int(order_id))
        return None if o is None else RestingOrder(o.order_id, SIDE_NAMES[o.side], o.price, o.qty)

    def orders(self) -> list[RestingOrder]:
        """Every resting order: bids then asks, best level first, FIFO within a level.

        Runtime complexity: O(n).
        """
        return [
            RestingOrder(o.order_id, SIDE_NAMES[o.side], o.price, o.qty)
            for side in (self._bids, self._asks)
            for level in side.best_first()
            for o in level.orders.values()
        ]

    def __len__(self) -> int:
        """The number of resting orders. Runtime complexity: O(1)."""
        return len(self._orders)

    def __repr__(self) -> str:
        return f"OrderBook({self.symbol!r}, bid={self.best_bid()}, ask={self.best_ask()})"

    def stats(self) -> BookStats:
        """Counters and sizes as a frozen :class:`BookStats`. Runtime complexity: O(1)."""
        n_bids, n_asks = len(self._bids.levels), len(self._asks.levels)
        return BookStats(len(self._orders), n_bids, n_asks, **self._count)

    def _check(self) -> None:
        """Assert every invariant of the book (tests call it after each operation)."""
        seen = 0
        for side in (self._bids, self._asks):
            assert side.keys == sorted(side.keys)
            assert len(side.keys) == len(side.levels) == len(set(side.keys))
            for key in side.keys:
                level = side.levels[side.sign * key]
                assert level.price == side.sign * key
                assert level.orders, f"empty level kept at {level.price}"
                assert level.total == sum(o.qty for o in level.orders.values())
                seqs = [o.seq for o in level.orders.values()]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "fifo broken"
                for order_id, o in level.orders.items():
                    assert o.order_id == order_id and self._orders.get(order_id) is o
                    assert o.qty > 0 and o.price == level.price
                    assert o.side == (BUY if side is self._bids else SELL)
                    seen += 1
        assert seen == len(self._orders), "id index holds orders that are not in a level"
        bid, ask = self.best_bid(), self.best_ask()
        assert bid is None or ask is None or bid[0] < ask[0], f"crossed at rest: {bid} {ask}"

    # -- internals -----------------------------------------------------------

    def _reject(self, message: str) -> OrderRejected:
        self._count["rejected"] += 1
        return OrderRejected(message)

    def _check_id(self, order_id: object) -> None:
        if not is_int(order_id):
            raise self._reject(f"order_id must be an integer, got {order_id!r}")
        if order_id < 0:
            raise self._reject(f"order_id must be >= 0, got {order_id}")

    def _check_new_id(self, order_id: object) -> None:
        self._check_id(order_id)
        if order_id in self._orders:
            raise self._reject(f"order_id {order_id} is already resting")

    def _resting(self, order_id: object) -> _Order:
        self._check_id(order_id)
        order = self._orders.get(order_id)
        if order is None:
            raise self._reject(f"no resting order with order_id {order_id}")
        return order

    def _check_positive(self, name: str, value: object) -> None:
        if not is_int(value):
            raise self._reject(f"{name} must be an integer, got {value!r}")
        if value <= 0:
            raise self._reject(f"{name} must be > 0, got {value}")

    def _side(self, side: int) -> _Side:
        return self._bids if side == BUY else self._asks

    def _remove(self, order: _Order) -> None:
        side = self._side(order.side)
        level = side.levels[order.price]
        del level.orders[order.order_id]
        level.total -= order.qty
        if not level.orders:
            side.remove_level(order.price)
        del self._orders[order.order_id]

    def _crosses(self, side: int, price: int | None, resting_price: int) -> bool:
        """Would an incoming order on ``side`` at ``price`` trade at ``resting_price``?"""
        if price is None:
            return True
        return price >= resting_price if side == BUY else price <= resting_price

    def _available(self, side: int, price: int | None, wanted: int) -> int:
        """Opposite quantity at prices ``price`` accepts, summed until ``wanted`` is reached."""
        total = 0
        for level in self._side(-side).best_first():
            if total >= wanted or not self._crosses(side, price, level.price):
                break
            total += level.total
        return total

    def _match(
        self, taker_id: int, side: int, qty: int, price: int | None, tif: int
    ) -> list[Trade]:
        if tif == FOK and self._available(side, price, qty) < qty:
            self._count["fok_killed"] += 1
            return []
        opposite = self._side(-side)
        trades: list[Trade] = []
        while qty:
            level = opposite.best()
            if level is None or not self._crosses(side, price, level.price):
                break
            while qty and level.orders:
                maker = next(iter(level.orders.values()))
                fill = min(qty, maker.qty)
                trades.append(Trade(maker.order_id, taker_id, level.price, fill))
                qty -= fill
                maker.qty -= fill
                level.total -= fill
                if maker.qty == 0:
                    level.orders.popitem(last=False)
                    del self._orders[maker.order_id]
            if not level.orders:
                opposite.remove_level(level.price)
        self._count["trades"] += len(trades)
        self._count["volume"] += sum(t.qty for t in trades)
        if qty and price is not None and tif == GTC:
            self._seq += 1
            order = _Order(taker_id, side, price, qty, self._seq)
            level = self._side(side).level_at(price)
            level.orders[taker_id] = order
            level.total += qty
            self._orders[taker_id] = order
        return trades
