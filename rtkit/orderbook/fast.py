"""FastOrderBook: the reference order book's rules, compiled with numba.

Same requests, same answers as :class:`~rtkit.orderbook.book.OrderBook`
(price-time priority, trades at the resting order's price, GTC/IOC/FOK,
market orders, modify keeping or losing priority); a differential test holds
the two to identical trades, depth and rejections. What changes is the data
layout, the one a production matching engine uses:

* a **price-indexed level table**: the level at price ``p`` is row ``p``, so
  finding it is an array index, not a search;
* an **intrusive doubly linked FIFO** per level (prev/next slot numbers in
  the order table): append, fill from the front and cancel from the middle
  are all O(1);
* an **id -> slot hash table** in arrays (open addressing, no tombstones),
  so ids can be any int64 >= 0;
* the **best bid and ask** kept as numbers and, when a best level empties,
  the next one found through a two-level bitmap of non-empty prices (at most
  ``max_price / 4096`` words read, however sparse the book);
* a **free list of order slots**: everything is preallocated, nothing is
  allocated per order and no Python object is touched while matching.

All the matching logic is in ``@njit(cache=True)`` kernels
(``rtkit/orderbook/_fastcore.py``). :meth:`FastOrderBook.process` runs a
whole ops array in one compiled call; the per-call methods (``submit``,
``cancel``, ``modify``) validate their arguments in Python and then call the
very same kernels, so both paths share one implementation.

**Bounds** (fixed at construction; the arrays are sized from them):

* ``max_orders``: resting orders at once. A GTC limit order that would have
  to rest when the book already holds ``max_orders`` is rejected before it
  trades (an order that would fill completely is still accepted).
* ``max_price``: the highest price in ticks; a higher price is rejected.
  The level table costs 32 bytes per tick, touched only where orders rest.
* ``max_qty``: the largest quantity, ``(2**63 - 1) // (max_orders + 1)`` by
  default, so no level total or FOK sum can overflow int64.
* order ids must be < 2**63 (int64).

A request outside a bound is rejected like any other invalid request
(:class:`~rtkit.orderbook.types.OrderRejected`, counted, book unchanged).
Memory: 64 bytes per order slot, 32 per tick, 16 per hash entry (two per
order slot, rounded up to a power of two).

Invariant (checked by :meth:`FastOrderBook._check`): as the reference, plus
the layout's own: links consistent both ways, the bitmap marks exactly the
non-empty prices, the best prices and level counts match the levels, the
hash table holds exactly the resting orders, and every slot is either
resting or on the free list.

Seed 000 section 2: S000-25 (a level per price, not per order) and S000-32
(O(1) cancel through an id index into an intrusive FIFO), done the way a
matching engine does them; the order-book lesson measures it against the
reference.

Example:
    >>> book = FastOrderBook(max_orders=1_000, max_price=10_000)
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

from dataclasses import dataclass

import numpy as np

from rtkit.errors import ConfigError, check_int
from rtkit.orderbook import _fastcore as core
from rtkit.orderbook import _fastquery as query
from rtkit.orderbook.types import (
    OPS_DTYPE,
    SIDE_CODES,
    SIDE_NAMES,
    TIF_CODES,
    TRADES_DTYPE,
    BookStats,
    OrderRejected,
    RestingOrder,
    Trade,
    is_int,
)

__all__ = ["FastBookStats", "FastOrderBook"]

_INT64_MAX = 2**63 - 1

_CHECK_ERRORS = {
    1: "empty level at price {} has leftovers or is marked non-empty",
    2: "level at price {} is missing from the bitmap",
    3: "broken fifo links at price {}",
    4: "order in the wrong level, or with qty <= 0, at price {}",
    5: "fifo order broken at price {}",
    6: "id index does not find an order at price {}",
    7: "tail, total or count wrong at price {}",
    8: "crossed at rest: a bid at {} above an ask",
    9: "summary bitmap out of step at word {}",
    10: "order count, level counts or best prices wrong",
    11: "id index holds slot {}, which is not that resting order",
    12: "free list holds a slot in use, or loops, at slot {}",
    13: "order slots lost or counted twice",
}


@dataclass(frozen=True, slots=True)
class FastBookStats(BookStats):
    """Counters of a :class:`FastOrderBook`, from :meth:`FastOrderBook.stats`.

    The fields of :class:`~rtkit.orderbook.types.BookStats`, same meaning
    (``submitted``, ``cancelled``, ``modified`` count accepted requests,
    ``rejected`` refused ones, ``fok_killed`` FOK orders that did nothing),
    plus the book's bounds ``max_orders`` and ``max_price``.
    """

    max_orders: int
    max_price: int


class FastOrderBook:
    """A limit order book with the reference's rules over preallocated arrays.

    ``max_orders`` bounds the resting orders, ``max_price`` the prices (in
    ticks) and ``max_qty`` the quantities (see the module docstring). Every
    request is validated completely before anything changes: a rejected
    request raises :class:`~rtkit.orderbook.types.OrderRejected`, counts in
    ``stats().rejected`` and leaves the book exactly as it was.

    Example:
        >>> book = FastOrderBook("XYZ", max_orders=100, max_price=1_000)
        >>> book.submit(1, "buy", 10, price=99)
        []
        >>> book.submit(2, "sell", 4)   # market sell
        [Trade(maker_id=1, taker_id=2, price=99, qty=4)]
        >>> book.best_bid(), book.order(1)
        ((99, 6), RestingOrder(order_id=1, side='buy', price=99, qty=6))
        >>> book.submit(3, "buy", 1, price=1_001)
        Traceback (most recent call last):
        ...
        rtkit.orderbook.types.OrderRejected: price must be <= max_price (1000), got 1001
    """

    def __init__(
        self,
        symbol: str = "XYZ",
        *,
        max_orders: int = 100_000,
        max_price: int = 1_000_000,
        max_qty: int | None = None,
    ) -> None:
        if not isinstance(symbol, str) or not symbol:
            raise ConfigError(f"symbol must be a non-empty string, got {symbol!r}")
        max_orders = check_int("max_orders", max_orders, minimum=1)
        max_price = check_int("max_price", max_price, minimum=1)
        if max_orders > 2**31 or max_price > 2**31:
            raise ConfigError("max_orders and max_price must be <= 2**31")
        limit = _INT64_MAX // (max_orders + 1)
        max_qty = limit if max_qty is None else check_int("max_qty", max_qty, minimum=1)
        if max_qty > limit:
            raise ConfigError(f"max_qty must be <= (2**63 - 1) // (max_orders + 1) = {limit}")
        self.symbol = symbol
        self.max_orders, self.max_price, self.max_qty = max_orders, max_price, max_qty
        self._bk = core.new_book(max_orders, max_price, max_qty)
        self._meta = self._bk[5]
        self._scratch = np.empty((64, 4), np.int64)

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

        The rules of :meth:`OrderBook.submit <rtkit.orderbook.book.OrderBook.submit>`,
        within this book's bounds.

        Runtime complexity: O(1) to rest and O(1) per fill, plus O(max_price /
        4096) word reads when a level empties; a FOK sums the crossing
        levels first.

        Example:
            >>> book = FastOrderBook(max_orders=10, max_price=1_000)
            >>> book.submit(1, "sell", 3, price=100)
            []
            >>> book.submit(2, "buy", 5, price=100, tif="FOK")
            []
            >>> book.submit(3, "buy", 5, price=100, tif="IOC")
            [Trade(maker_id=1, taker_id=3, price=100, qty=3)]
            >>> len(book)
            0
        """
        oid = self._check_id(order_id)
        if side not in SIDE_CODES:
            raise self._reject(f"side must be 'buy' or 'sell', got {side!r}")
        if tif not in TIF_CODES:
            raise self._reject(f"tif must be 'GTC', 'IOC' or 'FOK', got {tif!r}")
        qty = self._check_qty(qty)
        price = 0 if price is None else self._check_price(price)
        trades = self._room()
        status, nt = core.submit(
            self._bk, oid, SIDE_CODES[side], qty, price, TIF_CODES[tif], trades, 0
        )
        self._raise_unless_ok(status, oid)
        return self._trades(nt)

    def cancel(self, order_id: int) -> int:
        """Remove a resting order and return the quantity it still had.

        Runtime complexity: O(1) (plus the bitmap search if it empties the
        best level).

        Example:
            >>> book = FastOrderBook(max_orders=10, max_price=1_000)
            >>> book.submit(7, "buy", 10, price=99)
            []
            >>> book.cancel(7), len(book)
            (10, 0)
        """
        oid = self._check_id(order_id)
        status, qty = core.cancel(self._bk, oid)
        self._raise_unless_ok(status, oid)
        return int(qty)

    def modify(
        self, order_id: int, qty: int | None = None, price: int | None = None
    ) -> list[Trade]:
        """Change a resting order's remaining quantity and/or price.

        The rules of :meth:`OrderBook.modify <rtkit.orderbook.book.OrderBook.modify>`:
        same price and a qty no larger than the remaining one reduces in
        place and keeps priority; anything else re-enters the order as a GTC
        limit order with the same id and side (it may trade).

        Runtime complexity: O(1) in place; otherwise as cancel plus submit.

        Example:
            >>> book = FastOrderBook(max_orders=10, max_price=1_000)
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
        oid = self._check_id(order_id)
        if core.find(self._bk[4], self._meta[core.M_HASH_MASK], oid) == 0:
            raise self._reject(f"no resting order with order_id {oid}")
        if qty is None and price is None:
            raise self._reject("nothing to modify: give qty and/or price")
        qty = 0 if qty is None else self._check_qty(qty)
        price = 0 if price is None else self._check_price(price)
        trades = self._room()
        status, nt = core.modify(self._bk, oid, qty, price, trades, 0)
        self._raise_unless_ok(status, oid)
        return self._trades(nt)

    def process(self, ops: np.ndarray) -> tuple[np.ndarray, int]:
        """Apply an ops array (``OPS_DTYPE``) in one compiled call.

        Returns ``(trades, n_rejected)``: a ``TRADES_DTYPE`` array of every
        fill in execution order, and how many rows were rejected. A rejected
        row (invalid fields, unknown kind, unknown or duplicate id, a bound
        exceeded) is counted and skipped, never partly applied. The same
        contract as :meth:`OrderBook.process <rtkit.orderbook.book.OrderBook.process>`.

        Runtime complexity: the sum of the requests' costs; no allocation
        per op (the trades buffer doubles when it might run short).

        Example:
            >>> from rtkit.orderbook.types import OPS_DTYPE, SUBMIT, CANCEL, BUY, SELL, GTC
            >>> ops = np.array([(SUBMIT, 1, SELL, 5, 100, GTC), (SUBMIT, 2, BUY, 2, 0, GTC),
            ...                 (CANCEL, 9, 0, 0, 0, 0)], dtype=OPS_DTYPE)
            >>> trades, n_rejected = FastOrderBook(max_orders=10, max_price=1_000).process(ops)
            >>> trades.tolist(), n_rejected
            ([(1, 2, 100, 2)], 1)
        """
        if not isinstance(ops, np.ndarray) or ops.dtype != OPS_DTYPE or ops.ndim != 1:
            raise ConfigError("ops must be a one-dimensional array of OPS_DTYPE")
        columns = [ops[name] for name in OPS_DTYPE.names]
        # The kernel writes rows of four int64 straight into the result's memory
        # (a TRADES_DTYPE record is four int64), so nothing is converted or copied
        # at the end: the array is only shrunk to the rows used, in place. It
        # starts at one row per two ops, and doubles if an op might overflow it.
        out = np.empty(len(ops) // 2 + len(self) + 64, TRADES_DTYPE)
        start = nt = rejected = 0
        while True:
            rows = out.view(np.int64).reshape(len(out), 4)
            start, nt, more = core.process(self._bk, *columns, start, rows, nt)
            rejected += more
            del rows  # the only other view of `out`: resize below needs none
            if start == len(ops):
                break
            bigger = np.empty(2 * len(out) + len(self), TRADES_DTYPE)
            bigger[:nt] = out[:nt]
            out = bigger
        out.resize(nt, refcheck=False)  # realloc: shrinking gives back memory without a copy
        return out, int(rejected)

    # -- queries -------------------------------------------------------------

    def best_bid(self) -> tuple[int, int] | None:
        """``(price, total_qty)`` of the highest bid, or ``None``. Runtime complexity: O(1)."""
        return self._level(self._meta[core.M_BEST_BID])

    def best_ask(self) -> tuple[int, int] | None:
        """``(price, total_qty)`` of the lowest ask, or ``None``.

        Runtime complexity: O(1).

        Example:
            >>> book = FastOrderBook(max_orders=10, max_price=1_000)
            >>> _ = book.submit(1, "sell", 2, price=105), book.submit(2, "sell", 3, price=104)
            >>> book.best_ask(), book.best_bid()
            ((104, 3), None)
        """
        return self._level(self._meta[core.M_BEST_ASK])

    def depth(self, levels: int = 5) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best ``levels`` price levels of each side as ``(price, total_qty)``.

        Bids come highest first, asks lowest first.

        Runtime complexity: O(levels) plus the bitmap words between them.

        Example:
            >>> book = FastOrderBook(max_orders=10, max_price=1_000)
            >>> for i, p in enumerate((98, 99, 99, 101)):
            ...     _ = book.submit(i, "buy" if p < 100 else "sell", 1, price=p)
            >>> book.depth()
            ([(99, 2), (98, 1)], [(101, 1)])
        """
        n = check_int("levels", levels, minimum=1)
        m = self._meta
        bids = query.depth(self._bk, 1, min(n, int(m[core.M_BID_LEVELS])))
        asks = query.depth(self._bk, -1, min(n, int(m[core.M_ASK_LEVELS])))
        return [(p, q) for p, q in bids.tolist()], [(p, q) for p, q in asks.tolist()]

    def order(self, order_id: int) -> RestingOrder | None:
        """A copy of resting order ``order_id``, or ``None``. Runtime complexity: O(1)."""
        if not is_int(order_id):
            raise OrderRejected(f"order_id must be an integer, got {order_id!r}")
        if not 0 <= order_id <= _INT64_MAX:
            return None
        slot = core.find(self._bk[4], self._meta[core.M_HASH_MASK], int(order_id))
        if slot == 0:
            return None
        row = self._bk[0][slot]
        return RestingOrder(
            int(order_id), SIDE_NAMES[int(row[core.O_SIDE])], int(row[core.O_PRICE]),
            int(row[core.O_QTY]),
        )  # fmt: skip

    def orders(self) -> list[RestingOrder]:
        """Every resting order: bids then asks, best level first, FIFO within a level.

        Runtime complexity: O(n).
        """
        return [
            RestingOrder(oid, SIDE_NAMES[side], price, qty)
            for oid, side, price, qty in query.resting(self._bk).tolist()
        ]

    def __len__(self) -> int:
        """The number of resting orders. Runtime complexity: O(1)."""
        return int(self._meta[core.M_ORDERS])

    def __repr__(self) -> str:
        return f"FastOrderBook({self.symbol!r}, bid={self.best_bid()}, ask={self.best_ask()})"

    def stats(self) -> FastBookStats:
        """Counters, sizes and bounds as a frozen :class:`FastBookStats`. O(1)."""
        m = self._meta
        return FastBookStats(
            *(int(m[i]) for i in (core.M_ORDERS, core.M_BID_LEVELS, core.M_ASK_LEVELS)),
            *(int(m[i]) for i in (core.M_SUBMITTED, core.M_CANCELLED, core.M_MODIFIED)),
            *(int(m[i]) for i in (core.M_REJECTED, core.M_FOK_KILLED)),
            *(int(m[i]) for i in (core.M_TRADES, core.M_VOLUME)),
            self.max_orders,
            self.max_price,
        )

    def _check(self) -> None:
        """Assert every invariant (tests call it after each operation).

        Runtime complexity: O(max_price + max_orders): it walks every array.
        """
        code, where = query.check(self._bk)
        assert code == 0, _CHECK_ERRORS[int(code)].format(int(where))

    # -- internals -----------------------------------------------------------

    def _reject(self, message: str) -> OrderRejected:
        self._meta[core.M_REJECTED] += 1
        return OrderRejected(message)

    def _check_id(self, order_id: object) -> int:
        if not is_int(order_id):
            raise self._reject(f"order_id must be an integer, got {order_id!r}")
        if not 0 <= order_id <= _INT64_MAX:
            raise self._reject(f"order_id must be >= 0 and < 2**63, got {order_id}")
        return int(order_id)

    def _check_qty(self, qty: object) -> int:
        if not is_int(qty):
            raise self._reject(f"qty must be an integer, got {qty!r}")
        if qty <= 0:
            raise self._reject(f"qty must be > 0, got {qty}")
        if qty > self.max_qty:
            raise self._reject(f"qty must be <= max_qty ({self.max_qty}), got {qty}")
        return int(qty)

    def _check_price(self, price: object) -> int:
        if not is_int(price):
            raise self._reject(f"price must be an integer, got {price!r}")
        if price <= 0:
            raise self._reject(f"price must be > 0, got {price}")
        if price > self.max_price:
            raise self._reject(f"price must be <= max_price ({self.max_price}), got {price}")
        return int(price)

    def _raise_unless_ok(self, status: int, oid: int) -> None:
        if status == core.OK:
            return
        if status == core.R_DUPLICATE:
            message = f"order_id {oid} is already resting"
        elif status == core.R_UNKNOWN:
            message = f"no resting order with order_id {oid}"
        elif status == core.R_FULL:
            message = f"book full: {self.max_orders} orders resting (max_orders)"
        else:  # the Python checks above catch everything else first
            message = f"request refused (status {status})"
        raise self._reject(message)

    def _room(self) -> np.ndarray:
        """A trades buffer with room for one request's fills (at most one per resting order)."""
        if len(self._scratch) < len(self) + 1:
            self._scratch = np.empty((2 * len(self) + 1, 4), np.int64)
        return self._scratch

    def _trades(self, nt: int) -> list[Trade]:
        return [Trade(*row) for row in self._scratch[:nt].tolist()]

    def _level(self, price: int) -> tuple[int, int] | None:
        if price == 0:
            return None
        return int(price), int(self._bk[1][price, core.L_QTY])
