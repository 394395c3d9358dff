"""Windows and aggregates against NumPy references, incl. late and out-of-order events."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtkit.errors import ConfigError
from rtkit.loadgen import constant_rate
from rtkit.streaming import (
    OHLC,
    TAPE_DTYPE,
    Aggregate,
    Pipeline,
    Tick,
    bars,
    count,
    mean,
    ohlc,
    ticks,
    total,
    trade_tape,
    vwap,
    zi_trade_tape,
)
from rtkit.streaming.windows import BatchNode, CountWindowNode, TimeWindowNode

NEVER = np.iinfo(np.int64).min // 2


pytestmark = pytest.mark.usefixtures("no_leaked_threads")  # tests/conftest.py


def summary(items):
    """What rtkit computes per window: count, volume, OHLC, VWAP (its aggregates)."""
    return (count()(items), total("qty")(items), ohlc()(items), vwap()(items))


def numpy_summary(price, qty):
    """The same four numbers from plain NumPy arrays (in event-time order)."""
    volume = int(qty.sum())
    bar = (int(price[0]), int(price.max()), int(price.min()), int(price[-1]), volume)
    return (int(price.size), volume, bar, float(np.dot(price, qty) / volume))


def reference_time_windows(events, size, slide, ooo, lateness):
    """NumPy reference: final contents of each time window, and the late events.

    The watermark an event meets is the largest event time *before* it,
    minus ``ooo``; the event joins every window ``[s, s + size)`` holding it
    whose ``end + lateness`` is still above that watermark.
    """
    t = np.array([e.t_ns for e in events], np.int64)
    price = np.array([e.price for e in events], np.int64)
    qty = np.array([e.qty for e in events], np.int64)
    n = t.size
    wm = np.concatenate(([NEVER], np.maximum.accumulate(t)[:-1] - ooo)) if n else t
    members = defaultdict(list)
    joined = np.zeros(n, bool)
    for j in range(size // slide + 1):
        start = (t // slide - j) * slide
        holds = start + size > t
        ok = holds & (wm < start + size + lateness)
        joined |= ok
        for i in np.flatnonzero(ok):
            members[int(start[i])].append(int(i))
    windows = {}
    for start, idx in members.items():
        idx = np.array(idx)
        idx = idx[np.lexsort((idx, t[idx]))]  # event time, then arrival
        windows[start] = numpy_summary(price[idx], qty[idx])
    late = [events[i] for i in np.flatnonzero(~joined)]
    return windows, late


def final_values(outputs):
    """The last firing of each window (later firings are updates)."""
    last = {}
    for w in outputs:
        assert w.update == last[w.start][1] + 1 if w.start in last else w.update == 0
        last[w.start] = (w.value, w.update)
    return {s: v for s, (v, _) in last.items()}


event_streams = st.lists(
    st.builds(Tick, st.integers(0, 300), st.integers(1, 60), st.integers(1, 9)), max_size=80
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    events=event_streams,
    size=st.integers(1, 40),
    slide_div=st.integers(1, 4),
    ooo=st.integers(0, 30),
    lateness=st.integers(0, 30),
)
def test_time_windows_equal_the_numpy_reference(events, size, slide_div, ooo, lateness):
    slide = max(1, size // slide_div)
    late = []
    p = Pipeline().window(
        size, slide, max_out_of_order_ns=ooo, allowed_lateness_ns=lateness, on_late=late.append
    )
    p.aggregate(Aggregate("summary", summary))
    arrivals = np.arange(len(events), dtype=np.int64)
    r = p.simulate(arrivals, events)
    p._check()
    want, want_late = reference_time_windows(events, size, slide, ooo, lateness)
    got = final_values(r.outputs)
    assert got.keys() == want.keys()
    for start in want:
        (c1, v1, o1, p1), (c2, v2, o2, p2) = got[start], want[start]
        assert (c1, v1, tuple(o1)) == (c2, v2, o2)
        assert np.isclose(p1, p2, rtol=1e-12)
    assert late == want_late and r.late == len(want_late)
    s = r.stats().stage("window")
    assert s.received == len(events) and s.depth == 0
    if lateness == 0:
        assert all(w.update == 0 for w in r.outputs)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(events=event_streams, size=st.integers(1, 12), slide=st.integers(1, 12))
def test_count_windows_equal_the_numpy_reference(events, size, slide):
    slide = min(slide, size)
    r = (
        Pipeline()
        .window(size, slide, by="count")
        .aggregate(total("qty"))
        .simulate(np.arange(len(events)), events)
    )
    qty = np.array([e.qty for e in events], np.int64)
    ends = list(range(slide, len(events) + 1, slide))
    if len(events) % slide:
        ends.append(len(events))  # the partial window emitted at close
    want = [(max(0, e - size), e, int(qty[max(0, e - size) : e].sum())) for e in ends]
    if slide == size:  # tumbling: the partial window holds only what came after the last one
        want = [(e - (e - 1) % size - 1, e, int(qty[e - (e - 1) % size - 1 : e].sum()))
                for e in ends]  # fmt: skip
    assert [(w.start, w.end, w.value) for w in r.outputs] == want


def test_threads_and_simulation_agree_on_out_of_order_windows():
    rng = np.random.default_rng(5)
    events = [Tick(int(t), int(rng.integers(90, 110)), 1) for t in rng.integers(0, 5_000, 3_000)]

    def build():
        return Pipeline().window(500, 250, max_out_of_order_ns=800, allowed_lateness_ns=300)

    threaded = build().aggregate(vwap()).run(events, timeout_s=30)
    simulated = build().aggregate(vwap()).simulate(np.arange(3_000), events)
    assert [(w.start, w.value, w.update) for w in threaded.outputs] == [
        (w.start, w.value, w.update) for w in simulated.outputs
    ]
    assert threaded.late == simulated.late > 0


def test_one_second_bars_of_the_zero_intelligence_flow_equal_the_vectorised_bars():
    tape = zi_trade_tape(4_000, rate_per_s=1_000, disorder_ns=20_000_000, seed=11)
    assert (np.diff(tape["t_ns"]) < 0).any()  # the feed really is out of order
    p = Pipeline().window(1_000_000_000, max_out_of_order_ns=20_000_000).aggregate(ohlc())
    r = p.simulate(tape["arrival_ns"], ticks(tape))
    ref = bars(tape["t_ns"], tape["price"], tape["qty"], 1_000_000_000)
    got = [(w.start, *w.value) for w in r.outputs]
    assert got == [tuple(b[["start_ns", "open", "high", "low", "close", "volume"]].tolist())
                   for b in ref]  # fmt: skip
    assert r.late == 0 and sum(w.count for w in r.outputs) == len(tape)
    v = Pipeline().window(1_000_000_000, max_out_of_order_ns=20_000_000).aggregate(vwap())
    vw = [w.value for w in v.simulate(tape["arrival_ns"], ticks(tape)).outputs]
    assert np.allclose(vw, ref["vwap"], rtol=1e-12)


def test_trade_tape_stamps_each_trade_with_the_time_of_the_op_that_caused_it():
    from rtkit.orderbook.flow import zero_intelligence

    ops = zero_intelligence(3_000, seed=2)
    times = constant_rate(1_000, 3_000)
    tape = trade_tape(ops, times)
    assert len(tape) > 0 and set(tape["t_ns"].tolist()) <= set(times.tolist())
    assert (tape["arrival_ns"] == tape["t_ns"]).all()
    assert (np.diff(tape["t_ns"]) >= 0).all()
    with pytest.raises(ConfigError, match="times_ns must be 3000"):
        trade_tape(ops, times[:-1])


def test_aggregates_work_on_records_dicts_and_structured_arrays():
    recs = [Tick(0, 10, 1), Tick(1, 20, 3)]
    arr = np.array([(10, 1), (20, 3)], dtype=[("price", "i8"), ("qty", "i8")])
    dicts = [{"price": 10, "qty": 1}, {"price": 20, "qty": 3}]
    for items in (recs, arr, dicts):
        assert vwap()(items) == 17.5
        assert ohlc()(items) == OHLC(10, 20, 10, 20, 4)
        assert total("qty")(items) == 4 and mean("price")(items) == 15.0
    assert np.isnan(vwap()([Tick(0, 5, 0)]))  # no volume: no price


def test_bars_reject_mismatched_columns():
    with pytest.raises(ConfigError, match="equal length"):
        bars(np.arange(3), np.arange(2), np.arange(3), 10)
    with pytest.raises(ConfigError, match="width_ns must be >= 1"):
        bars(np.arange(3), np.arange(3), np.arange(3), 0)
    assert len(bars(np.zeros(0), np.zeros(0), np.zeros(0), 5)) == 0


class _Ctx:
    def __init__(self):
        self.t = 0

    def now(self):
        return self.t

    def spend(self, ns):
        self.t += ns


class _Collect:
    def __init__(self):
        self.items = []
        self.stamps = []

    def push(self, stamps, value):
        self.items.append(value)
        self.stamps.append(stamps)


def test_batch_node_closes_on_size_or_age_and_keeps_every_stamp():
    ctx = _Ctx()
    node = BatchNode("b", ctx, size=3, flush_ns=100)
    node.next = out = _Collect()
    for i in range(4):
        node.push([i], i)
        node._check()
    assert out.items == [[0, 1, 2]] and node.deadline() == 3 + 100  # 3's ingest + flush
    ctx.t = 102
    node.on_timer(ctx.t)
    assert len(out.items) == 1
    ctx.t = 103
    node.on_timer(ctx.t)
    assert out.items == [[0, 1, 2], [3]] and out.stamps == [[0, 1, 2], [3]]
    assert node.deadline() is None


def test_time_window_node_keeps_its_invariants_through_late_updates():
    ctx = _Ctx()
    node = TimeWindowNode("w", ctx, size=10, slide=5, time_of=lambda e: e,
                          max_out_of_order_ns=3, allowed_lateness_ns=6)  # fmt: skip
    node.next = out = _Collect()
    for t in (1, 7, 12, 4, 16, 2, 30, 3, 40):
        node.push([t], t)
        node._check()
    node.flush()
    node._check()
    assert node.held == 0 and node.late == 1  # only the 3 after the watermark passed 26
    # Every stamp is delivered exactly once, except the late event's.
    delivered = sorted(s for stamps in out.stamps for s in stamps)
    assert delivered == sorted([1, 7, 12, 4, 16, 2, 30, 40])


def test_count_window_node_slides():
    node = CountWindowNode("c", _Ctx(), size=3, slide=1)
    node.next = out = _Collect()
    for i in range(5):
        node.push([i], i)
        node._check()
    assert [w.value for w in out.items] == [[0], [0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]]


def test_windows_read_numpy_rows_and_numpy_integer_times():
    tape = np.array([(5, 100, 2, 5), (15, 101, 1, 15)], dtype=TAPE_DTYPE)
    r = Pipeline().window(10).aggregate(vwap()).run(list(tape), timeout_s=30)
    assert [(w.start, w.value) for w in r.outputs] == [(0, 100.0), (10, 101.0)]
    assert r.stats().stage("window").errors == 0


def test_an_event_without_a_usable_time_is_an_error_not_a_crash():
    r = Pipeline().window(10, time_of="t").run([{"t": 1}, {"t": "soon"}, {"u": 2}, {"t": 3}])
    s = r.stats().stage("window")
    assert s.errors == 2 and s.last_error == "KeyError('t')"
    assert [w.value for w in r.outputs] == [[{"t": 1}, {"t": 3}]]
