"""BoundedQueue: policies, counters, blocking and the conservation invariant."""

from __future__ import annotations

import contextlib
import random
import threading

import pytest

from rtkit.errors import Closed, ConfigError, QueueEmpty, QueueFull
from rtkit.queues import POLICIES, BoundedQueue


@pytest.mark.parametrize("capacity", [0, -1, 2.5, True])
def test_capacity_must_be_a_positive_integer(capacity):
    with pytest.raises(ConfigError, match="capacity"):
        BoundedQueue(capacity)


def test_unknown_policy_is_rejected_with_the_allowed_ones_named():
    with pytest.raises(ConfigError, match="policy must be one of 'block'"):
        BoundedQueue(4, policy="spill")


def test_fifo_order_is_kept():
    q = BoundedQueue(8)
    for x in range(5):
        q.put(x)
        q._check()
    assert [q.get() for _ in range(5)] == [0, 1, 2, 3, 4]
    q._check()


def test_drop_newest_discards_the_offered_item_and_counts_it():
    q = BoundedQueue(2, policy="drop_newest")
    assert [q.put(x) for x in "abcd"] == [True, True, False, False]
    s = q.stats()
    assert (s.depth, s.dropped, s.enqueued, s.high_water) == (2, 2, 2, 2)
    assert [q.get(), q.get()] == ["a", "b"]
    q._check()


def test_drop_oldest_evicts_the_head_and_accepts_the_new_item():
    q = BoundedQueue(2, policy="drop_oldest")
    assert [q.put(x) for x in "abcd"] == [True, True, True, True]
    assert [q.get(), q.get()] == ["c", "d"]
    s = q.stats()
    assert (s.dropped, s.enqueued, s.dequeued) == (2, 4, 2)
    q._check()


def test_reject_raises_queue_full_counts_it_and_leaves_the_queue_as_it_was():
    q = BoundedQueue(1, policy="reject")
    q.put("a")
    with pytest.raises(QueueFull, match="capacity 1"):
        q.put("b")
    s = q.stats()
    assert (s.depth, s.rejected, s.enqueued) == (1, 1, 1)
    assert q.get() == "a"
    q._check()


def test_block_policy_times_out_with_queue_full_and_changes_nothing():
    q = BoundedQueue(1, policy="block")
    q.put(1)
    with pytest.raises(QueueFull):
        q.put(2, timeout=0.01)
    with pytest.raises(QueueFull):
        q.put_nowait(2)
    assert q.stats().enqueued == 1 and len(q) == 1
    q._check()


def test_block_policy_waits_until_a_consumer_makes_room():
    q = BoundedQueue(1, policy="block")
    q.put("first")
    done = threading.Event()

    def producer():
        q.put("second")  # blocks until the get below
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    assert not done.wait(0.05)
    assert q.get() == "first"
    t.join(5)
    assert done.is_set() and q.get() == "second"
    q._check()


def test_get_times_out_with_queue_empty():
    q = BoundedQueue(1)
    with pytest.raises(QueueEmpty):
        q.get(timeout=0.01)
    with pytest.raises(QueueEmpty):
        q.get_nowait()


def test_close_refuses_puts_but_lets_consumers_drain_what_was_accepted():
    q = BoundedQueue(4)
    q.put(1)
    q.put(2)
    q.close()
    q.close()  # idempotent
    with pytest.raises(Closed):
        q.put(3)
    assert [q.get(), q.get()] == [1, 2]
    with pytest.raises(Closed):
        q.get()
    q._check()


def test_close_wakes_a_blocked_consumer():
    q = BoundedQueue(1)
    seen = []

    def consumer():
        try:
            q.get()
        except Closed:
            seen.append("closed")

    t = threading.Thread(target=consumer)
    t.start()
    q.close()
    t.join(5)
    assert seen == ["closed"]


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest"])
def test_many_producers_never_overshoot_capacity_and_every_item_is_accounted_for(policy):
    """The seed's check-then-act bound (S000-12) overshoots; this one cannot."""
    q = BoundedQueue(16, policy=policy)
    per_producer, producers = 5_000, 4
    received = []
    stop = threading.Event()

    def produce():
        for i in range(per_producer):
            q.put(i)

    def consume():
        while not stop.is_set() or len(q):
            with contextlib.suppress(QueueEmpty):
                received.append(q.get(timeout=0.001))

    consumer = threading.Thread(target=consume)
    consumer.start()
    threads = [threading.Thread(target=produce) for _ in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    consumer.join()
    s = q.stats()
    offered = per_producer * producers
    assert s.high_water <= 16
    assert s.depth == 0
    assert len(received) == s.dequeued
    if policy == "drop_newest":
        assert s.enqueued + s.dropped == offered
    else:
        assert s.enqueued == offered and s.dequeued + s.dropped == offered
    q._check()


@pytest.mark.parametrize("policy", POLICIES)
def test_seeded_random_actions_keep_the_invariants(policy):
    rng = random.Random(policy)
    q = BoundedQueue(rng.randint(1, 8), policy=policy)
    model: list[int] = []
    for step in range(3_000):
        if rng.random() < 0.6:
            full = len(model) >= q.capacity
            try:
                accepted = q.put_nowait(step)
            except QueueFull:
                assert full and policy in ("block", "reject")
            else:
                if accepted:
                    if full:
                        assert policy == "drop_oldest"
                        model.pop(0)
                    model.append(step)
                else:
                    assert full and policy == "drop_newest"
        else:
            try:
                assert q.get_nowait() == model.pop(0)
            except QueueEmpty:
                assert not model
        assert len(q) == len(model)
        q._check()
