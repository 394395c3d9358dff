"""Stream: per-subscriber buffers, policies, order, isolation, accounting, clean close."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from rtkit.clock import WallClock
from rtkit.errors import Closed, ConfigError, QueueFull, StateError
from rtkit.streaming import Stream, StreamStats, SubscriberStats

TIMEOUT_S = 20.0  # a safety net against hangs, never an assertion about speed


pytestmark = pytest.mark.usefixtures("no_leaked_threads")  # tests/conftest.py


def _slow(seconds: float, into: list):
    def callback(x):
        time.sleep(seconds)
        into.append(x)

    return callback


def test_each_subscriber_gets_every_item_once_in_publish_order():
    a, b = [], []
    s = Stream()
    s.subscribe(a.append, name="a")
    s._check()
    s.subscribe(b.append, name="b", capacity=3)
    s._check()
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
        s._check()
        for x in range(200):
            s.publish(x)
            s._check()
    assert overlaps[0] == 0


def test_filter_decides_what_a_subscriber_sees_and_is_counted():
    odd = []
    with Stream() as s:
        s.subscribe(odd.append, filter=lambda x: x % 2, name="odd")
        s._check()
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
    s._check()
    start = time.perf_counter()
    for x in range(300):
        while time.perf_counter() < start + x * 0.0001:
            pass
        s.publish(x)
        s._check()
    final = s.close(TIMEOUT_S)["slow"]
    assert got == list(range(300))
    assert (final.published, final.delivered, final.dropped) == (300, 300, 0)
    assert final.high_water == 8  # the buffer did fill: backpressure, not luck


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest", "error"])
def test_drop_policies_account_for_every_item_exactly(policy):
    got = []
    s = Stream()
    s.subscribe(_slow(0.0005, got), capacity=4, policy=policy, name="slow")
    s._check()
    fast = []
    s.subscribe(fast.append, name="fast", capacity=10_000)
    s._check()
    refused = 0
    for x in range(400):
        try:
            s.publish(x)
            s._check()
        except QueueFull:
            refused += 1
        s._check()
    final = s.close(TIMEOUT_S)
    s._check()
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
        s._check()
        other = []
        s.subscribe(other.append, name="other")
        s._check()
        for x in range(30):
            s.publish(x)
            s._check()
    st = s.stats()["flaky"]
    assert st.errors == 10 and st.delivered == 30
    assert st.last_error == "ValueError('bad 27')"
    assert good == [x for x in range(30) if x % 3]
    assert other == list(range(30))


def test_a_raising_filter_is_an_error_of_its_subscriber_only():
    seen = []
    with Stream() as s:
        s.subscribe(print, filter=lambda x: 1 / 0, name="broken")
        s._check()
        s.subscribe(seen.append, name="fine")
        s._check()
        assert s.publish(1) == 1
    assert s.stats()["broken"].errors == 1 and s.stats()["broken"].published == 0
    assert seen == [1]


def test_a_slow_subscriber_under_drop_oldest_does_not_slow_a_fast_one():
    slow, fast = [], []
    s = Stream()
    s.subscribe(_slow(0.002, slow), capacity=2, policy="drop_oldest", name="slow")
    s._check()
    s.subscribe(fast.append, name="fast")
    s._check()
    for x in range(500):
        s.publish(x)
        s._check()
    # The fast subscriber is done while the slow one still has its backlog.
    deadline = time.perf_counter() + TIMEOUT_S
    while len(fast) < 500 and time.perf_counter() < deadline:
        time.sleep(0.001)
    assert len(fast) == 500 and len(slow) < 500
    final = s.close(TIMEOUT_S)
    s._check()
    assert final["slow"].delivered + final["slow"].dropped == 500


def test_close_under_load_drains_what_was_accepted_and_then_refuses():
    got = []
    s = Stream()
    s.subscribe(_slow(0.00005, got), capacity=64, name="sub")
    s._check()
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
    s._check()


def test_unsubscribe_delivers_the_backlog_then_stops_delivering():
    got = []
    s = Stream()
    s.subscribe(_slow(0.0005, got), name="x", capacity=100)
    s._check()
    for i in range(20):
        s.publish(i)
        s._check()
    final = s.unsubscribe("x", TIMEOUT_S)
    s._check()
    assert got == list(range(20)) and final.delivered == 20
    assert s.publish(99) == 0
    assert "x" not in s.stats()
    s.close()
    s._check()


def test_latency_is_recorded_for_every_delivered_item():
    with Stream() as s:
        s.subscribe(lambda x: None, name="a")
        s._check()
        for x in range(100):
            s.publish(x)
            s._check()
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
    s._check()
    with pytest.raises(ConfigError, match=match):
        s.subscribe(print, **kwargs)
    s._check()
    assert list(s.stats()) == ["taken"]
    s.publish(1)
    s._check()
    s.close(TIMEOUT_S)
    s._check()
    assert got == [1]


def test_unknown_subscriber_and_non_callable_callback_are_refused():
    s = Stream()
    with pytest.raises(ConfigError, match="no subscriber named 'ghost'"):
        s.unsubscribe("ghost")
    s._check()
    with pytest.raises(ConfigError, match="callback must be callable"):
        s.subscribe("print")
    s._check()
    s.close()
    s._check()
    with pytest.raises(Closed):
        s.subscribe(print)
    s._check()


# -- close and unsubscribe while a publisher is blocked; a publish racing close ---------


def _wait_until(condition):
    deadline = time.perf_counter() + TIMEOUT_S
    while not condition() and time.perf_counter() < deadline:
        time.sleep(0.001)
    assert condition()


def _stuck_stream():
    """A block subscriber stuck in its callback, and a publisher blocked on its full buffer."""
    release, entered = threading.Event(), threading.Event()

    def stuck(x):
        entered.set()
        release.wait(TIMEOUT_S)

    s = Stream()
    s.subscribe(stuck, capacity=1, name="stuck")
    outcome = []

    def publisher():
        try:
            for x in range(5):
                s.publish(x)
        except Closed as exc:
            outcome.append(exc)

    t = threading.Thread(target=publisher, daemon=True)
    t.start()
    entered.wait(TIMEOUT_S)
    _wait_until(lambda: s.stats()["stuck"].depth == 1)  # 0 in the callback, 1 queued, 2 blocked
    return s, release, t, outcome


def test_close_disconnects_a_stuck_subscriber_within_its_timeout():
    s, release, t, outcome = _stuck_stream()
    closer_done, raised = threading.Event(), []

    def closer():
        try:
            s.close(timeout_s=0.2)
        except StateError as exc:
            raised.append(exc)
        closer_done.set()

    c = threading.Thread(target=closer, daemon=True)
    c.start()
    try:
        assert closer_done.wait(TIMEOUT_S), "close(timeout_s=0.2) hung behind the publisher"
        assert len(raised) == 1 and "'stuck' did not finish" in str(raised[0])
        t.join(TIMEOUT_S)
        assert len(outcome) == 1  # the blocked publisher was told the stream closed
    finally:
        release.set()
    final = s.close(TIMEOUT_S)["stuck"]  # once the callback returns, close completes
    c.join(TIMEOUT_S)
    assert (final.published, final.delivered, final.dropped) == (2, 2, 0)
    s._check()


def test_unsubscribe_disconnects_a_stuck_subscriber_and_frees_the_publisher():
    s, release, t, outcome = _stuck_stream()
    try:
        with pytest.raises(StateError, match="'stuck' did not finish"):
            s.unsubscribe("stuck", timeout_s=0.2)
        t.join(TIMEOUT_S)
        assert not t.is_alive() and outcome == []  # it went on with nobody to serve
        assert "stuck" not in s.stats()
    finally:
        release.set()
    s.close(TIMEOUT_S)
    _wait_until(lambda: not any(x.name.startswith("rtkit-stream") for x in threading.enumerate()))


def _close_during_publish(s, reached, gate):
    """Publish "x" in a thread named "publisher"; once it has ``reached`` its pause, close ``s``
    from another thread, then open ``gate``. Returns the publish's outcome: its result or Closed.
    """
    outcome = []

    def publisher():
        try:
            outcome.append(s.publish("x"))
        except Closed as exc:
            outcome.append(exc)

    t = threading.Thread(target=publisher, name="publisher")
    t.start()
    assert reached.wait(TIMEOUT_S)  # the publish is under way, paused
    closer = threading.Thread(target=s.close, args=(TIMEOUT_S,))
    closer.start()
    _wait_until(lambda: s.closed)
    gate.set()
    t.join(TIMEOUT_S)
    closer.join(TIMEOUT_S)
    return outcome


class _GatedClock(WallClock):
    """A wall clock whose next reading waits for a gate: it pauses a publish mid-way."""

    def __init__(self):
        super().__init__()
        self.gate: threading.Event | None = None
        self.reached = threading.Event()

    def now_ns(self):
        if self.gate is not None and threading.current_thread().name == "publisher":
            gate, self.gate = self.gate, None
            self.reached.set()
            gate.wait(TIMEOUT_S)
        return super().now_ns()


def test_a_publish_racing_close_raises_closed_instead_of_vanishing():
    clock = _GatedClock()
    got = []
    s = Stream(clock=clock)
    s.subscribe(got.append, name="a")
    gate = clock.gate = threading.Event()
    outcome = _close_during_publish(s, clock.reached, gate)  # paused at its clock reading
    assert len(outcome) == 1 and isinstance(outcome[0], Closed), outcome
    final = s.stats()["a"]
    assert got == [] and (final.published, final.delivered) == (0, 0)
    s._check()


def _gated_filter():
    """A filter that pauses the publisher (once) until the test opens its gate."""
    gate, reached = threading.Event(), threading.Event()

    def accept(x):
        if not reached.is_set():
            reached.set()
            gate.wait(TIMEOUT_S)
        return True

    return accept, gate, reached


def test_a_close_during_the_offers_of_a_publish_raises_closed():
    accept, gate, reached = _gated_filter()
    got = []
    s = Stream()
    s.subscribe(got.append, filter=accept, name="a")
    outcome = _close_during_publish(s, reached, gate)  # paused inside the offer loop
    assert len(outcome) == 1 and isinstance(outcome[0], Closed), outcome
    assert got == [] and s.stats()["a"].published == 0
    s._check()


def test_a_subscriber_removed_during_a_publish_is_skipped_quietly():
    accept, gate, reached = _gated_filter()
    got = []
    s = Stream()
    s.subscribe(got.append, filter=accept, name="staying")
    s.subscribe(print, name="leaving")
    outcome = []
    t = threading.Thread(target=lambda: outcome.append(s.publish("x")))
    t.start()
    assert reached.wait(TIMEOUT_S)
    remover = threading.Thread(target=s.unsubscribe, args=("leaving", TIMEOUT_S))
    remover.start()
    _wait_until(lambda: "leaving" not in s.stats())
    gate.set()
    t.join(TIMEOUT_S)
    remover.join(TIMEOUT_S)
    assert outcome == [1]  # "leaving" was no longer a subscriber: not an error
    s.close(TIMEOUT_S)
    assert got == ["x"]
    s._check()


def test_a_block_publish_that_times_out_is_counted_as_a_drop():
    release = threading.Event()
    s = Stream()
    s.subscribe(lambda x: release.wait(TIMEOUT_S), capacity=1, name="a")
    try:
        s.publish(0)
        _wait_until(lambda: s.stats()["a"].in_flight == 1)
        s.publish(1)
        with pytest.raises(QueueFull, match="a"):
            s.publish(2, timeout_s=0.01)
        s._check()
    finally:
        release.set()
    final = s.close(TIMEOUT_S)["a"]
    assert (final.published, final.delivered, final.dropped) == (3, 2, 1)


def test_stats_is_a_frozen_record_with_a_mapping_by_subscriber_name():
    with Stream("quotes") as s:
        s.subscribe(print, filter=lambda x: False, name="a")
        s.subscribe(lambda x: None, name="b")
        s.publish(1)
        s._check()
    st = s.stats()
    assert isinstance(st, StreamStats) and st.name == "quotes" and st.closed
    assert [sub.name for sub in st.subscribers] == list(st) == ["a", "b"]
    assert isinstance(st["b"], SubscriberStats) and st["b"].delivered == 1
    assert "a" in st and "z" not in st and len(st) == 2
    assert dict(st.items())["a"].filtered == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.name = "other"
    with pytest.raises(KeyError):
        st["z"]
