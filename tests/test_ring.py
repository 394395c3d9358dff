"""RingBuffer: every slot usable, wrap-around, bad input, a deque model, numba vs Python."""

from __future__ import annotations

import random
import threading
import time
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from rtkit.errors import ConfigError, QueueEmpty, ValueRangeError
from rtkit.ring import (
    DTYPES,
    RingBuffer,
    RingStats,
    ring_pop,
    ring_pop_many,
    ring_push,
    ring_push_many,
)

FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def snapshot(rb: RingBuffer) -> tuple:
    data, state, _ = rb.core
    return data.tobytes(), state.tolist()


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize("capacity", [0, -1, 3, 1000, 2.5, True, "8", None, 2**63])
def test_capacity_must_be_a_power_of_two(capacity):
    with pytest.raises(ConfigError, match="capacity must be"):
        RingBuffer(capacity)


def test_the_capacity_error_names_the_next_power_of_two():
    with pytest.raises(ConfigError, match=r"got 1000 \(RingBuffer.next_pow2\(1000\) == 1024\)"):
        RingBuffer(1000)
    assert [RingBuffer.next_pow2(n) for n in (-5, 0, 1, 2, 3, 1025)] == [1, 1, 1, 2, 4, 2048]


@pytest.mark.parametrize(
    "dtype", [object, "U8", np.complex128, np.float16, bool, ">i8", None, "no such type"]
)
def test_dtype_must_be_a_native_numeric_dtype(dtype):
    with pytest.raises(ConfigError, match="dtype must be a native numeric dtype"):
        RingBuffer(4, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_numeric_dtype_round_trips(dtype):
    rb = RingBuffer(4, dtype=dtype)
    assert rb.push(7) and rb.push_many(np.array([1, 2], dtype=dtype)) == 2
    assert rb.pop() == 7 and rb.pop_many(4).tolist() == [1, 2]
    rb._check()


@pytest.mark.parametrize(
    ("dtype", "value"),
    [(np.int64, 2.5), (np.int64, 2**70), (np.uint8, -1), (np.int8, 300), (np.float64, "x")],
)
def test_a_value_that_does_not_fit_is_refused_full_or_not(dtype, value):
    rb = RingBuffer(1, dtype=dtype)
    with pytest.raises(ValueRangeError, match="does not fit"):
        rb.push(value)
    assert snapshot(rb) == snapshot(RingBuffer(1, dtype=dtype))
    rb.push(1)
    before = snapshot(rb)
    with pytest.raises(ValueRangeError, match="does not fit"):
        rb.push(value)  # full: still an error, not a quiet False
    assert snapshot(rb) == before and rb.stats().rejected == 0
    rb._check()


@pytest.mark.parametrize(
    ("ring_dtype", "values"),
    [
        (np.int64, np.array([1.0, 2.0])),
        (np.int32, np.array([1, 2], dtype=np.int64)),
        (np.uint64, np.array([-1])),
        (np.int64, np.zeros((2, 2), dtype=np.int64)),
        (np.int64, ["a", "b"]),
    ],
)
def test_push_many_of_a_wrong_dtype_or_shape_raises_and_changes_nothing(ring_dtype, values):
    rb = RingBuffer(4, dtype=ring_dtype)
    rb.push(1)
    before = snapshot(rb)
    with pytest.raises(ValueRangeError, match="values"):
        rb.push_many(values)
    assert snapshot(rb) == before
    rb._check()


def test_push_many_accepts_safe_casts_and_lists():
    rb = RingBuffer(8)
    assert rb.push_many(np.array([1, 2], dtype=np.int32)) == 2
    assert rb.push_many([3, 4]) == 2 and rb.push_many([]) == 0
    assert rb.pop_many(8).tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "out",
    [np.empty(2, dtype=np.int64), np.empty(8, dtype=np.int32), np.empty((8, 1)), [0] * 8],
)
def test_pop_many_refuses_an_unusable_out_and_changes_nothing(out):
    rb = RingBuffer(4)
    rb.push_many([1, 2, 3])
    before = snapshot(rb)
    with pytest.raises(ConfigError, match="out must be"):
        rb.pop_many(4, out=out)
    with pytest.raises(ConfigError, match="max_n must be an integer >= 0"):
        rb.pop_many(-1)
    assert snapshot(rb) == before


# --------------------------------------------------------------- behaviour


@pytest.mark.parametrize("capacity", [1, 2, 4, 1024])
def test_every_slot_is_usable_including_capacity_one(capacity):
    rb = RingBuffer(capacity)
    assert all(rb.push(i) for i in range(capacity))
    assert len(rb) == capacity and rb.push(-1) is False
    assert [rb.pop() for _ in range(capacity)] == list(range(capacity))
    assert rb.pop(None) is None
    assert rb.stats() == RingStats(capacity, 0, capacity, capacity, 1, capacity)
    rb._check()


def test_wrap_around_keeps_fifo_order_with_counters_far_past_capacity():
    rb, expected, nxt = RingBuffer(4), 0, 0
    for _ in range(1000):
        for _ in range(3):
            assert rb.push(nxt)
            nxt += 1
        for _ in range(3):
            assert rb.pop() == expected
            expected += 1
        rb._check()
    head, tail = rb.core[1][:2]
    assert head == tail == 3000  # free-running: never wrapped back to the slot index


def test_pop_on_an_empty_ring_raises_queue_empty_unless_a_default_is_given():
    rb = RingBuffer(2)
    with pytest.raises(QueueEmpty, match="ring empty"):
        rb.pop()
    assert rb.pop(default=0) == 0 and rb.stats().popped == 0


def test_push_many_takes_what_fits_and_counts_the_rest_as_rejected():
    rb = RingBuffer(8)
    assert rb.push_many(np.arange(5)) == 5
    assert rb.pop_many(3).tolist() == [0, 1, 2]
    assert rb.push_many(np.arange(10, 20)) == 6  # wraps: slots 5..7 then 0..2
    s = rb.stats()
    assert (s.depth, s.pushed, s.popped, s.rejected, s.high_water) == (8, 11, 3, 4, 8)
    assert rb.pop_many(100).tolist() == [3, 4, *range(10, 16)]
    rb._check()


def test_pop_many_writes_into_out_and_copes_with_wrap_around():
    rb, out = RingBuffer(4), np.full(6, -1, dtype=np.int64)
    rb.push_many([0, 1, 2])
    rb.pop_many(2)
    rb.push_many([3, 4, 5])  # slots 3, 0, 1: the data wraps
    got = rb.pop_many(6, out=out)
    assert got.tolist() == [2, 3, 4, 5] and np.shares_memory(got, out)
    assert rb.pop_many(0).shape == (0,) and rb.pop_many(3, out=out).shape == (0,)
    rb._check()


def test_float_ring_keeps_nan_and_inf():
    rb = RingBuffer(4, dtype=np.float32)
    rb.push(float("nan"))
    rb.push_many(np.array([np.inf, -1.5], dtype=np.float32))
    got = rb.pop_many(4)
    assert np.isnan(got[0]) and got[1:].tolist() == [np.inf, -1.5]


def test_weighted_random_actions_match_a_deque_model():
    for seed in range(8):
        rng = random.Random(seed)
        capacity = 1 << rng.randrange(0, 6)
        rb, model, nxt = RingBuffer(capacity), deque(), 0
        pushed = rejected = popped = high = 0
        actions = ["push"] * 4 + ["pop"] * 3 + ["push_many"] * 2 + ["pop_many"] * 2 + ["stats"]
        for _ in range(1500):
            action = rng.choice(actions)
            if action == "push":
                fits = len(model) < capacity
                assert rb.push(nxt) is fits
                if fits:
                    model.append(nxt)
                    pushed += 1
                else:
                    rejected += 1
                nxt += 1
            elif action == "pop":
                if model:
                    assert rb.pop() == model.popleft()
                    popped += 1
                else:
                    with pytest.raises(QueueEmpty):
                        rb.pop()
            elif action == "push_many":
                k = rng.randrange(0, 2 * capacity + 2)
                n = rb.push_many(np.arange(nxt, nxt + k))
                assert n == min(k, capacity - len(model))
                model.extend(range(nxt, nxt + n))
                pushed, rejected, nxt = pushed + n, rejected + k - n, nxt + k
            elif action == "pop_many":
                k = rng.randrange(0, 2 * capacity + 2)
                got = rb.pop_many(k).tolist()
                assert got == [model.popleft() for _ in range(min(k, len(model)))]
                popped += len(got)
            high = max(high, len(model))
            assert rb.stats() == RingStats(capacity, len(model), pushed, popped, rejected, high)
            rb._check()


def test_one_producer_thread_and_one_consumer_thread_keep_order():
    rb, n, received = RingBuffer(64), 20_000, []

    def consumer():
        while len(received) < n:
            got = rb.pop_many(64).tolist()
            received.extend(got)
            if not got:
                time.sleep(0)  # let the producer have the GIL

    t = threading.Thread(target=consumer)
    t.start()
    i = 0
    while i < n:
        if rb.push(i):
            i += 1
        else:
            time.sleep(0)
    t.join(30)
    assert not t.is_alive() and received == list(range(n))
    rb._check()


# ------------------------------------------------------------- numba core

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["push", "push", "pop", "pop"]), st.integers(-(2**62), 2**62)),
        st.tuples(st.sampled_from(["push_many", "pop_many"]), st.integers(0, 40)),
    ),
    max_size=80,
)


@FAST
@given(capacity_log2=st.integers(0, 5), actions=ACTIONS)
def test_numba_core_gives_exactly_what_the_python_methods_give(capacity_log2, actions):
    py, nb = RingBuffer(1 << capacity_log2), RingBuffer(1 << capacity_log2)
    data, state, mask = nb.core
    for action, arg in actions:
        if action == "push":
            assert py.push(arg) == ring_push(data, state, mask, arg)
        elif action == "pop":
            ok, value = ring_pop(data, state, mask)
            expected = py.pop(None)
            assert (ok, value if ok else None) == (expected is not None, expected)
        elif action == "push_many":
            values = np.arange(arg, dtype=np.int64) * 3 + len(actions)
            assert py.push_many(values) == ring_push_many(data, state, mask, values)
        else:
            out = np.zeros(arg, dtype=np.int64)
            n = ring_pop_many(data, state, mask, out)
            assert py.pop_many(arg).tolist() == out[:n].tolist()
        assert snapshot(py) == snapshot(nb)
        py._check()
        nb._check()


@njit(cache=True)
def _sum_through_ring(data, state, mask, n):
    total = 0
    for i in range(n):
        while not ring_push(data, state, mask, i):
            _, value = ring_pop(data, state, mask)
            total += value
    out = np.empty(mask + 1, dtype=data.dtype)
    k = ring_pop_many(data, state, mask, out)
    for j in range(k):
        total += out[j]
    return total


def test_a_user_numba_loop_drives_the_ring_through_core():
    rb = RingBuffer(16)
    assert _sum_through_ring(*rb.core, 10_000) == sum(range(10_000))
    assert rb.stats().pushed == rb.stats().popped == 10_000
    rb._check()


def test_numba_and_python_can_share_one_ring():
    rb = RingBuffer(8, dtype=np.float64)
    data, state, mask = rb.core
    assert ring_push_many(data, state, mask, np.array([0.5, 1.5, 2.5])) == 3
    assert rb.pop() == 0.5
    rb.push(3.5)
    ok, value = ring_pop(data, state, mask)
    assert ok and value == 1.5 and rb.pop_many(8).tolist() == [2.5, 3.5]
    assert ring_pop(data, state, mask) == (False, 0.0)
    rb._check()
