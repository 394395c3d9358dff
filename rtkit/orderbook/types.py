"""Shared vocabulary of the order books: dtypes, codes, records, the error.

Both :class:`~rtkit.orderbook.book.OrderBook` (the readable reference) and
:class:`~rtkit.orderbook.fast.FastOrderBook` (the compiled one) speak it, so
an ops array built once can be fed to either and their trades compared
element by element.

An *ops array* (``OPS_DTYPE``) is a batch of requests, one per row:

* ``kind``: :data:`SUBMIT`, :data:`CANCEL` or :data:`MODIFY`;
* ``order_id``: an int >= 0;
* ``side``: :data:`BUY` (1) or :data:`SELL` (-1); read by SUBMIT only;
* ``qty``: > 0 for SUBMIT; for MODIFY, :data:`UNCHANGED` (0) keeps the qty;
* ``price``: ticks > 0, or :data:`MARKET` (0) for a market SUBMIT; for
  MODIFY, :data:`UNCHANGED` (0) keeps the price;
* ``tif``: :data:`GTC`, :data:`IOC` or :data:`FOK`; read by SUBMIT only.

A *trades array* (``TRADES_DTYPE``) has one row per fill, in execution
order: the resting order's id, the incoming order's id, the price (always
the resting order's price) and the quantity.

The Python API takes strings (``"buy"``/``"sell"``, ``"GTC"``/``"IOC"``/
``"FOK"``) and ``price=None`` for a market order; the numeric codes exist for
arrays, where strings would cost an allocation per row.

Prices inside a book are integer ticks (S000-30: float prices make phantom
levels and miss crosses by an ulp). :func:`to_ticks` and :func:`from_ticks`
convert to and from exact decimal prices at the edge.

Example:
    >>> import numpy as np
    >>> ops = np.zeros(2, dtype=OPS_DTYPE)
    >>> ops[0] = (SUBMIT, 1, SELL, 5, 100, GTC)
    >>> ops[1] = (SUBMIT, 2, BUY, 3, MARKET, IOC)
    >>> int(ops["qty"].sum())
    8
    >>> Trade(maker_id=1, taker_id=2, price=100, qty=3)
    Trade(maker_id=1, taker_id=2, price=100, qty=3)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

from rtkit.errors import RtkitError, ValueRangeError

__all__ = [
    "BUY",
    "CANCEL",
    "FOK",
    "GTC",
    "IOC",
    "MARKET",
    "MODIFY",
    "OPS_DTYPE",
    "SELL",
    "SIDE_CODES",
    "SIDE_NAMES",
    "SUBMIT",
    "TIF_CODES",
    "TIF_NAMES",
    "TRADES_DTYPE",
    "UNCHANGED",
    "BookStats",
    "OrderRejected",
    "RestingOrder",
    "Trade",
    "from_ticks",
    "is_int",
    "to_ticks",
]

OPS_DTYPE = np.dtype(
    [
        ("kind", np.uint8),
        ("order_id", np.int64),
        ("side", np.int8),
        ("qty", np.int64),
        ("price", np.int64),
        ("tif", np.uint8),
    ]
)
TRADES_DTYPE = np.dtype(
    [("maker_id", np.int64), ("taker_id", np.int64), ("price", np.int64), ("qty", np.int64)]
)

SUBMIT, CANCEL, MODIFY = 0, 1, 2  # kind
BUY, SELL = 1, -1  # side (int8); the API takes "buy"/"sell"
GTC, IOC, FOK = 0, 1, 2  # tif (uint8); the API takes "GTC"/"IOC"/"FOK"
MARKET = 0  # price 0 in an ops array = market order (price=None in the API)
UNCHANGED = 0  # in a MODIFY op: qty 0 = keep qty, price 0 = keep price

#: API string -> array code, and back.
SIDE_CODES = {"buy": BUY, "sell": SELL}
SIDE_NAMES = {BUY: "buy", SELL: "sell"}
TIF_CODES = {"GTC": GTC, "IOC": IOC, "FOK": FOK}
TIF_NAMES = {GTC: "GTC", IOC: "IOC", FOK: "FOK"}


class OrderRejected(RtkitError, ValueError):
    """Raised when a request is invalid; the book is left exactly as it was.

    Example:
        >>> try:
        ...     raise OrderRejected("qty must be > 0, got 0")
        ... except ValueError as exc:
        ...     print(exc)
        qty must be > 0, got 0
    """


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill: ``qty`` of the resting order ``maker_id`` against the
    incoming order ``taker_id``, at the resting order's ``price`` (ticks)."""

    maker_id: int
    taker_id: int
    price: int
    qty: int


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """A snapshot of a resting order, as returned by ``book.order(order_id)``.

    ``side`` is ``"buy"`` or ``"sell"``, ``price`` in ticks, ``qty`` the
    remaining (unfilled) quantity. A copy: changing the book later does not
    change it, and it cannot change the book.
    """

    order_id: int
    side: str
    price: int
    qty: int


@dataclass(frozen=True, slots=True)
class BookStats:
    """What ``book.stats()`` returns: sizes and counters of a book.

    ``submitted``, ``cancelled`` and ``modified`` count accepted requests;
    ``rejected`` counts refused ones (the book did not change);
    ``fok_killed`` counts FOK orders that could not fill and did nothing;
    ``trades`` and ``volume`` count fills and the quantity they moved.
    """

    resting_orders: int
    bid_levels: int
    ask_levels: int
    submitted: int
    cancelled: int
    modified: int
    rejected: int
    fok_killed: int
    trades: int
    volume: int


def is_int(value: object) -> bool:
    """True for an integer that is not a bool (both books validate with it).

    Example:
        >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
        (True, True, False, False)
    """
    # `type(...) is int` first: the common case, without the cost of an ABC check.
    return type(value) is int or (
        isinstance(value, numbers.Integral) and not isinstance(value, bool)
    )


def _decimal(name: str, value: object) -> Decimal:
    if isinstance(value, float):
        raise ValueRangeError(
            f"{name} must be a Decimal, str or int, not float ({value!r} is not exact "
            f"in binary); pass str({value!r}) if you mean its decimal digits"
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | str | numbers.Integral):
        raise ValueRangeError(f"{name} must be a Decimal, str or int, got {value!r}")
    try:
        result = Decimal(value) if not isinstance(value, numbers.Integral) else Decimal(int(value))
    except ArithmeticError:
        raise ValueRangeError(f"{name} is not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise ValueRangeError(f"{name} must be finite, got {value!r}")
    return result


def _tick(tick_size: object) -> Decimal:
    tick = _decimal("tick_size", tick_size)
    if tick <= 0:
        raise ValueRangeError(f"tick_size must be > 0, got {tick_size!r}")
    return tick


def to_ticks(price: Decimal | str | int, tick_size: Decimal | str | int) -> int:
    """Convert a decimal price to an exact whole number of ticks.

    Exact arithmetic throughout (no rounding): a price that is not a multiple
    of ``tick_size`` is refused, and floats are refused because most decimal
    prices have no exact binary value (S000-30): ``0.1 + 0.2 != 0.3``. Pass
    ``str(x)`` to use a float's shortest decimal repr on purpose. The sign is
    not checked here; the book itself accepts only prices > 0.

    Example:
        >>> to_ticks("100.25", "0.05")
        2005
        >>> to_ticks(Decimal("0.3"), "0.1")
        3
        >>> to_ticks("100.26", "0.05")
        Traceback (most recent call last):
        ...
        rtkit.errors.ValueRangeError: price 100.26 is not a multiple of tick_size 0.05
    """
    value, tick = _decimal("price", price), _tick(tick_size)
    ticks = Fraction(value) / Fraction(tick)
    if ticks.denominator != 1:
        raise ValueRangeError(f"price {value} is not a multiple of tick_size {tick}")
    return int(ticks)


def from_ticks(ticks: int, tick_size: Decimal | str | int) -> Decimal:
    """Convert a whole number of ticks back to an exact decimal price.

    Example:
        >>> from_ticks(10050, "0.01")
        Decimal('100.50')
        >>> from_ticks(to_ticks("99.95", "0.05"), "0.05")
        Decimal('99.95')
    """
    if not is_int(ticks):
        raise ValueRangeError(f"ticks must be an integer, got {ticks!r}")
    _, digits, exponent = _tick(tick_size).as_tuple()
    value = int(ticks) * int("".join(map(str, digits)))
    return Decimal((int(value < 0), tuple(int(d) for d in str(abs(value))), exponent))
