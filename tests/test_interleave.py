"""The step interleaver: S000-17/18 (tail behind head, livelock), S000-20 (ABA), determinism."""

from __future__ import annotations

import pytest

from rtkit.errors import StateError
from rtkit.interleave import (
    Scheduler,
    aba_scenario,
    format_trace,
    interleave,
    tail_behind_head_scenario,
)
from rtkit.msqueue import MSQueue

# -- S000-17 / S000-18: the seed's tail swing ---------------------------------------------


def test_seed_tail_swing_moves_tail_behind_head_onto_a_dequeued_node():
    s = tail_behind_head_scenario("seed")
    swing = next(r for r in s.trace if r.thread == "A" and "seed swing" in r.action)
    assert swing.action == "CAS tail n2 -> n1 (seed swing): ok"
    assert (swing.head, swing.tail, swing.items) == ("n2", "n1", ())
    assert any("tail is behind head" in p for p in swing.problems)
    before = s.trace[: swing.step - 1]
    assert all(not r.problems for r in before), "the invariants held until A's stale swing"
    assert s.results["C"] == ("b", True)
    assert s.queue.check_invariants() == [
        "tail n1 is not in the list from head n2: tail is behind head"
    ]


def test_seed_livelock_on_the_empty_queue_raises_instead_of_spinning_forever():
    s = tail_behind_head_scenario("seed", max_spins=3)
    assert isinstance(s.results["D"], StateError)
    assert s.trace[-1].action == (
        "raises StateError: dequeue still spinning after 3 tries: tail n1 is behind head n2"
    )
    spins = [r for r in s.trace if r.thread == "D" and r.action.startswith("load n2.next")]
    assert len(spins) == 3
    q = s.queue
    q.max_spins = 500  # the same broken state, more patience: still no way out
    with pytest.raises(StateError, match="still spinning after 500 tries: tail n1 is behind head"):
        q.dequeue()


def test_correct_tail_swing_keeps_every_invariant_at_every_step_and_reports_empty():
    s = tail_behind_head_scenario("correct")
    assert [r.problems for r in s.trace if r.problems] == []
    stale = next(r for r in s.trace if r.thread == "A" and r.action.startswith("CAS tail"))
    assert stale.action == "CAS tail n0 -> n1: failed"
    assert s.results["D"] == (None, False)
    s.queue._check()


def test_size_is_updated_after_publishing_so_it_goes_negative_in_the_schedule():
    for swing in ("seed", "correct"):
        sizes = [r.size for r in tail_behind_head_scenario(swing).trace]
        assert min(sizes) == -1  # S000-19: a consumer decremented before A incremented


def test_the_scenario_trace_is_deterministic():
    first = tail_behind_head_scenario("seed").trace
    again = tail_behind_head_scenario("seed").trace
    assert first == again
    table = format_trace(first)
    assert table.splitlines()[0].split() == [
        "step", "thread", "action", "head", "tail", "items", "size", "invariants",
    ]  # fmt: skip
    assert "BROKEN" in table


# -- S000-20: ABA ---------------------------------------------------------------------------


def test_aba_with_recycled_nodes_delivers_an_item_twice_and_resurrects_others():
    s = aba_scenario(tagged=False)
    t_cas = next(r for r in s.trace if r.thread == "T" and r.action.startswith("CAS head"))
    assert t_cas.action == "CAS head n0 -> n1: ok"  # n0 is back at head, but it is not the same n0
    assert s.results["T"] == ("x", True)  # x was already dequeued by U
    q = s.queue
    assert "node n1 is in the list and on the free list" in q.check_invariants()
    assert q.dequeue() == ("y", True)  # y comes back too


def test_tagged_pointers_make_the_stale_cas_fail_and_the_queue_stays_correct():
    s = aba_scenario(tagged=True)
    t_cas = next(r for r in s.trace if r.thread == "T" and r.action.startswith("CAS head"))
    assert t_cas.action == "CAS head n0#0 -> n1#1: failed"
    assert t_cas.head == "n0#3"
    assert s.results["T"] == (None, False)
    assert [r.problems for r in s.trace if r.problems] == []
    s.queue._check()
    assert s.queue.dequeue() == (None, False)


def test_without_node_reuse_the_same_schedule_is_safe_as_in_go():
    q = MSQueue("correct")
    q.enqueue("x")
    q.enqueue("y")
    s = Scheduler(q)
    s.spawn("T", q.dequeue_steps())
    s.run_until("T", ".value")
    for op in (q.dequeue_steps(), q.enqueue_steps("z"), q.dequeue_steps(), q.dequeue_steps()):
        s.spawn("U", op)
        s.finish("U")
    assert s.finish("T") == (None, False)  # the node T saw cannot come back while T holds it
    q._check()


# -- the scheduler --------------------------------------------------------------------------


def test_interleave_runs_one_access_per_name_and_records_each_step():
    q = MSQueue()
    s = interleave(q, {"A": q.enqueue_steps("a"), "B": q.enqueue_steps("b")}, "ABABABAB")
    assert [r.thread for r in s.trace] == list("ABABABAB")
    assert [r.step for r in s.trace] == list(range(1, 9))
    assert set(s.running) == {"A", "B"}
    for thread in ("A", "B"):
        assert s.finish(thread) is None
    q._check()
    assert sorted(v for v, _ in (q.dequeue(), q.dequeue())) == ["a", "b"]


def test_scheduler_misuse_is_a_clear_error():
    q = MSQueue()
    s = Scheduler(q)
    with pytest.raises(StateError, match="thread 'A' has no operation running"):
        s.step("A")
    s.spawn("A", q.dequeue_steps())
    with pytest.raises(StateError, match="thread 'A' is still running an operation"):
        s.spawn("A", q.enqueue_steps(1))
    with pytest.raises(StateError, match="thread 'A' finished before doing 'CAS head'"):
        s.run_until("A", "CAS head")
    assert s.results["A"] == (None, False)
    with pytest.raises(StateError, match="no operation running"):
        s.finish("A")
