"""SharedRingBuffer: one segment, two handles, two processes; nothing lost, nothing leaked."""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing import shared_memory

import numpy as np
import pytest

from rtkit.clock import VirtualClock
from rtkit.errors import Closed, ConfigError, QueueEmpty, QueueFull, StateError, ValueRangeError
from rtkit.shmring import SharedRingBuffer

# On a CPU that is not x86 the ring warns about memory ordering; the warning
# itself is tested below, the rest of the behaviour is the same.
pytestmark = pytest.mark.filterwarnings("ignore:shared ring on:RuntimeWarning")

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX shared memory and signals")
TIMEOUT_S = 120


def exists(name: str) -> bool:
    try:
        SharedRingBuffer.attach(name).close()
    except ConfigError:
        return False
    return True


@pytest.fixture
def pair():
    """(producer, consumer): the owner and a second handle on the same segment."""
    with SharedRingBuffer.create(8) as producer:
        consumer = SharedRingBuffer.attach(producer.name)
        yield producer, consumer
        consumer.close()


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize("capacity", [0, -1, 3, 2.5])
def test_create_refuses_a_capacity_that_is_not_a_power_of_two(capacity):
    with pytest.raises(ConfigError, match="capacity must be a power of two"):
        SharedRingBuffer.create(capacity)


def test_create_refuses_a_non_numeric_dtype_and_a_bad_name():
    with pytest.raises(ConfigError, match="dtype must be a native numeric dtype"):
        SharedRingBuffer.create(8, dtype=object)
    with pytest.raises(ConfigError, match="name must be a non-empty string without '/'"):
        SharedRingBuffer.create(8, name="a/b")


def test_attach_with_a_bad_name_raises_a_clear_error():
    with pytest.raises(ConfigError, match="no shared ring named 'rtkit-no-such-ring'"):
        SharedRingBuffer.attach("rtkit-no-such-ring")
    for name in ("", 42, "x/y"):
        with pytest.raises(ConfigError, match="name must be"):
            SharedRingBuffer.attach(name)


@pytest.mark.parametrize("size", [16, 4096])
def test_attach_to_a_segment_that_is_not_a_ring_is_refused(size):
    raw = shared_memory.SharedMemory(create=True, size=size)
    try:
        with pytest.raises(ConfigError, match="is not an rtkit shared ring"):
            SharedRingBuffer.attach(raw.name)
    finally:
        raw.close()
        raw.unlink()


def test_a_name_already_in_use_is_refused():
    with SharedRingBuffer.create(4) as ring:
        with pytest.raises(ConfigError, match="already exists"):
            SharedRingBuffer.create(4, name=ring.name)
        assert ring.push(1)


def test_values_that_do_not_fit_raise_and_change_nothing(pair):
    producer, consumer = pair
    producer.push(1)
    before = producer.stats()
    with pytest.raises(ValueRangeError, match="does not fit"):
        producer.push(2.5)
    with pytest.raises(ValueRangeError, match="values of dtype float64"):
        producer.push_many(np.array([1.0]))
    with pytest.raises(ConfigError, match="out must be"):
        consumer.pop_many(4, out=np.empty(4, dtype=np.float64))
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="timeout_ns must be None or an integer >= 0"):
            consumer.get(timeout_ns=bad)
    assert producer.stats() == before and consumer.pop_many(8).tolist() == [1]
    producer._check()


# --------------------------------------------------------------- behaviour


@pytest.mark.parametrize("capacity", [1, 4])
def test_every_slot_is_usable_and_order_survives_wrap_around(capacity):
    with SharedRingBuffer.create(capacity, dtype=np.int32) as producer:
        consumer = SharedRingBuffer.attach(producer.name)
        assert consumer.dtype == np.int32 and consumer.capacity == capacity
        sent = received = 0
        for _ in range(50):
            sent += producer.push_many(np.arange(sent, sent + capacity + 1, dtype=np.int32))
            assert len(consumer) == capacity and producer.push(-1) is False
            got = consumer.pop_many(capacity).tolist()
            assert got == list(range(received, received + capacity))
            received += len(got)
            producer._check()
            consumer._check()
        assert consumer.pop(None) is None
        s = consumer.stats()
        assert (s.pushed, s.popped, s.rejected, s.high_water) == (sent, sent, 100, capacity)
        consumer.close()


def test_weighted_random_actions_match_a_deque_model(pair):
    producer, consumer = pair
    rng, model, nxt, rejected = random.Random(4), deque(), 0, 0
    actions = ["push"] * 3 + ["pop"] * 3 + ["push_many"] * 2 + ["pop_many"] * 2
    for _ in range(2000):
        action = rng.choice(actions)
        if action == "push":
            fits = len(model) < 8
            assert producer.push(nxt) is fits
            model.extend([nxt] if fits else [])
            rejected += not fits
            nxt += 1
        elif action == "pop":
            assert consumer.pop(None) == (model.popleft() if model else None)
        elif action == "push_many":
            k = rng.randrange(0, 12)
            n = producer.push_many(np.arange(nxt, nxt + k))
            assert n == min(k, 8 - len(model))
            model.extend(range(nxt, nxt + n))
            rejected, nxt = rejected + k - n, nxt + k
        else:
            got = consumer.pop_many(rng.randrange(0, 12)).tolist()
            assert got == [model.popleft() for _ in got]
        s = consumer.stats()
        assert (s.depth, s.rejected) == (len(model), rejected)
        producer._check()
        consumer._check()


def test_blocking_calls_time_out_on_a_virtual_clock():
    clock = VirtualClock()
    with SharedRingBuffer.create(2, clock=clock) as ring:
        with pytest.raises(QueueEmpty, match="empty after 5000 ns"):
            ring.get(timeout_ns=5_000)
        assert clock.now_ns() >= 5_000
        assert ring.get_many(4, timeout_ns=1_000).shape == (0,)
        assert ring.put_many(np.arange(5), timeout_ns=1_000) == 2  # two fit, three rejected
        with pytest.raises(QueueFull, match="full \\(capacity 2\\) after 0 ns"):
            ring.put(9, timeout_ns=0)
        assert ring.stats().rejected == 4
        assert ring.get(timeout_ns=0) == 0 and ring.get_many(4).tolist() == [1]
        ring._check()


def test_a_blocked_get_wakes_when_another_thread_puts():
    with SharedRingBuffer.create(4) as ring:
        consumer = SharedRingBuffer.attach(ring.name)
        t = threading.Timer(0.05, ring.put, args=(7,))
        t.start()
        assert consumer.get(timeout_ns=TIMEOUT_S * 10**9) == 7
        t.join()
        consumer.close()


def test_pickling_sends_the_name_and_the_receiver_attaches():
    with SharedRingBuffer.create(4, dtype=np.float64) as ring:
        ring.push(1.5)
        copy = pickle.loads(pickle.dumps(ring))
        assert (copy.name, copy.owner, copy.dtype) == (ring.name, False, np.float64)
        assert copy.pop() == 1.5
        copy.close()


def test_a_weakly_ordered_cpu_gets_a_warning(monkeypatch):
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    with pytest.warns(RuntimeWarning, match="release/acquire fences"):
        ring = SharedRingBuffer.create(2)
    ring.close()


# ---------------------------------------------------------------- lifetime


def test_the_owners_close_unlinks_but_an_attached_handle_keeps_working(pair):
    producer, consumer = pair
    producer.push_many([1, 2])
    producer.close()
    producer.close()  # idempotent
    assert producer.closed and not exists(producer.name)
    assert consumer.pop_many(4).tolist() == [1, 2]  # its mapping outlives the name
    assert "closed" in repr(producer)


def test_an_attached_handle_neither_unlinks_on_close_nor_may_unlink(pair):
    producer, consumer = pair
    with pytest.raises(StateError, match="only the process that created"):
        consumer.unlink()
    consumer.close()
    assert exists(producer.name)


def test_operations_after_close_raise_closed(pair):
    producer, _ = pair
    producer.close()
    for call in (lambda: producer.push(1), producer.pop, producer.stats, lambda: len(producer)):
        with pytest.raises(Closed, match="shared ring is closed"):
            call()


def test_the_context_manager_unlinks_even_on_an_exception():
    with pytest.raises(RuntimeError, match="boom"), SharedRingBuffer.create(4) as ring:
        name = ring.name
        raise RuntimeError("boom")
    assert not exists(name)


def test_a_forgotten_owner_is_unlinked_when_collected():
    ring = SharedRingBuffer.create(4)
    name = ring.name
    del ring
    gc.collect()
    assert not exists(name)


def test_unlink_early_then_close():
    ring = SharedRingBuffer.create(4)
    consumer = SharedRingBuffer.attach(ring.name)
    ring.unlink()
    assert not exists(ring.name)
    ring.push(5)
    assert consumer.pop() == 5
    ring.close()
    consumer.close()


ATTACH_AND_POP = """
import sys
from rtkit.shmring import SharedRingBuffer
ring = SharedRingBuffer.attach(sys.argv[1])
print(ring.pop())
ring.close()
"""


@POSIX_ONLY
def test_an_unrelated_process_that_attaches_neither_unlinks_nor_warns():
    with SharedRingBuffer.create(4) as ring:
        ring.push_many([10, 11])
        done = subprocess.run(
            [sys.executable, "-W", "error", "-c", ATTACH_AND_POP, ring.name],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "10\n", "")
        assert exists(ring.name) and ring.pop() == 11


CREATE_AND_WAIT = """
import sys, time
from rtkit.shmring import SharedRingBuffer
ring = SharedRingBuffer.create(4)
print(ring.name, flush=True)
time.sleep(600)
"""


@POSIX_ONLY
def test_a_killed_owner_leaves_no_segment_behind():
    child = subprocess.Popen(
        [sys.executable, "-c", CREATE_AND_WAIT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the resource tracker reports the cleanup there
        text=True,
    )
    try:
        name = child.stdout.readline().strip()
        assert exists(name)
        child.send_signal(signal.SIGKILL)
        child.wait(TIMEOUT_S)
        deadline = time.monotonic() + TIMEOUT_S
        while exists(name) and time.monotonic() < deadline:
            time.sleep(0.05)  # multiprocessing's resource tracker unlinks it
        assert not exists(name)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


# ------------------------------------------------------- two processes


def produce(ring: SharedRingBuffer, n: int, batch: int) -> None:
    idx = np.arange(batch, dtype=np.int64)
    for base in range(0, n, batch):
        k = min(batch, n - base)
        if ring.put_many(idx[:k] + base, timeout_ns=TIMEOUT_S * 10**9) != k:
            sys.exit(1)
    ring.close()


def consume(ring: SharedRingBuffer, n: int, batch: int, report) -> None:
    out, ref = np.empty(batch, dtype=np.int64), np.arange(batch, dtype=np.int64)
    received, bad_batches = 0, 0
    while received < n:
        got = ring.get_many(batch, timeout_ns=TIMEOUT_S * 10**9, out=out)
        if len(got) == 0:
            break  # timed out: report what arrived
        bad_batches += not np.array_equal(got - received, ref[: len(got)])
        received += len(got)
    extra = len(ring.get_many(batch, timeout_ns=10_000_000))
    report.send({"received": received, "bad_batches": bad_batches, "extra": extra})
    ring.close()


@pytest.mark.slow
def test_ten_million_sequence_numbers_cross_processes_in_order_none_lost_or_repeated():
    n = 10_000_000
    ctx = multiprocessing.get_context("spawn")
    receive, report = ctx.Pipe(duplex=False)
    with SharedRingBuffer.create(4096) as ring:
        procs = [
            ctx.Process(target=consume, args=(ring, n, 1000, report)),  # ring pickles as its name
            ctx.Process(target=produce, args=(ring, n, 1024)),
        ]
        try:
            for p in procs:
                p.start()
            assert receive.poll(TIMEOUT_S), "the consumer did not report in time"
            summary = receive.recv()
            for p in procs:
                p.join(TIMEOUT_S)
            assert [p.exitcode for p in procs] == [0, 0]
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
                    p.join()
            receive.close()
            report.close()
        assert summary == {"received": n, "bad_batches": 0, "extra": 0}
        s = ring.stats()
        assert (s.pushed, s.popped, s.depth, s.rejected) == (n, n, 0, 0)
        ring._check()
    assert not exists(ring.name)


def test_a_copy_of_the_owner_in_another_process_does_not_unlink(monkeypatch):
    ring = SharedRingBuffer.create(4)
    monkeypatch.setattr("rtkit.shmring.os.getpid", lambda: -1)  # as in a forked child
    ring.close()
    assert exists(ring.name)
    shared_memory.SharedMemory(name=ring.name).unlink()
