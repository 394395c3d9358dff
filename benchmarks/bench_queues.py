"""Benchmark: rtkit's queues against their peers, side by side in one run.

Across processes: one producer process sends int64 sequence numbers to one
consumer process, which checks they arrive in order (first and last of each
batch):

* rtkit ``SharedRingBuffer``: ``put_many``/``get_many``, batches of 1,024;
* a bare shared-memory ring written below: the same layout and batches, no
  checks, no statistics, pure busy-waiting: the ceiling for numpy in Python;
* ``faster_fifo.Queue`` (optional): ``put_many``/``get_many``, batches of
  1,024 messages, one message per item, serialised with ``pickle.dumps``
  (about 3x faster than its default ``ForkingPickler``);
* ``multiprocessing.Queue``: ``put``/``get`` per item. It is slow, so it is
  timed on a prefix of the items; every rate is per item, so the ratio holds.

In one process: ``RingBuffer`` push/pop inside a numba-compiled loop against
``collections.deque`` append/popleft in a Python loop (bursts of 64), and
``RingBuffer``'s per-item Python API against the same deque loop.

Between threads: ``BoundedQueue`` against ``queue.Queue``, one producer thread
and one consumer thread, both blocking on full and empty.

Memory: ``ObjectPool`` acquire/release of a 64 KiB buffer (zeroed on release)
against allocating a fresh zeroed one.

Every contender is timed ``--repeat`` times; medians are compared. Process
start-up and imports are outside the timed region. Not part of the test
suite; ``make bench`` runs it. Usage:

    python benchmarks/bench_queues.py [--n 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pickle
import platform
import queue
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from importlib.metadata import version
from multiprocessing import shared_memory

import numba
import numpy as np
from numba import njit

from rtkit.latency import LatencyHistogram
from rtkit.queues import BoundedQueue
from rtkit.ring import RingBuffer, ring_pop, ring_push
from rtkit.shmring import SharedRingBuffer

try:
    import faster_fifo
except ImportError:  # optional peer: pip install -e '.[bench]'
    faster_fifo = None

try:
    from rtkit.pools import ObjectPool
except ImportError:
    ObjectPool = None

BATCH = 1024
BURST = 64
TIMEOUT_S = 120.0
NS = 1_000_000_000


# ---------------------------------------------------------------- helpers


def median_rate(seconds: list[float], items: int) -> float:
    return items / statistics.median(seconds)


def row(label: str, seconds: list[float], items: int, unit: str = "items") -> float:
    rates = sorted(items / s for s in seconds)
    med = median_rate(seconds, items)
    print(
        f"  {label:<50} {med / 1e6:9.2f} M {unit}/s   "
        f"(min {rates[0] / 1e6:.2f}, max {rates[-1] / 1e6:.2f}; {items:,} {unit})"
    )
    return med


def ratio(label: str, a: float, b: float, goal: float | None = None) -> None:
    verdict = (
        "" if goal is None else f"   goal >= {goal:g}x: {'met' if a / b >= goal else 'NOT met'}"
    )
    print(f"  {label:<50} {a / b:9.2f}x{verdict}")


def _check_batch(got: np.ndarray, expected: int) -> bool:
    return bool(got[0] == expected and got[-1] == expected + len(got) - 1)


# ------------------------------------------------- two processes, harness


def run_pair(
    ctx: mp.context.BaseContext, producer: Callable, consumer: Callable, args: tuple
) -> tuple[float, tuple[int, bool]]:
    """Start both, wait until both are ready, then time go -> consumer's summary."""
    ready, go = ctx.Barrier(3), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    procs = [
        ctx.Process(target=consumer, args=(*args, ready, send), daemon=True),
        ctx.Process(target=producer, args=(*args, ready, go), daemon=True),
    ]
    try:
        for p in procs:
            p.start()
        ready.wait(TIMEOUT_S)
        t0 = time.perf_counter()
        go.set()
        if not receive.poll(TIMEOUT_S):
            raise RuntimeError(f"{consumer.__name__}: no result within {TIMEOUT_S} s")
        summary = receive.recv()
        seconds = time.perf_counter() - t0
        for p in procs:
            p.join(TIMEOUT_S)
        return seconds, summary
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()


def shm_producer(ring: SharedRingBuffer, n: int, ready, go) -> None:
    idx, buf = np.arange(BATCH, dtype=np.int64), np.empty(BATCH, dtype=np.int64)
    ready.wait()
    go.wait()
    for base in range(0, n, BATCH):
        k = min(BATCH, n - base)
        np.add(idx[:k], base, out=buf[:k])
        ring.put_many(buf[:k], timeout_ns=int(TIMEOUT_S * NS))
    ring.close()


def shm_consumer(ring: SharedRingBuffer, n: int, ready, send) -> None:
    out, expected, in_order = np.empty(BATCH, dtype=np.int64), 0, True
    ready.wait()
    while expected < n:
        got = ring.get_many(BATCH, timeout_ns=int(TIMEOUT_S * NS), out=out)
        if len(got) == 0:
            break
        in_order &= _check_batch(got, expected)
        expected += len(got)
    send.send((expected, in_order))
    ring.close()


# The ceiling: the same algorithm with nothing else. head at byte 0, tail at
# byte 128 (own cache lines), data from byte 256; both sides busy-spin.
BARE_HEAD, BARE_TAIL, BARE_DATA = 0, 16, 256


def bare_producer(name: str, capacity: int, n: int, ready, go) -> None:
    shm = shared_memory.SharedMemory(name=name)
    hdr = np.frombuffer(shm.buf, np.int64, count=BARE_TAIL + 1)
    data = np.frombuffer(shm.buf, np.int64, count=capacity, offset=BARE_DATA)
    idx, buf = np.arange(BATCH, dtype=np.int64), np.empty(BATCH, dtype=np.int64)
    mask, head = capacity - 1, 0
    ready.wait()
    go.wait()
    for base in range(0, n, BATCH):
        k = min(BATCH, n - base)
        np.add(idx[:k], base, out=buf[:k])
        while head + k - hdr[BARE_TAIL] > capacity:
            pass
        start = head & mask
        first = min(k, capacity - start)
        data[start : start + first] = buf[:first]
        data[: k - first] = buf[first:k]
        head += k
        hdr[BARE_HEAD] = head
    del hdr, data
    shm.close()


def bare_consumer(name: str, capacity: int, n: int, ready, send) -> None:
    shm = shared_memory.SharedMemory(name=name)
    hdr = np.frombuffer(shm.buf, np.int64, count=BARE_TAIL + 1)
    data = np.frombuffer(shm.buf, np.int64, count=capacity, offset=BARE_DATA)
    out = np.empty(BATCH, dtype=np.int64)
    mask, tail, in_order = capacity - 1, 0, True
    ready.wait()
    while tail < n:
        head = hdr[BARE_HEAD]
        if head == tail:
            continue
        k = min(BATCH, head - tail)
        start = tail & mask
        first = min(k, capacity - start)
        out[:first] = data[start : start + first]
        out[first:k] = data[: k - first]
        in_order &= _check_batch(out[:k], tail)
        tail += k
        hdr[BARE_TAIL] = tail
    send.send((tail, in_order))
    del hdr, data
    shm.close()


def _ff_queue():
    # pickle's C dumps/loads: about 3x faster per message than faster_fifo's default
    # (ForkingPickler), so the peer runs in its best general-purpose configuration.
    return faster_fifo.Queue(8 << 20, loads=pickle.loads, dumps=pickle.dumps)


def ff_producer(q, n: int, ready, go) -> None:
    ready.wait()
    go.wait()
    for base in range(0, n, BATCH):
        q.put_many(list(range(base, min(base + BATCH, n))), timeout=TIMEOUT_S)


def ff_consumer(q, n: int, ready, send) -> None:
    expected, in_order = 0, True
    ready.wait()
    while expected < n:
        got = q.get_many(timeout=TIMEOUT_S, max_messages_to_get=BATCH)
        in_order &= got[0] == expected and got[-1] == expected + len(got) - 1
        expected += len(got)
    send.send((expected, in_order))


def mpq_producer(q, n: int, ready, go) -> None:
    ready.wait()
    go.wait()
    for i in range(n):
        q.put(i)


def mpq_consumer(q, n: int, ready, send) -> None:
    in_order = True
    ready.wait()
    for i in range(n):
        in_order &= q.get(timeout=TIMEOUT_S) == i
    send.send((n, in_order))


def bench_processes(args: argparse.Namespace) -> bool:
    ctx = mp.get_context("spawn")
    n, cap, ok = args.n, args.capacity, True
    print(f"Across processes: {n:,} int64 sequence numbers, batches of {BATCH:,} ({ctx._name})")

    def timed(label: str, items: int, once: Callable[[], tuple[float, tuple[int, bool]]]):
        nonlocal ok
        seconds = []
        for _ in range(args.repeat):
            s, (count, in_order) = once()
            if count != items or not in_order:
                print(f"  {label}: FAILED, {count:,} of {items:,} items, in order: {in_order}")
                ok = False
            seconds.append(s)
        return row(label, seconds, items)

    def shm_once():
        with SharedRingBuffer.create(cap) as ring:
            return run_pair(ctx, shm_producer, shm_consumer, (ring, n))

    def bare_once():
        shm = shared_memory.SharedMemory(create=True, size=BARE_DATA + cap * 8)
        try:
            return run_pair(ctx, bare_producer, bare_consumer, (shm.name, cap, n))
        finally:
            shm.close()
            shm.unlink()

    shm_rate = timed(f"rtkit SharedRingBuffer (capacity {cap:,})", n, shm_once)
    bare_rate = timed(f"bare numpy ring, the ceiling (capacity {cap:,})", n, bare_once)
    ff_rate = None
    if faster_fifo is None:
        print("  faster_fifo not installed: pip install -e '.[bench]'")
    else:
        ff_n = min(n, args.ff_prefix)
        ff_rate = timed(
            f"faster_fifo.Queue put_many/get_many{' (prefix)' if ff_n < n else ''}",
            ff_n,
            lambda: run_pair(ctx, ff_producer, ff_consumer, (_ff_queue(), ff_n)),
        )
    mpq_n = min(n, args.mpq_prefix)
    mpq_rate = timed(
        f"multiprocessing.Queue put/get{' (prefix)' if mpq_n < n else ''}",
        mpq_n,
        lambda: run_pair(ctx, mpq_producer, mpq_consumer, (ctx.Queue(), mpq_n)),
    )
    if mpq_n < n or (ff_rate is not None and args.ff_prefix < n):
        print("  (prefix): timed on the first items only; rates are per item, so ratios hold")
    print("  ratios of median items/s:")
    ratio("SharedRingBuffer / multiprocessing.Queue", shm_rate, mpq_rate, goal=500)
    if ff_rate is not None:
        ratio("SharedRingBuffer / faster_fifo.Queue", shm_rate, ff_rate)
    ratio("SharedRingBuffer / bare ring (1.0 = the ceiling)", shm_rate, bare_rate)
    ratio("bare ring / SharedRingBuffer", bare_rate, shm_rate)
    verdict = "met" if bare_rate / shm_rate <= 2 else "NOT met"
    print(f"  {'goal: within 2x of the bare ring':<50} {verdict}")
    return ok


# ------------------------------------------------------------ one process


@njit(cache=True)
def numba_ring_loop(data, state, mask, n, burst):  # pragma: no cover - compiled
    """Push ``burst`` items, pop them, repeat: a user's numba loop on ``RingBuffer.core``."""
    total = 0
    for start in range(0, n, burst):
        stop = min(start + burst, n)
        for i in range(start, stop):
            ring_push(data, state, mask, i)
        for _ in range(start, stop):
            _, value = ring_pop(data, state, mask)
            total += value
    return total


def deque_loop(n: int, burst: int) -> int:
    d: deque[int] = deque()
    append, popleft, total = d.append, d.popleft, 0
    for start in range(0, n, burst):
        stop = min(start + burst, n)
        for i in range(start, stop):
            append(i)
        for _ in range(start, stop):
            total += popleft()
    return total


def ring_api_loop(n: int, burst: int) -> int:
    rb = RingBuffer(1024)
    push, pop, total = rb.push, rb.pop, 0
    for start in range(0, n, burst):
        stop = min(start + burst, n)
        for i in range(start, stop):
            push(i)
        for _ in range(start, stop):
            total += pop()
    return total


def bench_one_process(args: argparse.Namespace) -> bool:
    n, py_n, ok = args.n, min(args.n, args.py_prefix), True
    print(f"In one process: push then pop in bursts of {BURST}, ring capacity 1,024")

    def timed(label: str, items: int, fn: Callable[[], int]) -> float:
        nonlocal ok
        seconds = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            total = fn()
            seconds.append(time.perf_counter() - t0)
            ok &= total == items * (items - 1) // 2
        return row(label, seconds, items)

    data, state, mask = RingBuffer(1024).core
    numba_ring_loop(data, state, mask, 10, BURST)  # compile (or load from cache), not timed
    numba_rate = timed(
        "RingBuffer core in a numba loop", n, lambda: numba_ring_loop(data, state, mask, n, BURST)
    )
    pre = " (prefix)" if py_n < n else ""
    deque_rate = timed(
        f"deque append/popleft, Python loop{pre}", py_n, lambda: deque_loop(py_n, BURST)
    )
    api_rate = timed(
        f"RingBuffer.push/pop, Python loop{pre}", py_n, lambda: ring_api_loop(py_n, BURST)
    )
    if py_n < n:
        print("  (prefix): timed on the first items only; rates are per item, so ratios hold")
    print("  ratios of median items/s:")
    ratio("RingBuffer in numba / deque in Python", numba_rate, deque_rate, goal=5)
    ratio("RingBuffer Python API / deque in Python", api_rate, deque_rate)
    print(
        "  why the Python API loses to deque: deque.append and popleft are single C calls;\n"
        "  a RingBuffer push is a Python method doing five index operations (read head and\n"
        "  tail, store the slot, publish head, high water), each an interpreted step. The ring\n"
        "  pays off in numba, or in batches (push_many/pop_many), not item by item in Python."
    )
    return ok


# ---------------------------------------------------------------- threads


def thread_pair(q, n: int) -> tuple[float, bool]:
    in_order = [True]

    def producer() -> None:
        for i in range(n):
            q.put(i)

    def consumer() -> None:
        ok = True
        for i in range(n):
            ok &= q.get() == i
        in_order[0] = ok

    threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT_S)
    return time.perf_counter() - t0, in_order[0] and not any(t.is_alive() for t in threads)


def bench_threads(args: argparse.Namespace) -> bool:
    n, ok = args.thread_n, True
    print(
        "Between threads: one producer, one consumer, blocking put/get, capacity 1,024, "
        f"{n:,} items"
    )
    rates = {}
    makers = {
        "rtkit BoundedQueue(1024, policy='block')": lambda: BoundedQueue(1024, policy="block"),
        "queue.Queue(maxsize=1024)": lambda: queue.Queue(maxsize=1024),
    }
    for label, make in makers.items():
        seconds = []
        for _ in range(args.repeat):
            s, good = thread_pair(make(), n)
            ok &= good
            seconds.append(s)
        rates[label] = row(label, seconds, n)
    a, b = rates.values()
    print("  ratios of median items/s:")
    ratio("BoundedQueue / queue.Queue", a, b, goal=1.0)
    return ok


# ------------------------------------------------------------------- pool

POOL_BUFFER_BYTES = 64 * 1024


def bench_pool(args: argparse.Namespace) -> bool:
    """ObjectPool vs a fresh object. Needs rtkit.pools (ObjectPool(factory, reset, capacity))."""
    if ObjectPool is None:
        print("Memory: rtkit.pools not available; ObjectPool benchmark skipped")
        return True
    n, zeros = args.pool_n, bytes(POOL_BUFFER_BYTES)

    def zero(buf: bytearray) -> None:
        memoryview(buf)[:] = zeros  # twice as fast as buf[:] = zeros

    pool = ObjectPool(lambda: bytearray(POOL_BUFFER_BYTES), zero, capacity=16)
    print(
        f"Memory: a zeroed {POOL_BUFFER_BYTES // 1024} KiB bytearray, {n:,} times; "
        "the pool zeroes on release"
    )

    def pooled() -> None:
        buf = pool.acquire()
        buf[0] = 1
        pool.release(buf)

    def fresh() -> None:
        buf = bytearray(POOL_BUFFER_BYTES)
        buf[0] = 1

    results = {}
    for label, op in (("ObjectPool acquire + release", pooled), ("fresh bytearray", fresh)):
        seconds = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for _ in range(n):
                op()
            seconds.append(time.perf_counter() - t0)
        hist, clock = LatencyHistogram(), time.perf_counter_ns
        for _ in range(n):
            t0 = clock()
            op()
            hist.record(clock() - t0)
        rate = row(label, seconds, n, unit="ops")
        results[label] = (rate, hist.percentile(50), hist.percentile(99))
        print(f"  {'':<50} per op: p50 {results[label][1]:,} ns, p99 {results[label][2]:,} ns")
    (pool_rate, _, pool_p99), (fresh_rate, _, fresh_p99) = results.values()
    print("  ratios of median ops/s:")
    ratio("ObjectPool / fresh", pool_rate, fresh_rate)
    print(f"  {'p99 difference, ObjectPool - fresh':<50} {pool_p99 - fresh_p99:+,} ns")
    pool._check()
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="items across processes")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats per contender")
    parser.add_argument("--capacity", type=int, default=1 << 16, help="ring capacity (power of 2)")
    parser.add_argument("--mpq-prefix", type=int, default=200_000, help="items for mp.Queue")
    parser.add_argument("--ff-prefix", type=int, default=2_000_000, help="items for faster_fifo")
    parser.add_argument("--py-prefix", type=int, default=2_000_000, help="items, Python loops")
    parser.add_argument("--thread-n", type=int, default=200_000, help="items between threads")
    parser.add_argument("--pool-n", type=int, default=200_000, help="pool operations")
    args = parser.parse_args(argv)
    counts = (args.n, args.repeat, args.mpq_prefix, args.ff_prefix, args.py_prefix)
    if min(*counts, args.thread_n, args.pool_n) < 1:
        parser.error("counts must be >= 1")

    ff = f"faster_fifo {version('faster-fifo')}" if faster_fifo else "faster_fifo absent"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print("rtkit queues vs peers")
    print(
        f"environment: python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}, {ff}, {os.cpu_count()} CPUs ({platform.machine()}, "
        f"{platform.system()}), load average {load}"
    )
    print()
    ok = bench_processes(args)
    print()
    ok &= bench_one_process(args)
    print()
    ok &= bench_threads(args)
    print()
    ok &= bench_pool(args)
    if not ok:
        print("\ncorrectness check FAILED: items lost, repeated or out of order")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
