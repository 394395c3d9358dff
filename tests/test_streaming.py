"""Stream: per-subscriber buffers, policies, order, isolation, accounting, clean close."""

from __future__ import annotations

import threading
import time

import pytest

from rtkit.errors import Closed, ConfigError, QueueFull
from rtkit.streaming import Stream

TIMEOUT_S = 20.0  # a safety net against hangs, never an assertion about speed


@pytest.fixture(autouse=True)
def no_leaked_threads():
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.name.startswith("rtkit-")]
    assert not leaked, f"threads left running: {leaked}"


def _slow(seconds: float, into: list):
    def callback(x):
        time.sleep(seconds)
        into.append(x)

    return callback


def test_each_subscriber_gets_every_item_once_in_publish_order():
    a, b = [], []
    s = Stream()
    s.subscribe(a.append, name="a")
    s.subscribe(b.append, name="b", capacity=3)
    for x in range(2_000):
        s.publish(x)
    s._check()
    final = s.close(TIMEOUT_S)
    s._check()
    assert a == list(range(2_000)) and b == list(range(2_000))
    assert final["a"].delivered == final["b"].delivered == 2_000
    assert final["b"].high_water <= 3


def test_the_callback_never_runs_concurrently_with_itself():
    running, overlaps = [0], [0]

    def callback(x):
        running[0] += 1
        if running[0] > 1:
            overlaps[0] += 1
        time.sleep(0.0001)
        running[0] -= 1

    with Stream() as s:
        s.subscribe(callback)
        for x in range(200):
            s.publish(x)
    assert overlaps[0] == 0


def test_filter_decides_what_a_subscriber_sees_and_is_counted():
    odd = []
    with Stream() as s:
        s.subscribe(odd.append, filter=lambda x: x % 2, name="odd")
        accepted = [s.publish(x) for x in range(10)]
    assert odd == [1, 3, 5, 7, 9]
    assert accepted == [0, 1] * 5
    st = s.stats()["odd"]
    assert (st.published, st.filtered, st.delivered) == (5, 5, 5)


def test_block_at_twice_the_sustainable_rate_delivers_everything_once_in_order():
    # The subscriber sustains one item per ~200 µs; the publisher offers one per ~100 µs.
    got = []
    s = Stream()
    s.subscribe(_slow(0.0002, got), capacity=8, policy="block", name="slow")
    start = time.perf_counter()
    for x in range(300):
        while time.perf_counter() < start + x * 0.0001:
            pass
        s.publish(x)
    final = s.close(TIMEOUT_S)["slow"]
    assert got == list(range(300))
    assert (final.published, final.delivered, final.dropped) == (300, 300, 0)
    assert final.high_water == 8  # the buffer did fill: backpressure, not luck


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest", "error"])
def test_drop_policies_account_for_every_item_exactly(policy):
    got = []
    s = Stream()
    s.subscribe(_slow(0.0005, got), capacity=4, policy=policy, name="slow")
    fast = []
    s.subscribe(fast.append, name="fast", capacity=10_000)
    refused = 0
    for x in range(400):
        try:
            s.publish(x)
        except QueueFull:
            refused += 1
        s._check()
    final = s.close(TIMEOUT_S)
    slow = final["slow"]
    assert slow.published == 400
    assert slow.delivered + slow.dropped == slow.published
    assert slow.dropped > 0 and slow.delivered == len(got)
    assert got == sorted(got)  # what survives keeps its order
    assert final["fast"].delivered == 400 and fast == list(range(400))
    if policy == "error":
        assert refused == slow.dropped
    if policy == "drop_oldest":
        assert got[-1] == 399  # the newest item always survives
    if policy == "drop_newest":
        assert got[0] == 0


def test_a_raising_callback_is_counted_and_the_stream_goes_on():
    good = []

    def flaky(x):
        if x % 3 == 0:
            raise ValueError(f"bad {x}")
        good.append(x)

    with Stream() as s:
        s.subscribe(flaky, name="flaky")
        other = []
        s.subscribe(other.append, name="other")
        for x in range(30):
            s.publish(x)
    st = s.stats()["flaky"]
    assert st.errors == 10 and st.delivered == 30
    assert st.last_error == "ValueError('bad 27')"
    assert good == [x for x in range(30) if x % 3]
    assert other == list(range(30))


def test_a_raising_filter_is_an_error_of_its_subscriber_only():
    seen = []
    with Stream() as s:
        s.subscribe(print, filter=lambda x: 1 / 0, name="broken")
        s.subscribe(seen.append, name="fine")
        assert s.publish(1) == 1
    assert s.stats()["broken"].errors == 1 and s.stats()["broken"].published == 0
    assert seen == [1]


def test_a_slow_subscriber_under_drop_oldest_does_not_slow_a_fast_one():
    slow, fast = [], []
    s = Stream()
    s.subscribe(_slow(0.002, slow), capacity=2, policy="drop_oldest", name="slow")
    s.subscribe(fast.append, name="fast")
    for x in range(500):
        s.publish(x)
    # The fast subscriber is done while the slow one still has its backlog.
    deadline = time.perf_counter() + TIMEOUT_S
    while len(fast) < 500 and time.perf_counter() < deadline:
        time.sleep(0.001)
    assert len(fast) == 500 and len(slow) < 500
    final = s.close(TIMEOUT_S)
    assert final["slow"].delivered + final["slow"].dropped == 500


def test_close_under_load_drains_what_was_accepted_and_then_refuses():
    got = []
    s = Stream()
    s.subscribe(_slow(0.00005, got), capacity=64, name="sub")
    stop = threading.Event()
    published = []

    def publisher():
        x = 0
        while not stop.is_set():
            try:
                if s.publish(x):
                    published.append(x)
            except Closed:
                return
            x += 1

    t = threading.Thread(target=publisher)
    t.start()
    time.sleep(0.05)
    final = s.close(TIMEOUT_S)["sub"]
    stop.set()
    t.join(TIMEOUT_S)
    assert not t.is_alive()
    # Everything a publish accepted before close went through, in order, nothing lost.
    assert got == published
    assert final.delivered == final.published == len(got)
    with pytest.raises(Closed):
        s.publish("late")


def test_unsubscribe_delivers_the_backlog_then_stops_delivering():
    got = []
    s = Stream()
    s.subscribe(_slow(0.0005, got), name="x", capacity=100)
    for i in range(20):
        s.publish(i)
    final = s.unsubscribe("x", TIMEOUT_S)
    assert got == list(range(20)) and final.delivered == 20
    assert s.publish(99) == 0
    assert "x" not in s.stats()
    s.close()


def test_latency_is_recorded_for_every_delivered_item():
    with Stream() as s:
        s.subscribe(lambda x: None, name="a")
        for x in range(100):
            s.publish(x)
    h = s.latency("a")
    assert h.count == 100 and h.min >= 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"capacity": 0}, "capacity must be >= 1, got 0"),
        ({"capacity": -3}, "capacity must be >= 1"),
        ({"policy": "spill"}, "policy must be one of"),
        ({"filter": 3}, "filter must be callable"),
        ({"name": "taken"}, "already exists"),
    ],
)
def test_bad_subscriptions_raise_clear_errors_and_change_nothing(kwargs, match):
    got = []
    s = Stream()
    s.subscribe(got.append, name="taken")
    with pytest.raises(ConfigError, match=match):
        s.subscribe(print, **kwargs)
    assert list(s.stats()) == ["taken"]
    s.publish(1)
    s.close(TIMEOUT_S)
    assert got == [1]


def test_unknown_subscriber_and_non_callable_callback_are_refused():
    s = Stream()
    with pytest.raises(ConfigError, match="no subscriber named 'ghost'"):
        s.unsubscribe("ghost")
    with pytest.raises(ConfigError, match="callback must be callable"):
        s.subscribe("print")
    s.close()
    with pytest.raises(Closed):
        s.subscribe(print)
