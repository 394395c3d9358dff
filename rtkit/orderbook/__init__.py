"""Limit order books and synthetic order flow (seed 000, section 2).

* :class:`OrderBook` (``book.py``): the readable reference, pure Python.
* :class:`FastOrderBook` (``fast.py``): the same rules compiled with numba;
  a differential test holds the two to identical trades and depth.
* :func:`zero_intelligence`, :func:`deep_book_flow` (``flow.py``): order
  flow as an ops array (``OPS_DTYPE``) that either book can ``process``.
* :class:`TradingEngine` (``engine.py``, with ``messages.py`` and
  ``_shard.py``): several symbols, each owned by one worker, every command
  journalled before it is acknowledged, ``TradingEngine.recover(path)``.
* ``types.py``: the vocabulary both books share (dtypes, codes, ``Trade``,
  ``RestingOrder``, ``BookStats``, ``OrderRejected``, tick conversion).

The compiled modules are imported on first use, so ``import rtkit.orderbook``
stays cheap when only the reference book is needed.

Example:
    >>> from rtkit.orderbook import OrderBook, to_ticks
    >>> book = OrderBook()
    >>> book.submit(1, "sell", 5, price=to_ticks("100.25", "0.05"))
    []
    >>> book.best_ask()
    (2005, 5)
"""

from __future__ import annotations

import importlib
from typing import Any

from rtkit.orderbook.book import OrderBook
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
    SIDE_CODES,
    SIDE_NAMES,
    SUBMIT,
    TIF_CODES,
    TIF_NAMES,
    TRADES_DTYPE,
    UNCHANGED,
    BookStats,
    OrderRejected,
    RestingOrder,
    Trade,
    from_ticks,
    to_ticks,
)

_LAZY = {
    "FastBookStats": "rtkit.orderbook.fast",
    "FastOrderBook": "rtkit.orderbook.fast",
    "deep_book_flow": "rtkit.orderbook.flow",
    "zero_intelligence": "rtkit.orderbook.flow",
    # The engine pulls in rtkit.latency and rtkit.queues (numba): also on first use.
    "TradingEngine": "rtkit.orderbook.engine",
    "Ack": "rtkit.orderbook.messages",
    "Command": "rtkit.orderbook.messages",
    "DepthEvent": "rtkit.orderbook.messages",
    "EngineSnapshot": "rtkit.orderbook.messages",
    "EngineStats": "rtkit.orderbook.messages",
    "SymbolSnapshot": "rtkit.orderbook.messages",
    "Ticket": "rtkit.orderbook.messages",
    "TradeEvent": "rtkit.orderbook.messages",
    "read_journal": "rtkit.orderbook.messages",
}

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
    "Ack",
    "BookStats",
    "Command",
    "DepthEvent",
    "EngineSnapshot",
    "EngineStats",
    "FastBookStats",
    "FastOrderBook",
    "OrderBook",
    "OrderRejected",
    "RestingOrder",
    "SymbolSnapshot",
    "Ticket",
    "Trade",
    "TradeEvent",
    "TradingEngine",
    "deep_book_flow",
    "from_ticks",
    "read_journal",
    "to_ticks",
    "zero_intelligence",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
