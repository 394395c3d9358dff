"""The Michael–Scott lock-free queue from seed 000, with its compare-and-swap made explicit.

Seed 000 section 1 (l.287-357) writes the queue of Michael and Scott (1996):
a singly linked list with a dummy node, ``head`` pointing at the dummy and
``tail`` at the last node or the one before it; an enqueue links its node
after the last one with a compare-and-swap (CAS), then swings ``tail``; a
dequeue moves ``head`` one node on with a CAS and returns that node's value.
This module translates it line for line, so the lesson can run its mistakes:

* S000-17: the seed swings tail with ``CAS(&q.tail, load(&q.tail), n)``, from
  whatever tail is *now*, which is in effect ``tail = n``. A delayed enqueuer
  then moves tail backwards, behind head (``tail_swing="seed"``). Michael and
  Scott CAS from the tail seen in the successful iteration
  (``tail_swing="correct"``).
* S000-18: once tail is behind head, a dequeue on the empty queue retries
  forever. Here it gives up after ``max_spins`` tries with a
  :class:`~rtkit.errors.StateError` instead of hanging.
* S000-19: the size counter moves after the node is published, so it is
  approximate (even briefly negative): :meth:`MSQueue.approximate_size`.
* S000-20: the seed is safe from ABA only because Go's garbage collector
  never reuses a node that a thread still holds. With ``node_reuse=True`` a
  tiny free list recycles nodes, as a port without a collector would, and a
  stale CAS succeeds (ABA); ``tagged=True`` pairs every
  pointer with a counter that each CAS increments, so the stale CAS fails.

Python has no user-level CAS, so :class:`AtomicRef` emulates one with a lock.
Hardware does it in one instruction; under CPython it is a lock acquisition,
and an uncontended enqueue takes four of them (node, two CAS, the size
counter) and a dequeue two, where a lock-based queue takes one each: that is
why this queue loses to :class:`rtkit.queues.BoundedQueue`. Contention adds
retries, each with more acquisitions.

Each operation is written once, as a generator that yields after every
shared-memory access (each load, store and CAS). :meth:`MSQueue.enqueue` and
:meth:`MSQueue.dequeue` run it straight through, for real threads;
:class:`rtkit.interleave.Scheduler` runs several of them one access at a
time in a chosen order and records the queue after each step: the
interleavings that are rare in a real run become deterministic tables
(:func:`rtkit.interleave.tail_behind_head_scenario`,
:func:`rtkit.interleave.aba_scenario`).

Invariants (:meth:`MSQueue.check_invariants` names the one that is broken):
the list from head is finite; tail is in it (never behind head) and at most
one node behind the last node; no node in it is on the free list.

Example:
    >>> q = MSQueue()
    >>> q.enqueue("a"); q.enqueue("b")
    >>> q.dequeue(), q.dequeue(), q.dequeue()
    (('a', True), ('b', True), (None, False))
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rtkit.errors import StateError, check_choice, check_int

__all__ = ["TAIL_SWINGS", "AtomicInt", "AtomicRef", "MSQueue", "Node", "Op", "Tagged"]

T = TypeVar("T")
TAIL_SWINGS = ("seed", "correct")
# What an operation generator yields after each access: a format string and its arguments
# (formatted only when a scheduler records the step, so real threads pay for a tuple only).
Step = tuple
Op = Generator[Step, None, Any]


class Node:
    """A list node: a value and an atomic ``next`` pointer. ``name`` labels it in traces."""

    __slots__ = ("name", "next", "value")

    def __init__(self, name: str, value: object, next_ptr: object) -> None:
        self.name = name
        self.value = value
        self.next: AtomicRef = AtomicRef(next_ptr)

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Tagged:
    """A tagged pointer: a node and a counter, compared together by CAS.

    Equality is ``node is other.node and tag == other.tag`` (nodes compare by
    identity), as the hardware compares the two halves of a double word.
    """

    node: Node | None
    tag: int

    def __repr__(self) -> str:
        return f"{self.node!r}#{self.tag}"


def _node(ptr: object) -> Node | None:
    """The node a pointer designates (for a tagged pointer, drop the counter)."""
    return ptr.node if type(ptr) is Tagged else ptr  # type: ignore[return-value]


def _same(a: object, b: object) -> bool:
    """Bitwise equality of two pointers: identity, or node and counter for tagged ones."""
    return a is b or (type(a) is Tagged and a == b)


class AtomicRef(Generic[T]):
    """One shared memory cell holding a reference, with atomic load, store and CAS.

    ``compare_and_swap(expected, new)`` writes ``new`` only if the cell still
    holds ``expected`` (the same object, or an equal :class:`Tagged`) and says
    whether it did, all as one indivisible step. Hardware does this in one
    instruction (``lock cmpxchg``); here it takes a lock, which is the whole
    cost story of lock-free code under CPython. A load is a plain attribute
    read, which is already atomic for a reference.

    Example:
        >>> cell = AtomicRef("old")
        >>> cell.compare_and_swap("stale guess", "new"), cell.load()
        (False, 'old')
        >>> seen = cell.load()
        >>> cell.compare_and_swap(seen, "new"), cell.load()
        (True, 'new')
    """

    __slots__ = ("_lock", "_value")

    def __init__(self, value: T | None = None) -> None:
        self._value = value
        self._lock = threading.Lock()

    def load(self) -> T | None:
        """Read the cell. Runtime complexity: O(1)."""
        return self._value

    def store(self, value: T | None) -> None:
        """Write the cell (atomically with respect to CAS). Runtime complexity: O(1)."""
        with self._lock:
            self._value = value

    def compare_and_swap(self, expected: T | None, new: T | None) -> bool:
        """Write ``new`` if the cell holds ``expected``; return whether it did."""
        with self._lock:
            if _same(self._value, expected):
                self._value = new
                return True
            return False


class AtomicInt:
    """An integer cell with atomic add, like Go's ``atomic.AddInt64``."""

    __slots__ = ("_lock", "_value")

    def __init__(self, value: int = 0) -> None:
        self._value = value
        self._lock = threading.Lock()

    def load(self) -> int:
        """Read the counter."""
        return self._value

    def add(self, delta: int) -> int:
        """Add ``delta`` atomically and return the new value."""
        with self._lock:
            self._value += delta
            return self._value


def _drive(op: Op) -> Any:
    """Run an operation generator to the end and return its result."""
    try:
        while True:
            next(op)
    except StopIteration as stop:
        return stop.value


class MSQueue:
    """The seed's lock-free FIFO (Michael & Scott 1996), as a teaching model.

    ``tail_swing``: ``"correct"`` (M&S, the default) or ``"seed"`` (S000-17).
    ``node_reuse``: recycle dequeued nodes through a free list instead of
    leaving them to the garbage collector (S000-20). ``tagged``: pair every
    pointer with a CAS counter, the classic ABA fix. ``max_spins``: how many
    times a dequeue may find tail behind head before it raises.

    Safe for real threads (each CAS is atomic) when ``node_reuse`` is off, or
    on together with ``tagged``. Runtime complexity: O(1) per operation
    without contention; a CAS that loses a race retries.

    Example:
        >>> q = MSQueue(tail_swing="seed")
        >>> q.enqueue(1)
        >>> q.approximate_size(), q.check_invariants()
        (1, [])
    """

    def __init__(
        self,
        tail_swing: str = "correct",
        *,
        node_reuse: bool = False,
        tagged: bool = False,
        max_spins: int = 1_000_000,
    ) -> None:
        self.tail_swing = check_choice("tail_swing", tail_swing, TAIL_SWINGS)
        self.node_reuse = bool(node_reuse)
        self.tagged = bool(tagged)
        self.max_spins = check_int("max_spins", max_spins, minimum=1)
        self._alloc_lock = threading.Lock()
        self._free_nodes: list[Node] = []
        self._nodes_built = 0
        dummy = self._alloc(None)
        self._head: AtomicRef = AtomicRef(self._ptr(dummy, None))
        self._tail: AtomicRef = AtomicRef(self._ptr(dummy, None))
        self._size = AtomicInt(0)

    def _ptr(self, node: Node | None, seen: object) -> object:
        """The pointer to store over ``seen``: the node, tagged with seen's counter + 1."""
        if not self.tagged:
            return node
        return Tagged(node, 0 if seen is None else seen.tag + 1)  # type: ignore[attr-defined]

    def _alloc(self, value: object) -> Node:
        """``&node{value: value}``, or a recycled node from the free list."""
        with self._alloc_lock:
            node = self._free_nodes.pop() if self._free_nodes else None
            if node is None:
                node = Node(f"n{self._nodes_built}", value, self._ptr(None, None))
                self._nodes_built += 1
                return node
        node.value = value
        node.next.store(self._ptr(None, node.next.load()))
        return node

    def _free(self, node: Node) -> None:
        with self._alloc_lock:
            self._free_nodes.append(node)

    def enqueue_steps(self, value: object) -> Op:
        """The seed's Enqueue (l.307-327) as a generator: one yield per shared access."""
        node = self._alloc(value)
        yield ("alloc {} for {!r}", node, value)
        while True:
            tail = self._tail.load()
            yield ("load tail -> {}", tail)
            next_ = _node(tail).next.load()  # type: ignore[union-attr]
            yield ("load {}.next -> {}", _node(tail), next_)
            tail_again = self._tail.load()
            yield ("re-load tail -> {}", tail_again)
            if not _same(tail, tail_again):
                continue
            if _node(next_) is None:
                new = self._ptr(node, next_)
                ok = _node(tail).next.compare_and_swap(next_, new)  # type: ignore[union-attr]
                yield ("CAS {}.next {} -> {}: {}", _node(tail), next_, new, _ok(ok))
                if ok:
                    break
            else:  # tail is lagging: help the other enqueuer swing it
                new = self._ptr(_node(next_), tail)
                ok = self._tail.compare_and_swap(tail, new)
                yield ("CAS tail {} -> {} (help): {}", tail, new, _ok(ok))
        if self.tail_swing == "seed":  # l.325: from the tail seen *now* (S000-17)
            current = self._tail.load()
            yield ("load tail -> {}", current)
            new = self._ptr(node, current)
            ok = self._tail.compare_and_swap(current, new)
            yield ("CAS tail {} -> {} (seed swing): {}", current, new, _ok(ok))
        else:  # M&S: from the tail seen in the successful iteration
            new = self._ptr(node, tail)
            ok = self._tail.compare_and_swap(tail, new)
            yield ("CAS tail {} -> {}: {}", tail, new, _ok(ok))
        size = self._size.add(1)  # after the node is visible (S000-19)
        yield ("size + 1 -> {}", size)

    def dequeue_steps(self) -> Op:
        """The seed's Dequeue (l.330-352) as a generator; returns ``(value, ok)``."""
        spins = 0
        while True:
            head = self._head.load()
            yield ("load head -> {}", head)
            tail = self._tail.load()
            yield ("load tail -> {}", tail)
            next_ = _node(head).next.load()  # type: ignore[union-attr]
            yield ("load {}.next -> {}", _node(head), next_)
            head_again = self._head.load()
            yield ("re-load head -> {}", head_again)
            if not _same(head, head_again):
                continue
            if _node(head) is _node(tail):
                if _node(next_) is None:
                    return None, False
                new = self._ptr(_node(next_), tail)
                ok = self._tail.compare_and_swap(tail, new)
                yield ("CAS tail {} -> {} (help): {}", tail, new, _ok(ok))
                continue
            if _node(next_) is None:  # unreachable in a correct M&S queue (S000-18)
                spins += 1
                if spins >= self.max_spins:
                    raise StateError(
                        f"dequeue still spinning after {spins} tries:"
                        f" tail {_node(tail)} is behind head {_node(head)}"
                    )
                continue
            value = _node(next_).value  # type: ignore[union-attr]
            yield ("read {}.value -> {!r}", _node(next_), value)
            new = self._ptr(_node(next_), head)
            ok = self._head.compare_and_swap(head, new)
            yield ("CAS head {} -> {}: {}", head, new, _ok(ok))
            if ok:
                size = self._size.add(-1)
                yield ("size - 1 -> {}", size)
                if self.node_reuse:
                    self._free(_node(head))  # type: ignore[arg-type]
                    yield ("free {}", _node(head))
                return value, True

    def enqueue(self, value: object) -> None:
        """Append ``value``. Runtime complexity: O(1) plus retries under contention."""
        _drive(self.enqueue_steps(value))

    def dequeue(self) -> tuple[object, bool]:
        """Return ``(value, True)``, or ``(None, False)`` if the queue is empty.

        Raises :class:`~rtkit.errors.StateError` after ``max_spins`` tries if
        tail is behind head (the livelock of S000-18).
        """
        return _drive(self.dequeue_steps())

    def approximate_size(self) -> int:
        """The seed's ``Size()``: a counter updated after the fact, so only approximate."""
        return self._size.load()

    def snapshot(self, limit: int = 12) -> tuple[str, str, tuple, int]:
        """``(head, tail, items, size)`` as a trace shows them: pointers by name,
        the first ``limit`` items after the dummy (then ``"..."`` if there are
        more, or if the list loops), and the size counter.

        Example:
            >>> q = MSQueue()
            >>> for x in "abc":
            ...     q.enqueue(x)
            >>> q.snapshot(limit=2)
            ('n0', 'n3', ('a', 'b', '...'), 3)
        """
        nodes, cycled = self._walk(limit + 2)
        items = tuple(n.value for n in nodes[1 : limit + 1])
        if cycled or len(nodes) > limit + 1:
            items += ("...",)
        return repr(self._head.load()), repr(self._tail.load()), items, self._size.load()

    def _walk(self, limit: int) -> tuple[list[Node], bool]:
        """The nodes from head (the dummy first), at most ``limit``; and whether it cycled."""
        nodes: list[Node] = []
        seen: set[int] = set()
        node = _node(self._head.load())
        while node is not None and len(nodes) < limit:
            if id(node) in seen:
                return nodes, True
            seen.add(id(node))
            nodes.append(node)
            node = _node(node.next.load())
        return nodes, False

    def check_invariants(self, quiescent: bool = False) -> list[str]:
        """Describe every broken Michael–Scott invariant; an empty list if none is.

        With ``quiescent`` (no operation in flight) also require tail to be the
        last node and the size counter to equal the number of items.
        """
        problems = []
        nodes, cycled = self._walk(limit=1_000_000)
        head, tail = _node(self._head.load()), _node(self._tail.load())
        if cycled:
            problems.append(f"the list from head {head} loops back on itself")
        if not any(n is tail for n in nodes):
            problems.append(f"tail {tail} is not in the list from head {head}: tail is behind head")
        elif not cycled:
            behind = len(nodes) - 1 - next(i for i, n in enumerate(nodes) if n is tail)
            if behind > 1 or (quiescent and behind):
                problems.append(f"tail {tail} is {behind} nodes behind the last node")
        with self._alloc_lock:
            freed = {id(n) for n in self._free_nodes}
        problems += [
            f"node {n} is in the list and on the free list" for n in nodes if id(n) in freed
        ]
        if quiescent and not cycled and self._size.load() != len(nodes) - 1:
            problems.append(f"size counter {self._size.load()} != {len(nodes) - 1} items")
        return problems

    def _check(self) -> None:
        """Assert the invariants of a queue at rest; tests call this after every operation."""
        problems = self.check_invariants(quiescent=True)
        assert not problems, "; ".join(problems)


def _ok(ok: bool) -> str:
    return "ok" if ok else "failed"
