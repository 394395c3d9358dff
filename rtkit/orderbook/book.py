"""OrderBook: a price-time priority limit order book, the readable reference.

One instrument, one thread, requests applied in the order they arrive.
Prices are integer ticks, quantities integer lots. Each side keeps a map
price -> level plus the level prices in a sorted list (``bisect``); each level
is a FIFO of its resting orders (an ``OrderedDict`` of order id -> remaining
qty, so cancelling from the middle is O(1)) and carries its aggregate
quantity; an id -> (level, arrival number) index finds any resting order in
O(1).

Why this shape, and not one object per order: in pure Python the cost of a
request is mostly the objects it creates and the Python calls it makes, not
the dict and list operations, which run in C. So a resting order is one
entry in its level's ``OrderedDict`` and one in the id index, with no record
of its own; validation takes a fast path of exact-type checks for the common
case (built-in ints, known strings); the matching loop uses locals and makes
no helper calls except to build each :class:`~rtkit.orderbook.types.Trade`.
The trades returned are the one object per fill the API promises.

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

_MARKET = float("-inf")  # the crossing limit of a market order: below every key (see _Side)

# A Trade per fill is a large share of what the book costs. Trade(...) runs the
# dataclass's generated __init__, which (the class being frozen) stores each
# field with object.__setattr__(self, "name", value): a lookup by name per field.
# _new_trade builds the very same frozen object by writing its four slots through
# their descriptors: about twice as fast.
_new_object = object.__new__
_set_maker_id, _set_taker_id, _set_price, _set_qty = (
    getattr(Trade, name).__set__ for name in ("maker_id", "taker_id", "price", "qty")
)


def _new_trade(maker_id: int, taker_id: int, price: int, qty: int) -> Trade:
    trade = _new_object(Trade)
    _set_maker_id(trade, maker_id)
    _set_taker_id(trade, taker_id)
    _set_price(trade, price)
    _set_qty(trade, qty)
    return trade


class _Level(OrderedDict):
    """One price on one side: its resting orders, oldest first, and their total.

    The level *is* its queue: an ``OrderedDict`` mapping order id -> remaining
    qty in arrival order. It keeps insertion order in a linked list, so
    appending at the back, reading and removing the front, and removing any
    id from the middle are all O(1), and all done in C. A resting order needs
    no object of its own: its id, its qty here, and its level (side and
    price) in the book's id index say everything about it. Fewer objects per
    order is most of what makes a pure-Python book fast: allocating one (and
    having the garbage collector scan it later) costs more than the dict
    operations around it.
    """

    __slots__ = ("price", "side", "total")  # set by _Side.add_level


class _Side:
    """The levels of one side of the book.

    ``levels`` maps price -> level; ``keys`` holds ``sign * price`` for every
    level, ascending, with ``sign`` +1 for bids and -1 for asks: the best price
    is then always at the end of the list, so emptying the best level (what
    matching does) is a ``pop()``, and "does an incoming order cross this
    level" is one comparison whichever the side: ``key >= sign * limit``.
    Adding or removing any other level shifts the list: O(L) in the number of
    levels, a ``memmove`` that stays cheap at realistic depths (a balanced
    tree or a skip list would make it O(log L) with a much larger constant).
    """

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign  # also the side's code: BUY is +1, SELL is -1
        self.levels: dict[int, _Level] = {}
        self.keys: list[int] = []

    def best(self) -> _Level | None:
        return self.levels[self.sign * self.keys[-1]] if self.keys else None

    def add_level(self, price: int) -> _Level:
        # No __init__ of our own: a class whose __init__ is Python code costs about
        # twice as much to instantiate, and the thin book makes a level per order.
        level = self.levels[price] = _Level()
        level.side, level.price, level.total = self.sign, price, 0
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
        # The id index: order id -> (its level, its arrival number). The arrival
        # number is only read by _check, to prove that every level is in FIFO order.
        self._orders: dict[int, tuple[_Level, int]] = {}
        self._seq = 0
        # Counters are plain attributes, not a dict: one less lookup per update.
        self._submitted = self._cancelled = self._modified = self._rejected = 0
        self._fok_killed = self._trades = self._volume = 0

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
        # The common case first, in one expression: built-in ints tested with
        # `type(x) is int` (an exact-type check, several times cheaper than the
        # isinstance/ABC test behind is_int). Anything else -- a numpy integer,
        # a bad value -- takes _checked_submit, which runs every check in order
        # and raises the first failure, or returns the values as plain ints.
        if not (
            type(order_id) is int
            and type(qty) is int
            and order_id >= 0
            and qty > 0
            and (price is None or (type(price) is int and price > 0))
            and (side == "buy" or side == "sell")
            and (tif == "GTC" or tif == "IOC" or tif == "FOK")
            and order_id not in self._orders
        ):
            order_id, qty, price = self._checked_submit(order_id, side, qty, price, tif)
        self._submitted += 1
        return self._match(order_id, BUY if side == "buy" else SELL, qty, price, tif)

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
        if type(order_id) is not int or order_id not in self._orders:
            self._resting(order_id)  # raises, unless it is a resting id as a numpy integer
            order_id = int(order_id)
        qty = self._remove(order_id)
        self._cancelled += 1
        return qty

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
        entry = self._orders.get(order_id) if type(order_id) is int else None
        if entry is None:
            entry = self._resting(order_id)
            order_id = int(order_id)
        if qty is None and price is None:
            raise self._reject("nothing to modify: give qty and/or price")
        if qty is not None:
            self._check_positive("qty", qty)
        if price is not None:
            self._check_positive("price", price)
        level = entry[0]
        old_qty = level[order_id]
        new_qty = old_qty if qty is None else int(qty)
        new_price = level.price if price is None else int(price)
        self._modified += 1
        if new_price == level.price and new_qty <= old_qty:
            level[order_id] = new_qty  # an existing key keeps its place: priority kept
            level.total -= old_qty - new_qty
            return []
        self._remove(order_id)  # out of the book, then in again at the back of a level
        return self._match(order_id, level.side, new_qty, new_price, "GTC")

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
        order_id = int(order_id)
        entry = self._orders.get(order_id)
        if entry is None:
            return None
        level = entry[0]
        return RestingOrder(order_id, SIDE_NAMES[level.side], level.price, level[order_id])

    def orders(self) -> list[RestingOrder]:
        """Every resting order: bids then asks, best level first, FIFO within a level.

        Runtime complexity: O(n).
        """
        return [
            RestingOrder(order_id, SIDE_NAMES[level.side], level.price, qty)
            for side in (self._bids, self._asks)
            for level in side.best_first()
            for order_id, qty in level.items()
        ]

    def __len__(self) -> int:
        """The number of resting orders. Runtime complexity: O(1)."""
        return len(self._orders)

    def __repr__(self) -> str:
        return f"OrderBook({self.symbol!r}, bid={self.best_bid()}, ask={self.best_ask()})"

    def stats(self) -> BookStats:
        """Counters and sizes as a frozen :class:`BookStats`. Runtime complexity: O(1)."""
        return BookStats(
            len(self._orders), len(self._bids.levels), len(self._asks.levels),
            self._submitted, self._cancelled, self._modified, self._rejected,
            self._fok_killed, self._trades, self._volume,
        )  # fmt: skip

    def _check(self) -> None:
        """Assert every invariant of the book (tests call it after each operation)."""
        seen = 0
        for side in (self._bids, self._asks):
            assert side.keys == sorted(side.keys)
            assert len(side.keys) == len(side.levels) == len(set(side.keys))
            for key in side.keys:
                level = side.levels[side.sign * key]
                assert level.price == side.sign * key and level.side == side.sign
                assert level, f"empty level kept at {level.price}"
                assert level.total == sum(level.values())
                seqs = []
                for order_id, qty in level.items():
                    entry = self._orders.get(order_id)
                    assert entry is not None and entry[0] is level, f"id index lost {order_id}"
                    assert type(order_id) is int and type(qty) is int and qty > 0
                    seqs.append(entry[1])
                    seen += 1
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "fifo broken"
        assert seen == len(self._orders), "id index holds orders that are not in a level"
        bid, ask = self.best_bid(), self.best_ask()
        assert bid is None or ask is None or bid[0] < ask[0], f"crossed at rest: {bid} {ask}"

    # -- internals -----------------------------------------------------------

    def _reject(self, message: str) -> OrderRejected:
        self._rejected += 1
        return OrderRejected(message)

    def _checked_submit(
        self, order_id: object, side: object, qty: object, price: object, tif: object
    ) -> tuple[int, int, int | None]:
        """Every check of a submit, in order: raise the first failure, else plain ints."""
        self._check_id(order_id)
        if order_id in self._orders:
            raise self._reject(f"order_id {order_id} is already resting")
        if side not in SIDE_CODES:
            raise self._reject(f"side must be 'buy' or 'sell', got {side!r}")
        if tif not in TIF_CODES:
            raise self._reject(f"tif must be 'GTC', 'IOC' or 'FOK', got {tif!r}")
        self._check_positive("qty", qty)
        if price is not None:
            self._check_positive("price", price)
        return int(order_id), int(qty), None if price is None else int(price)

    def _check_id(self, order_id: object) -> None:
        if not is_int(order_id):
            raise self._reject(f"order_id must be an integer, got {order_id!r}")
        if order_id < 0:
            raise self._reject(f"order_id must be >= 0, got {order_id}")

    def _resting(self, order_id: object) -> tuple[_Level, int]:
        self._check_id(order_id)
        entry = self._orders.get(order_id)
        if entry is None:
            raise self._reject(f"no resting order with order_id {order_id}")
        return entry

    def _check_positive(self, name: str, value: object) -> None:
        if not is_int(value):
            raise self._reject(f"{name} must be an integer, got {value!r}")
        if value <= 0:
            raise self._reject(f"{name} must be > 0, got {value}")

    def _remove(self, order_id: int) -> int:
        """Take a resting order out of the book and return its qty. O(1), plus
        O(L) if its level empties and is not the best."""
        level = self._orders.pop(order_id)[0]
        qty = level.pop(order_id)
        level.total -= qty
        if not level:
            (self._bids if level.side == BUY else self._asks).remove_level(level.price)
        return qty

    def _available(self, opposite: _Side, limit: float, wanted: int) -> int:
        """Opposite quantity at levels ``limit`` crosses, summed until ``wanted`` is reached."""
        total = 0
        for key in reversed(opposite.keys):
            if total >= wanted or key < limit:
                break
            total += opposite.levels[opposite.sign * key].total
        return total

    def _match(
        self, taker_id: int, side: int, qty: int, price: int | None, tif: str
    ) -> list[Trade]:
        """Trade an incoming order, then rest what is left of a GTC limit order.

        ``side`` is the code ``BUY`` or ``SELL``: it is stored, with the level.
        ``tif`` is still the validated string: it is only compared, twice.

        The hot path of the book: locals instead of repeated attribute
        lookups, no helper calls inside the fill loop.
        """
        own, opposite = (self._bids, self._asks) if side == BUY else (self._asks, self._bids)
        # In key space (see _Side) the order crosses every level with key >= limit.
        limit = _MARKET if price is None else opposite.sign * price
        if tif == "FOK" and self._available(opposite, limit, qty) < qty:
            self._fok_killed += 1
            return []
        trades: list[Trade] = []
        keys = opposite.keys
        if keys and keys[-1] >= limit:
            wanted = qty
            levels, index, sign = opposite.levels, self._orders, opposite.sign
            while qty and keys and keys[-1] >= limit:
                level = levels[sign * keys[-1]]
                while qty and level:
                    maker_id = next(iter(level))  # the oldest order at the best price
                    maker_qty = level[maker_id]
                    if qty < maker_qty:  # partly filled: it keeps its place
                        fill = qty
                        level[maker_id] = maker_qty - qty
                    else:  # filled: it leaves the book
                        fill = maker_qty
                        del level[maker_id]
                        del index[maker_id]
                    trades.append(_new_trade(maker_id, taker_id, level.price, fill))
                    qty -= fill
                    level.total -= fill
                if not level:  # the best level emptied: the next one is now last
                    del levels[level.price]
                    keys.pop()
            self._trades += len(trades)
            self._volume += wanted - qty
        if qty and price is not None and tif == "GTC":
            level = own.levels.get(price)
            if level is None:
                level = own.add_level(price)
            level[taker_id] = qty
            level.total += qty
            self._seq += 1
            self._orders[taker_id] = (level, self._seq)
        return trades
