"""BoundedQueue under 4 producers and 4 consumers, for each full-queue policy.

Every item offered is accounted for exactly once: delivered to one consumer,
or dropped (``drop_newest``: the producer sees ``False``; ``drop_oldest``: the
queue counts the eviction), or rejected (``reject``: the producer catches
QueueFull). Nothing is lost, nothing is duplicated, each producer's delivered
items keep their order, and every run is bounded in time.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter

import pytest

from rtkit.errors import Closed, QueueEmpty, QueueFull
from rtkit.queues import POLICIES, BoundedQueue

PRODUCERS = 4
CONSUMERS = 4
PER_PRODUCER = 5_000
CAPACITY = 8
JOIN_TIMEOUT_S = 8.0


@pytest.fixture
def frequent_thread_switches():
    """Make CPython switch threads every 10 µs, so puts and gets really interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def _join_all(threads: list[threading.Thread], q: BoundedQueue, what: str) -> None:
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT_S)
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        q.close()  # wake anything blocked, so the daemon threads can end
        pytest.fail(f"{what} still running after {JOIN_TIMEOUT_S} s: {stuck}; {q.stats()}")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.usefixtures("frequent_thread_switches")
def test_four_producers_four_consumers_account_for_every_item_exactly_once(policy):
    q: BoundedQueue[tuple[int, int]] = BoundedQueue(CAPACITY, policy=policy)
    # Consumers start once some producer has offered more than the queue holds, so a full
    # queue (and, for the lossy policies, at least one loss) is certain, not a timing accident.
    go = threading.Event()
    if policy == "block":
        go.set()  # a blocked producer would never reach the threshold
    refused: list[list[tuple[int, int]]] = [[] for _ in range(PRODUCERS)]  # dropped or rejected
    delivered: list[list[tuple[int, int]]] = [[] for _ in range(CONSUMERS)]
    errors: list[BaseException] = []

    def produce(pid: int) -> None:
        try:
            for seq in range(PER_PRODUCER):
                item = (pid, seq)
                try:
                    if not q.put(item, timeout=JOIN_TIMEOUT_S):
                        refused[pid].append(item)
                except QueueFull:
                    if policy != "reject":
                        raise
                    refused[pid].append(item)
                if seq == CAPACITY:
                    go.set()
                if seq % 2:
                    time.sleep(0)  # yield now and then, so consumers keep up with part of the flow
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def consume(cid: int) -> None:
        try:
            go.wait(JOIN_TIMEOUT_S)
            while True:
                try:
                    delivered[cid].append(q.get(timeout=JOIN_TIMEOUT_S))
                except Closed:
                    return
        except QueueEmpty as exc:
            errors.append(exc)

    producers = [
        threading.Thread(target=produce, args=(p,), name=f"producer-{p}", daemon=True)
        for p in range(PRODUCERS)
    ]
    consumers = [
        threading.Thread(target=consume, args=(c,), name=f"consumer-{c}", daemon=True)
        for c in range(CONSUMERS)
    ]
    for t in consumers + producers:
        t.start()
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    while any(t.is_alive() for t in producers) and time.monotonic() < deadline:
        q._check()  # the invariants hold while everything runs
        time.sleep(0.005)
    _join_all(producers, q, "producers")
    q.close()
    _join_all(consumers, q, "consumers")
    assert errors == []
    q._check()

    offered = PRODUCERS * PER_PRODUCER
    got = [item for items in delivered for item in items]
    lost_by_producers = [item for items in refused for item in items]
    counts = Counter(got)
    assert not [item for item, n in counts.items() if n > 1], "an item was delivered twice"
    assert not set(got) & set(lost_by_producers), "an item was delivered and also refused"
    s = q.stats()
    evicted = s.dropped if policy == "drop_oldest" else 0
    assert len(got) + len(lost_by_producers) + evicted == offered
    assert len(set(got) | set(lost_by_producers)) == offered - evicted
    assert (s.depth, s.dequeued, s.enqueued) == (0, len(got), offered - len(lost_by_producers))
    for items in delivered:  # one FIFO: each consumer sees each producer's items in order
        for pid in range(PRODUCERS):
            seqs = [seq for p, seq in items if p == pid]
            assert seqs == sorted(seqs), f"producer {pid}'s items out of order"

    if policy == "block":
        assert (s.dropped, s.rejected, len(got)) == (0, 0, offered)
        assert s.high_water <= CAPACITY
    elif policy == "drop_newest":
        assert s.dropped == len(lost_by_producers) > 0 and s.rejected == 0
    elif policy == "drop_oldest":
        assert lost_by_producers == [] and s.dropped > 0 and s.rejected == 0
    else:
        assert s.rejected == len(lost_by_producers) > 0 and s.dropped == 0
    if policy != "block":
        assert s.high_water == CAPACITY  # consumers started only after the queue had filled
