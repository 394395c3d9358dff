"""What goes into and out of :class:`~rtkit.orderbook.engine.TradingEngine`.

In: a :class:`Command` is an accepted request exactly as the engine journals
it, one fixed-size record per command (37 bytes, little-endian)::

    seq u64 | kind u8 | symbol index u16 | order_id i64 | side i8 | qty i64 | price i64 | tif u8

with the codes of :mod:`rtkit.orderbook.types` (an ops array row plus the
sequence number and the symbol). The journal's first record is a header: a
magic string and the symbols as JSON, so recovery knows them.

Out: a :class:`Ticket` (a future) per accepted command, resolving to an
:class:`Ack`; :class:`TradeEvent` and :class:`DepthEvent` for subscribers;
:class:`EngineSnapshot` (the whole state) and :class:`EngineStats`.

All of them are frozen: the engine never changes what a caller holds, and a
caller cannot change what the engine holds (S000-33, where the seed's engine
decremented the caller's ``*Order`` from another goroutine).

Example:
    >>> from rtkit.orderbook.types import BUY, SUBMIT
    >>> cmd = Command(seq=7, kind=SUBMIT, symbol="AAPL", order_id=3, side=BUY, qty=10, price=101)
    >>> record = encode_command(cmd, symbol_index=0)
    >>> len(record)
    37
    >>> decode_command(record, ("AAPL",), seq=7) == (cmd, 0)
    True
"""

from __future__ import annotations

import json
import os
import struct
from concurrent.futures import Future
from dataclasses import dataclass

from rtkit.errors import IncompatibleError
from rtkit.journal import Journal
from rtkit.orderbook.types import CANCEL, MODIFY, SUBMIT, BookStats, RestingOrder, Trade

__all__ = [
    "KIND_NAMES",
    "Ack",
    "Command",
    "DepthEvent",
    "EngineSnapshot",
    "EngineStats",
    "SymbolSnapshot",
    "Ticket",
    "TradeEvent",
    "decode_command",
    "encode_command",
    "read_journal",
]

KIND_NAMES = {SUBMIT: "submit", CANCEL: "cancel", MODIFY: "modify"}
RECORD = struct.Struct("<QBHqbqqB")  # seq, kind, symbol index, order id, side, qty, price, tif
MAGIC = b"RTKENG1\n"  # the header record: this, then {"symbols": [...]} as JSON


@dataclass(frozen=True, slots=True)
class Command:
    """An accepted command, as journalled.

    ``order_id`` is the id the sequencer gave a submit, or the order a cancel
    or modify targets. ``side`` and ``tif`` are read by a submit only (0
    otherwise). ``price`` 0 is a market submit or, in a modify, "keep the
    price"; ``qty`` 0 in a modify keeps the quantity.
    """

    seq: int
    kind: int
    symbol: str
    order_id: int
    side: int = 0
    qty: int = 0
    price: int = 0
    tif: int = 0


@dataclass(frozen=True, slots=True)
class Ack:
    """The acknowledgement of one command: journalled, flushed, then applied.

    ``rejected`` is ``None``, or why the book refused the command (a cancel
    or modify of an order no longer resting: journalled, and refused again
    identically on replay). ``cancelled_qty`` is what a cancel removed.
    Times are the engine clock's: accepted at the API, acknowledged once
    the book had applied it.
    """

    command: Command
    trades: tuple[Trade, ...]
    cancelled_qty: int
    rejected: str | None
    accepted_ns: int
    acked_ns: int

    @property
    def seq(self) -> int:
        return self.command.seq

    @property
    def order_id(self) -> int:
        return self.command.order_id

    @property
    def latency_ns(self) -> int:
        return self.acked_ns - self.accepted_ns


class Ticket(Future):  # type: ignore[type-arg]
    """A future for one accepted command: ``result()`` is its :class:`Ack`.

    The sequence number and the order id are known at once, before the ack.
    ``cancel()`` always returns ``False``: an accepted command is journalled
    and will be applied; ``engine.cancel(order_id)`` withdraws an order.
    """

    def __init__(self, command: Command) -> None:
        super().__init__()
        self.command = command

    @property
    def seq(self) -> int:
        return self.command.seq

    @property
    def order_id(self) -> int:
        return self.command.order_id

    def cancel(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A fill, published after its command; ``match_no`` counts the symbol's trades from 1."""

    symbol: str
    seq: int
    match_no: int
    trade: Trade


@dataclass(frozen=True, slots=True)
class DepthEvent:
    """The top levels of a book (``(price, qty)``, best first), published when they change."""

    symbol: str
    seq: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SymbolSnapshot:
    """One book: its resting orders (bids then asks, best level first, FIFO
    within a level), its counters, and every trade in order (``None`` unless
    the engine keeps trades)."""

    symbol: str
    orders: tuple[RestingOrder, ...]
    book: BookStats
    trades: tuple[Trade, ...] | None


@dataclass(frozen=True)
class EngineSnapshot:
    """The whole state at one sequence point: equal snapshots, equal engines."""

    next_seq: int
    next_order_id: int
    symbols: tuple[SymbolSnapshot, ...]


@dataclass(frozen=True)
class EngineStats:
    """An engine's counters: exact when nothing is in flight, a moment's view otherwise."""

    symbols: int
    workers: int  # 0: the synchronous mode
    accepted: int  # commands this engine accepted (replayed ones not included)
    rejected: int  # refused at the API: never journalled
    acknowledged: int
    book_rejects: int  # acknowledged with Ack.rejected set (replayed ones included)
    errors: int  # tickets that failed: a book raised, or the journal did
    in_flight: int  # accepted, not yet acknowledged nor failed
    replayed: int  # commands replayed from the journal when the engine was opened
    trades: int
    volume: int
    subscriber_errors: int  # callbacks that raised
    intake_depth: int
    queue_depths: tuple[int, ...]  # per worker
    journal_records: int  # the header included
    journal_flushes: int  # each one a group commit


def encode_command(cmd: Command, symbol_index: int) -> bytes:
    """The journal record of ``cmd``. Runtime complexity: O(1)."""
    return RECORD.pack(
        cmd.seq, cmd.kind, symbol_index, cmd.order_id, cmd.side, cmd.qty, cmd.price, cmd.tif
    )


def decode_command(
    record: bytes, symbols: tuple[str, ...], seq: int, where: str = "record"
) -> tuple[Command, int]:
    """``(command, symbol index)`` of a record that must be the one of sequence number ``seq``.

    Raises :class:`~rtkit.errors.IncompatibleError` for a record of the wrong
    size, out of sequence, or with an unknown kind or symbol.
    """
    if len(record) != RECORD.size:
        raise IncompatibleError(f"{where}: a record of {len(record)} bytes, not {RECORD.size}")
    got, kind, sym, order_id, side, qty, price, tif = RECORD.unpack(record)
    if got != seq or kind not in KIND_NAMES or sym >= len(symbols):
        raise IncompatibleError(f"{where}: seq {got} kind {kind} symbol {sym}, expected seq {seq}")
    return Command(seq, kind, symbols[sym], order_id, side, qty, price, tif), sym


def encode_header(symbols: tuple[str, ...]) -> bytes:
    """The journal's first record: the magic string and the symbols."""
    return MAGIC + json.dumps({"symbols": list(symbols)}).encode()


def decode_header(record: bytes, where: str = "journal") -> tuple[str, ...]:
    """The symbols in a header record; ``IncompatibleError`` if it is not one."""
    try:
        if not record.startswith(MAGIC):
            raise ValueError
        symbols = tuple(json.loads(record[len(MAGIC) :])["symbols"])
        if not symbols or not all(isinstance(s, str) and s for s in symbols):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise IncompatibleError(f"{where} is not a trading engine journal (bad header)") from None
    return symbols


def read_journal(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], list[Command]]:
    """The symbols and every journalled command of an engine journal, in sequence order.

    Opens the journal as its (single) writer, so a torn tail is recovered
    first: never while an engine has it open. Runtime complexity: O(records).
    """
    path = os.fspath(path)
    with Journal(path) as journal:
        records = journal.replay()
        head = next(records, None)
        if head is None:
            raise IncompatibleError(f"{path} holds no trading engine header")
        symbols = decode_header(head[1], path)
        commands = [
            decode_command(record, symbols, seq, f"{path}@{offset}")[0]
            for seq, (offset, record) in enumerate(records, start=1)
        ]
    return symbols, commands
