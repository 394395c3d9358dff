"""MSQueue: emulated atomics, FIFO behaviour of every variant, real threads."""

from __future__ import annotations

import random
import sys
import threading
from collections import deque

import pytest

from rtkit.errors import ConfigError
from rtkit.msqueue import AtomicInt, AtomicRef, MSQueue, Node, Tagged

VARIANTS = [
    {"tail_swing": "seed"},
    {"tail_swing": "correct"},
    {"tail_swing": "correct", "node_reuse": True},
    {"tail_swing": "correct", "node_reuse": True, "tagged": True},
    {"tail_swing": "seed", "tagged": True},
]


# -- the emulated atomics ---------------------------------------------------------------


def test_cas_compares_identity_like_a_pointer_not_equality():
    a, b = [1], [1]
    cell = AtomicRef(a)
    assert not cell.compare_and_swap(b, "new")  # equal, but another object
    assert cell.load() is a
    assert cell.compare_and_swap(a, "new")
    assert cell.load() == "new"


def test_cas_on_tagged_pointers_needs_node_and_counter_to_match():
    n = Node("n0", None, None)
    cell = AtomicRef(Tagged(n, 3))
    assert not cell.compare_and_swap(Tagged(n, 2), Tagged(None, 4))  # same node, old counter
    assert cell.compare_and_swap(Tagged(n, 3), Tagged(None, 4))  # an equal, distinct pair
    assert cell.load() == Tagged(None, 4)


def test_store_and_atomic_int():
    cell = AtomicRef(1)
    cell.store(2)
    assert cell.load() == 2
    counter = AtomicInt()
    assert (counter.add(5), counter.add(-7), counter.load()) == (5, -2, -2)


def test_cas_is_atomic_under_real_threads():
    cell, wins = AtomicRef(0), AtomicInt()

    def bump() -> None:
        for _ in range(2_000):
            while True:
                seen = cell.load()
                if cell.compare_and_swap(seen, seen + 1):
                    wins.add(1)
                    break

    threads = [threading.Thread(target=bump, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "CAS loop did not finish"
    assert cell.load() == wins.load() == 8_000


# -- configuration ----------------------------------------------------------------------


def test_unknown_tail_swing_is_rejected_with_the_allowed_ones_named():
    with pytest.raises(ConfigError, match="tail_swing must be one of 'seed', 'correct'"):
        MSQueue("fast")


@pytest.mark.parametrize("max_spins", [0, -3, 1.5])
def test_max_spins_must_be_a_positive_integer(max_spins):
    with pytest.raises(ConfigError, match="max_spins"):
        MSQueue(max_spins=max_spins)


# -- sequential behaviour ---------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_without_interleaving_every_variant_is_a_fifo_like_deque(variant):
    rng = random.Random(str(variant))
    q, oracle = MSQueue(**variant), deque()
    q._check()
    for i in range(1_500):
        if rng.random() < 0.55:
            q.enqueue(i)
            oracle.append(i)
        else:
            expected = (oracle.popleft(), True) if oracle else (None, False)
            assert q.dequeue() == expected
        q._check()
        assert q.approximate_size() == len(oracle)


def test_node_reuse_recycles_dequeued_nodes_instead_of_building_new_ones():
    q = MSQueue(node_reuse=True)
    for i in range(100):
        q.enqueue(i)
        assert q.dequeue() == (i, True)
    assert q._nodes_built == 2  # the first dummy and one more, swapped back and forth
    q._check()


# -- real threads ---------------------------------------------------------------------------


@pytest.fixture
def frequent_thread_switches():
    """Make CPython switch threads every microsecond, so operations really interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize(
    "variant", [{}, {"node_reuse": True, "tagged": True}], ids=["gc", "reuse-tagged"]
)
@pytest.mark.usefixtures("frequent_thread_switches")
def test_two_producers_two_consumers_deliver_every_item_exactly_once(variant):
    q = MSQueue("correct", **variant)
    per_producer, received = 3_000, [[], []]
    done = threading.Event()

    def produce(pid: int) -> None:
        for seq in range(per_producer):
            q.enqueue((pid, seq))

    def consume(cid: int) -> None:
        while not done.is_set() or q.approximate_size() > 0:
            value, ok = q.dequeue()
            if ok:
                received[cid].append(value)

    producers = [threading.Thread(target=produce, args=(p,), daemon=True) for p in range(2)]
    consumers = [threading.Thread(target=consume, args=(c,), daemon=True) for c in range(2)]
    for t in producers + consumers:
        t.start()
    for t in producers:
        t.join(timeout=30)
    done.set()
    for t in consumers:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in producers + consumers), "threads did not finish"
    delivered = received[0] + received[1]
    assert sorted(delivered) == [(p, s) for p in range(2) for s in range(per_producer)]
    for items in received:  # FIFO: each consumer sees each producer's items in order
        for pid in range(2):
            seqs = [s for p, s in items if p == pid]
            assert seqs == sorted(seqs)
    assert q.dequeue() == (None, False)
    q._check()
