"""A trading engine that test_engine.py kills with SIGKILL at random moments.

Usage: ``python engine_child.py PATH SEED WORKERS`` (or :func:`run` in a
forked process, which is what the test does).

It opens (and so recovers) the engine journal at PATH, emits ``ready
NEXT_SEQ``, then sends a seeded stream of commands forever (:class:`Flow`,
some of them invalid on purpose). After each acknowledgement, in sequence
order, it emits a line ``SEQ ORDER_ID``: a promise that the command is in the
journal, flushed, and was applied.
"""

from __future__ import annotations

import os
import random
import sys
import types
from collections import deque
from collections.abc import Callable
from typing import Any

SYMBOLS = ("AAPL", "MSFT", "GOOG")


class Flow:
    """A seeded stream of engine calls: ``(method, *args)`` tuples.

    Mostly limit orders around a fixed mid price (some IOC, FOK or market),
    cancels and modifies of recent ids, and about 3% calls the engine must
    reject (``valid`` is then False). It counts the ids its valid submits
    will get, so it only targets ids the engine has assigned.
    """

    def __init__(self, seed: int, next_order_id: int = 1, symbols: tuple[str, ...] = SYMBOLS):
        self.rng = random.Random(seed)
        self.next_order_id = next_order_id
        self.symbols = symbols

    def next(self) -> tuple[tuple[Any, ...], bool]:
        rng, top = self.rng, self.next_order_id - 1
        roll = rng.random()
        if roll < 0.03:
            return rng.choice(
                [
                    ("submit", "NOPE", "buy", 1, 100, "GTC"),
                    ("submit", self.symbols[0], "buy", 0, 100, "GTC"),
                    ("submit", self.symbols[0], "sell", 1, -5, "IOC"),
                    ("cancel", top + 10),
                    ("modify", max(top, 1), None, None),
                ]
            ), False
        if roll < 0.70 or top < 1:
            side = rng.choice(("buy", "sell"))
            price = 100 + rng.randint(-6, 2) * (1 if side == "buy" else -1)
            if rng.random() < 0.05:
                price = None
            tif = rng.choices(("GTC", "IOC", "FOK"), weights=(80, 12, 8))[0]
            self.next_order_id += 1
            return ("submit", rng.choice(self.symbols), side, rng.randint(1, 20), price, tif), True
        target = rng.randint(max(1, top - 30), top)
        if roll < 0.85:
            return ("cancel", target), True
        qty = rng.choice((None, rng.randint(1, 25)))
        price = rng.choice((None, 100 + rng.randint(-5, 5))) if qty else 100 + rng.randint(-5, 5)
        return ("modify", target, qty, price), True


def send(engine: Any, call: tuple[Any, ...]) -> Any:
    """Make one call of a :class:`Flow` on ``engine``; return its ticket."""
    method, *args = call
    return getattr(engine, method)(*args)


def serve(path: str, seed: int, workers: int, emit: Callable[[str], object]) -> None:
    """Recover the engine at ``path`` and send it a Flow forever, emitting each ack."""
    from rtkit.orderbook.engine import TradingEngine
    from rtkit.orderbook.types import OrderRejected

    engine = TradingEngine.recover(
        path, symbols=SYMBOLS, workers=workers, fsync_every=8, queue_capacity=64
    )
    snapshot = engine.snapshot()
    emit(f"ready {snapshot.next_seq}")
    flow = Flow(seed, snapshot.next_order_id)
    pending: deque[Any] = deque()
    while True:
        call, valid = flow.next()
        try:
            pending.append(send(engine, call))
        except OrderRejected:
            assert not valid, f"{call} was rejected"
            continue
        assert valid, f"{call} was accepted"
        while pending and (pending[0].done() or len(pending) > 32):
            ack = pending.popleft().result()
            emit(f"{ack.seq} {ack.order_id}")


def run(path: str, seed: int, workers: int, conn: Any) -> None:
    """:func:`serve`, each line sent as one message on a multiprocessing ``conn``.

    The kill test starts this in a process forked from a server that has
    imported the engine already (multiprocessing's "forkserver"): a fresh
    interpreter would spend most of each round importing numpy and numba.
    A process killed in the middle of a message leaves a truncated one,
    which the reader drops.
    """
    serve(path, seed, workers, lambda line: conn.send_bytes(line.encode()))


def main(path: str, seed: int, workers: int) -> None:
    # Import the engine without running rtkit/__init__.py and
    # rtkit/orderbook/__init__.py, which load more than the engine needs.
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rtkit")
    for name, where in (("rtkit", root), ("rtkit.orderbook", os.path.join(root, "orderbook"))):
        package = types.ModuleType(name)
        package.__path__ = [where]
        sys.modules[name] = package
    serve(path, seed, workers, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
