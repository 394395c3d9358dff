"""A deterministic step interleaver for the lock-free queue of :mod:`rtkit.msqueue`.

Races in lock-free code depend on which thread runs which memory access
when: in a real run the bad interleaving is rare and unrepeatable. Here each
queue operation is a generator that stops after every shared-memory access
(:meth:`~rtkit.msqueue.MSQueue.enqueue_steps`,
:meth:`~rtkit.msqueue.MSQueue.dequeue_steps`), and a :class:`Scheduler`
decides who runs next. Every step appends a :class:`TraceRow` (who did what;
head, tail, items and size right after; which invariants are broken), which
lesson 04 shows as a table.

Two scenarios from seed 000's notes are built in:

* :func:`tail_behind_head_scenario` (S000-17/18): the seed's tail swing
  moves tail behind head; the next dequeue on the empty queue spins.
* :func:`aba_scenario` (S000-20): with recycled nodes, a stale CAS on head
  succeeds and an item is delivered twice; tagged pointers stop it.

Example:
    >>> s = aba_scenario(tagged=True)
    >>> s.results["T"]
    (None, False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rtkit.errors import RtkitError, StateError, check_int
from rtkit.msqueue import MSQueue, Op

__all__ = [
    "Scheduler",
    "TraceRow",
    "aba_scenario",
    "format_trace",
    "interleave",
    "tail_behind_head_scenario",
]


@dataclass(frozen=True)
class TraceRow:
    """One step of an interleaving: who did what, and the queue right after it.

    ``problems`` lists the invariants broken after the step (see
    :meth:`~rtkit.msqueue.MSQueue.check_invariants`); empty when all hold.
    """

    step: int
    thread: str
    action: str
    head: str
    tail: str
    items: tuple
    size: int
    problems: tuple[str, ...] = ()


class Scheduler:
    """Runs queue operations one shared-memory access at a time, in a chosen order.

    A *thread* is a name running one operation (from
    :meth:`~rtkit.msqueue.MSQueue.enqueue_steps` or
    :meth:`~rtkit.msqueue.MSQueue.dequeue_steps`) at a time.
    Each :meth:`step` performs that thread's next access; the step after its
    last access returns its result. Every step appends a :class:`TraceRow`.

    Example:
        >>> q = MSQueue()
        >>> s = Scheduler(q)
        >>> s.spawn("A", q.enqueue_steps("a"))
        >>> s.run_until("A", "CAS n0.next")
        >>> s.trace[-1].action, s.trace[-1].items
        ('CAS n0.next None -> n1: ok', ('a',))
        >>> s.finish("A"), q.approximate_size()
        (None, 1)
    """

    def __init__(self, queue: MSQueue) -> None:
        self.queue = queue
        self.trace: list[TraceRow] = []
        self.results: dict[str, Any] = {}
        self._ops: dict[str, Op] = {}

    def spawn(self, thread: str, op: Op) -> None:
        """Start ``op`` on ``thread``, which must not be running another operation."""
        if thread in self._ops:
            raise StateError(f"thread {thread!r} is still running an operation")
        self._ops[thread] = op

    @property
    def running(self) -> tuple[str, ...]:
        """The threads with an operation in flight."""
        return tuple(self._ops)

    def step(self, thread: str, n: int = 1) -> None:
        """Run ``n`` steps of ``thread``; an error the operation raises is recorded, then raised."""
        for _ in range(check_int("n", n, minimum=1)):
            op = self._ops.get(thread)
            if op is None:
                raise StateError(f"thread {thread!r} has no operation running")
            try:
                fmt, *args = next(op)
                action = fmt.format(*args)
            except StopIteration as stop:
                del self._ops[thread]
                self.results[thread] = stop.value
                action = f"returns {stop.value!r}"
            except RtkitError as exc:
                del self._ops[thread]
                self.results[thread] = exc
                self._record(thread, f"raises {type(exc).__name__}: {exc}")
                raise
            self._record(thread, action)

    def run_until(self, thread: str, text: str) -> None:
        """Step ``thread`` until it has done an action containing ``text``."""
        while True:
            if thread not in self._ops:
                raise StateError(f"thread {thread!r} finished before doing {text!r}")
            self.step(thread)
            if text in self.trace[-1].action:
                return

    def finish(self, thread: str) -> Any:
        """Step ``thread`` until its operation returns; return its result."""
        if thread not in self._ops:
            raise StateError(f"thread {thread!r} has no operation running")
        while thread in self._ops:
            self.step(thread)
        return self.results[thread]

    def _record(self, thread: str, action: str) -> None:
        head, tail, items, size = self.queue.snapshot()
        problems = tuple(self.queue.check_invariants())
        row = TraceRow(len(self.trace) + 1, thread, action, head, tail, items, size, problems)
        self.trace.append(row)

    def table(self) -> str:
        """The trace as a plain-text table."""
        return format_trace(self.trace)


def format_trace(rows: Iterable[TraceRow]) -> str:
    """Format trace rows as a fixed-width table; the last column says whether invariants hold."""
    lines = [("step", "thread", "action", "head", "tail", "items", "size", "invariants")]
    lines += [
        (
            str(r.step),
            r.thread,
            r.action,
            r.head,
            r.tail,
            " ".join(map(str, r.items)),
            str(r.size),
            "BROKEN" if r.problems else "ok",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def interleave(queue: MSQueue, ops: dict[str, Op], schedule: Iterable[str]) -> Scheduler:
    """Spawn each of ``ops`` on its thread and run one step per name in ``schedule``.

    Example:
        >>> q = MSQueue()
        >>> s = interleave(q, {"A": q.enqueue_steps(1), "B": q.dequeue_steps()}, "BBBBB")
        >>> s.results["B"]
        (None, False)
    """
    scheduler = Scheduler(queue)
    for thread, op in ops.items():
        scheduler.spawn(thread, op)
    for thread in schedule:
        scheduler.step(thread)
    return scheduler


def tail_behind_head_scenario(tail_swing: str = "seed", max_spins: int = 3) -> Scheduler:
    """S000-17/18: A links its node; B enqueues; two dequeues; A resumes; then a dequeue.

    With the seed's swing, A moves tail back onto a dequeued node, behind
    head, and the final dequeue on the empty queue spins until ``max_spins``
    (its StateError is the last row of the trace). With the correct swing,
    A's stale CAS fails and the final dequeue reports empty.

    Example:
        >>> s = tail_behind_head_scenario("seed")
        >>> s.queue.check_invariants()
        ['tail n1 is not in the list from head n2: tail is behind head']
        >>> s.trace[-1].action
        'raises StateError: dequeue still spinning after 3 tries: tail n1 is behind head n2'
        >>> tail_behind_head_scenario("correct").results["D"]
        (None, False)
    """
    q = MSQueue(tail_swing, max_spins=max_spins)
    s = Scheduler(q)
    s.spawn("A", q.enqueue_steps("a"))
    s.run_until("A", "CAS n0.next")  # A has linked its node, and is preempted before swinging tail
    s.spawn("B", q.enqueue_steps("b"))
    s.finish("B")
    for _ in range(2):
        s.spawn("C", q.dequeue_steps())
        s.finish("C")
    s.finish("A")
    s.spawn("D", q.dequeue_steps())
    with contextlib.suppress(StateError):  # recorded as the last row of the trace
        s.finish("D")
    return s


def aba_scenario(tagged: bool = False) -> Scheduler:
    """S000-20: ABA on head once nodes are recycled; tagged pointers prevent it.

    The queue holds x, y. T starts a dequeue: it sees head n0, next n1 and
    value x, and is preempted before its CAS. U dequeues x (n0 is freed),
    enqueues z (n0 is reused for it), dequeues y and z: head is n0 again. T's
    ``CAS(head, n0, n1)`` cannot tell, succeeds, and hands out x a second
    time; head now points at a freed node, through which y and z reappear.
    With ``tagged``, head reads n0#3, not n0#0: T's CAS fails, T retries and
    finds the queue empty.

    Example:
        >>> s = aba_scenario(tagged=False)
        >>> s.results["T"], s.trace[-1].items
        (('x', True), ('y', 'z'))
        >>> aba_scenario(tagged=True).results["T"]
        (None, False)
    """
    q = MSQueue("correct", node_reuse=True, tagged=tagged)
    q.enqueue("x")
    q.enqueue("y")
    s = Scheduler(q)
    s.spawn("T", q.dequeue_steps())
    s.run_until("T", ".value")  # T is about to CAS head from n0 to n1
    for op in (q.dequeue_steps(), q.enqueue_steps("z"), q.dequeue_steps(), q.dequeue_steps()):
        s.spawn("U", op)
        s.finish("U")
    s.finish("T")
    return s
