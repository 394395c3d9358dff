"""Pipeline: one definition of stages, run on threads or simulated on virtual time.

A :class:`Pipeline` is built fluently, ``Pipeline().map(f).batch(64,
flush_ns=1_000_000).sink(g)``, and then either

* **run on worker threads** (measured, :class:`~rtkit.clock.WallClock`):
  :meth:`Pipeline.run` feeds a source and returns when every event has
  been delivered or accounted for; :meth:`~Pipeline.start`,
  :meth:`~Pipeline.push` and :meth:`~Pipeline.close` do the same by hand;
* **simulated** (:meth:`Pipeline.simulate`, :mod:`rtkit.streaming.simulate`):
  a discrete-event simulation on a :class:`~rtkit.clock.VirtualClock` that
  runs the very same stage functions, charging each stage its modelled
  service time (``cost_ns`` per event, ``overhead_ns`` per call):
  deterministic for a seed.

The path of an event is the one seed 000 lacked (S000-37, S000-38): ingest
(stamped with the time it was published, S000-42) into one bounded buffer
per worker with a named full-buffer policy, one consumer per buffer (order
kept per worker; with ``key=`` every key goes to one worker, so order is
kept per key, S000-40), the chained stages, the sink, and the event's
end-to-end latency into a :class:`~rtkit.latency.LatencyHistogram`. Idle
workers sleep on a condition with the next flush deadline as timeout
(S000-39); :meth:`~Pipeline.close` stops intake, drains, emits every open
batch and window, and joins the workers (S000-44). Nothing is printed per
event (S000-45): everything is counted (:meth:`~Pipeline.stats`).

**What push returns or raises, per policy** (also Stream.publish):
``block`` waits for room and returns True; ``drop_newest`` returns False
when it discarded the event; ``drop_oldest`` returns True (an older event
was discarded and counted); ``error`` raises
:class:`~rtkit.errors.QueueFull` (counted as dropped). A push racing with
:meth:`~Pipeline.close` raises :class:`~rtkit.errors.Closed`; one after it,
:class:`~rtkit.errors.StateError` (not running).

Invariants (``_check``): the ingest stage's ``received == emitted + dropped
+ depth`` always; after close or a simulation, for every shape of pipeline,
counted in events: ``published == delivered + dropped + late + filtered +
error_events + in_flight`` (a failed batch of 64 loses 64 events), and each
batch and window keeps its own invariants.
Runtime complexity per event: O(1) in the ingest buffer plus one fused call
per run of stateless stages.

Example:
    >>> out = []
    >>> p = Pipeline().map(lambda x: x * 10).filter(lambda x: x != 20).sink(out.append)
    >>> result = p.run(range(5))
    >>> out, result.delivered, result.stats().stage("filter").filtered
    ([0, 10, 30, 40], 4, 1)
    >>> result.latency.count
    4
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sized
from typing import Any

import numpy as np

from rtkit.clock import Clock, resolve_clock
from rtkit.errors import ConfigError, StateError, check_choice, check_int
from rtkit.latency import LatencyHistogram, merged
from rtkit.streaming.aggregates import Aggregate
from rtkit.streaming.chain import Chain, warm_up
from rtkit.streaming.ingest import POLICIES, partition
from rtkit.streaming.operators import Operator
from rtkit.streaming.stats import PipelineResult, PipelineStats, build_stats
from rtkit.streaming.threads import Worker, feed, feed_paced
from rtkit.streaming.windows import Window, time_getter, window_params

__all__ = ["Pipeline", "PipelineResult", "partition"]


def _aggregate_fn(agg: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Apply ``agg`` to a window's events (keeping the window) or to a batch."""

    def aggregate(x: Any) -> Any:
        if type(x) is Window:
            return Window(x.start, x.end, agg(x.value), x.count, x.update)
        return agg(x)

    return aggregate


class Pipeline:
    """A chain of stages fed by bounded per-worker buffers (module docstring).

    Args:
        capacity: room in each worker's ingest buffer (>= 1).
        policy: what a full buffer does: ``"block"``, ``"drop_newest"``,
            ``"drop_oldest"`` or ``"error"``.
        name: used in thread names and reports.
        clock: where the threads' stamps and waits come from (default a
            WallClock; threads need real time). :meth:`simulate` always
            runs on its own VirtualClock.

    Example:
        >>> from rtkit.streaming import vwap
        >>> from rtkit.streaming.marketdata import Tick
        >>> trades = [Tick(0, 100, 1), Tick(400, 102, 1), Tick(1_000, 101, 2), Tick(2_500, 99, 1)]
        >>> p = Pipeline().window(1_000).aggregate(vwap())
        >>> [(w.start, w.value) for w in p.run(trades).outputs]
        [(0, 101.0), (1000, 101.0), (2000, 99.0)]
    """

    def __init__(
        self,
        *,
        capacity: int = 4096,
        policy: str = "block",
        name: str = "pipeline",
        clock: Clock | None = None,
    ) -> None:
        self.capacity = check_int("capacity", capacity, minimum=1)
        self.policy = check_choice("policy", policy, POLICIES)
        self.name = str(name)
        self.clock = resolve_clock(clock)
        self.ops: list[Operator] = []
        self._workers: list[Worker] = []
        self._outputs: list[list[Any]] = []
        self._route: Callable[[Any], int] | None = None
        self._rr = 0
        self._started_ns = 0
        self._last: PipelineResult | None = None
        self._last_chains: list[Chain] = []  # each worker's chain in the last run
        self._last_taken: list[int] = []  # and how many events it took

    # -- definition ------------------------------------------------------------

    def _add(self, kind: str, name: str | None, fn: Any = None, **params: Any) -> Pipeline:
        if self._workers:
            raise StateError("cannot add a stage to a running pipeline")
        if self.ops and self.ops[-1].kind == "sink":
            raise ConfigError("a sink ends the pipeline: nothing can follow it")
        cost = {k: params.pop(k) for k in ("cost_ns", "overhead_ns")}
        names = {op.name for op in self.ops}
        base = name or kind
        unique = base
        n = 2
        while unique in names or unique == "ingest":
            unique = f"{base}{n}"
            n += 1
        self.ops.append(Operator(kind, unique, fn=fn, params=params, **cost))
        return self

    def map(
        self, fn: Callable[[Any], Any], *, name: str | None = None, cost_ns: int = 0,
        overhead_ns: int = 0,
    ) -> Pipeline:  # fmt: skip
        """Replace each item by ``fn(item)``.

        Example:
            >>> Pipeline().map(str).run([1, 2]).outputs
            ['1', '2']
        """
        return self._add("map", name, fn, cost_ns=cost_ns, overhead_ns=overhead_ns)

    def filter(
        self, predicate: Callable[[Any], Any], *, name: str | None = None, cost_ns: int = 0,
        overhead_ns: int = 0,
    ) -> Pipeline:  # fmt: skip
        """Keep the items for which ``predicate(item)`` is true (the others are counted).

        Example:
            >>> Pipeline().filter(lambda x: x % 2).run(range(5)).outputs
            [1, 3]
        """
        return self._add("filter", name, predicate, cost_ns=cost_ns, overhead_ns=overhead_ns)

    def batch(
        self, size: int, flush_ns: int | None = None, *, name: str | None = None,
        cost_ns: int = 0, overhead_ns: int = 0,
    ) -> Pipeline:  # fmt: skip
        """Group events into lists of ``size``, or fewer once the oldest is ``flush_ns`` old.

        Micro-batching: a later stage called on a batch pays its
        ``overhead_ns`` once per batch instead of once per event, and every
        event waits for its batch to close. Raises
        :class:`~rtkit.errors.ConfigError` for ``size < 1`` or ``flush_ns < 0``.

        Example:
            >>> Pipeline().batch(2).run(range(5)).outputs
            [[0, 1], [2, 3], [4]]
        """
        size = check_int("size", size, minimum=1)
        if flush_ns is not None:
            flush_ns = check_int("flush_ns", flush_ns, minimum=0)
        return self._add(
            "batch", name, size=size, flush_ns=flush_ns, cost_ns=cost_ns, overhead_ns=overhead_ns
        )

    def window(
        self,
        size: int,
        slide: int | None = None,
        *,
        by: str = "time",
        time: str = "event",
        time_of: str | int | Callable[[Any], int] = "t_ns",
        max_out_of_order_ns: int = 0,
        allowed_lateness_ns: int = 0,
        on_late: Callable[[Any], Any] | None = None,
        name: str | None = None,
        cost_ns: int = 0,
        overhead_ns: int = 0,
    ) -> Pipeline:
        """Group events into tumbling (``slide=None``) or sliding windows; emit :class:`Window`.

        ``by="time"``: ``size`` and ``slide`` in ns; ``time="event"`` reads
        each event's time with ``time_of`` (a field name, an index or a
        callable) and fires windows by watermark (``max_out_of_order_ns``
        behind the latest event time), keeping them ``allowed_lateness_ns``
        for late events; later ones are counted as late and passed to
        ``on_late``. ``time="processing"`` uses the worker's clock.
        ``by="count"``: ``size`` and ``slide`` in events. See
        :mod:`rtkit.streaming.windows`.

        Example:
            >>> p = Pipeline().window(3, by="count")
            >>> [w.value for w in p.run(range(7)).outputs]
            [[0, 1, 2], [3, 4, 5], [6]]
        """
        params = window_params(size, slide, by, time, max_out_of_order_ns, allowed_lateness_ns)
        if on_late is not None and not callable(on_late):
            raise ConfigError(f"on_late must be callable, got {type(on_late).__name__}")
        time_getter(time_of)  # raises ConfigError for a time_of it cannot use
        return self._add(
            "window", name, time_of=time_of, on_late=on_late, cost_ns=cost_ns,
            overhead_ns=overhead_ns, **params,
        )  # fmt: skip

    def aggregate(
        self, agg: Aggregate | Callable[[Any], Any], *, name: str | None = None,
        cost_ns: int = 0, overhead_ns: int = 0,
    ) -> Pipeline:  # fmt: skip
        """Apply ``agg`` to each window's events (the window keeps its bounds) or each batch.

        Example:
            >>> from rtkit.streaming import total
            >>> Pipeline().batch(2).aggregate(total()).run([1, 2, 3]).outputs
            [3, 3]
        """
        if not callable(agg):
            raise ConfigError(f"aggregate needs a callable, got {type(agg).__name__}")
        label = name or getattr(agg, "name", None) or "aggregate"
        op = self._add("aggregate", label, _aggregate_fn(agg), cost_ns=cost_ns,
                       overhead_ns=overhead_ns)  # fmt: skip
        return op

    def sink(
        self, fn: Callable[[Any], Any], *, name: str | None = None, cost_ns: int = 0,
        overhead_ns: int = 0,
    ) -> Pipeline:  # fmt: skip
        """End the pipeline: call ``fn(item)`` for each item (its return value is ignored).

        An event's end-to-end latency is taken when ``fn`` returns. Without a
        sink, what reaches the end is collected in ``result.outputs``.

        Example:
            >>> seen = []
            >>> Pipeline().sink(seen.append).run("ab").delivered, seen
            (2, ['a', 'b'])
        """
        return self._add("sink", name, fn, cost_ns=cost_ns, overhead_ns=overhead_ns)

    def _plan(self) -> tuple[list[Operator], list[Any]]:
        """The operators for one worker's run, with a collecting sink if there is none."""
        if self.ops and self.ops[-1].kind == "sink":
            return list(self.ops), []
        outputs: list[Any] = []
        return [*self.ops, Operator("sink", "outputs", fn=outputs.append)], outputs

    def _router(self, workers: int, key: Callable[[Any], Any] | None) -> Callable[[Any], int]:
        workers = check_int("workers", workers, minimum=1)
        if key is not None and not callable(key):
            raise ConfigError(f"key must be callable, got {type(key).__name__}")
        if workers > 1 and key is None and any(op.kind == "window" for op in self.ops):
            raise ConfigError("windows on several workers need key= (each key to one worker)")
        if key is not None:
            return lambda item: partition(key(item), workers)
        counter = itertools.count()
        return lambda item: next(counter) % workers

    # -- threads ---------------------------------------------------------------

    def start(self, *, workers: int = 1, key: Callable[[Any], Any] | None = None) -> Pipeline:
        """Start ``workers`` threads; then :meth:`push` events and :meth:`close`.

        With ``key``, every event of one key goes to one worker (order and
        windows per key); without, events go round-robin. Raises
        :class:`~rtkit.errors.StateError` if already running.

        Example:
            >>> p = Pipeline().map(abs).start(workers=2)
            >>> p.push(-3), p.push(4)
            (True, True)
            >>> sorted(p.close().outputs)
            [3, 4]
        """
        if self._workers:
            raise StateError("pipeline is already running: close() it first")
        route = self._router(workers, key)
        warm_up()
        plans = [self._plan() for _ in range(workers)]
        self._outputs = [out for _, out in plans]
        self._route = route if workers > 1 else None
        self._workers = [Worker(self, i, ops) for i, (ops, _) in enumerate(plans)]
        self._started_ns = self.clock.now_ns()
        for w in self._workers:
            w.thread.start()
        return self

    def push(self, item: Any, timeout_s: float | None = None) -> bool:
        """Offer one event, stamped now; see the module docstring for what each policy does.

        ``timeout_s`` bounds the wait under ``block`` (then QueueFull). Call
        it from one producer thread at a time (each buffer has one producer);
        :meth:`close` may be called from another.
        """
        if not self._workers:
            raise StateError("pipeline is not running: call start() first")
        w = self._workers[self._route(item)] if self._route else self._workers[0]
        return w.mailbox.put(self.clock.now_ns(), item, timeout_s)

    def close(self, timeout_s: float | None = None) -> PipelineResult:
        """Stop intake, drain every buffer, emit open batches and windows, join the workers.

        Under ``block`` every event accepted before close reaches the sink;
        under the other policies each is delivered or counted as dropped.
        Raises :class:`~rtkit.errors.StateError` if a worker does not finish
        within ``timeout_s`` seconds (its thread is left to finish).
        """
        if not self._workers:
            raise StateError("pipeline is not running")
        for w in self._workers:
            w.mailbox.close()
        for w in self._workers:
            w.thread.join(timeout_s)
            if w.thread.is_alive():
                raise StateError(f"worker {w.thread.name} did not finish within {timeout_s} s")
        elapsed = self.clock.now_ns() - self._started_ns
        failures = [w.failure for w in self._workers if w.failure is not None]
        snapshot = self.stats()
        outputs = [x for out in self._outputs for x in out]
        latency = merged(w.histogram for w in self._workers)
        self._last_chains = [w.chain for w in self._workers]
        self._last_taken = [w.mailbox.taken for w in self._workers]
        self._workers = []
        if failures:  # pragma: no cover - a bug in rtkit, not in a stage
            raise StateError(f"a worker failed: {failures[0]!r}") from failures[0]
        self._last = PipelineResult("threads", latency, elapsed, snapshot, outputs)
        return self._last

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._workers:
            self.close()

    def run(
        self,
        source: Iterable[Any],
        *,
        workers: int = 1,
        key: Callable[[Any], Any] | None = None,
        arrivals_ns: np.ndarray | None = None,
        timeout_s: float | None = None,
    ) -> PipelineResult:
        """Feed ``source`` to worker threads, close, and return the result (measured).

        Without ``arrivals_ns`` events go in as fast as the pipeline takes
        them (throughput). With it, event ``k`` is offered at ``arrivals_ns[k]``
        (relative to the first) and stamped with that *intended* time, so
        latency includes any delay in offering it (open loop: no coordinated
        omission); the producer sleeps only when ahead of schedule. A source
        with a length longer than ``arrivals_ns`` is refused before anything
        runs (a generator is checked as it goes).

        Example:
            >>> Pipeline().map(lambda x: x + 1).run([1, 2, 3]).delivered
            3
        """
        if arrivals_ns is not None:
            arrivals = np.asarray(arrivals_ns, dtype=np.int64)
            if arrivals.ndim != 1 or (arrivals.size > 1 and (np.diff(arrivals) < 0).any()):
                raise ConfigError("arrivals_ns must be a non-decreasing 1-d array of ns")
            size = len(source) if isinstance(source, Sized) else None
            if size is not None and size > arrivals.size:
                raise ConfigError(
                    f"source has {size} items but arrivals_ns has {arrivals.size}: "
                    "give one arrival time per item"
                )
        self.start(workers=workers, key=key)
        try:
            boxes = [w.mailbox for w in self._workers]
            if arrivals_ns is None:
                feed(source, boxes, self._route, self.clock.now_ns)
            else:
                feed_paced(source, arrivals, boxes, self._route, self.clock.now_ns)
        finally:
            result = self.close(timeout_s)
        return result

    # -- simulation ------------------------------------------------------------

    def simulate(
        self,
        arrivals_ns: np.ndarray,
        items: Iterable[Any] | None = None,
        *,
        workers: int = 1,
        key: Callable[[Any], Any] | None = None,
        service: str = "fixed",
        seed: int = 0,
    ) -> PipelineResult:
        """Run the same stages as a discrete-event simulation (see :mod:`rtkit.streaming.simulate`).

        Example:
            >>> import numpy as np
            >>> p = Pipeline().map(abs, cost_ns=300).sink(lambda x: None, cost_ns=200)
            >>> r = p.simulate(np.arange(0, 10_000, 1_000))   # one event every 1 µs
            >>> r.latency.max, r.delivered, r.throughput
            (500, 10, 1052631.5789473683)
        """
        from rtkit.streaming.simulate import simulate

        self._last = simulate(
            self, arrivals_ns, items, workers=workers, key=key, service=service, seed=seed
        )
        return self._last

    # -- observation -------------------------------------------------------------

    def stats(self) -> PipelineStats:
        """Per-stage counters of the running pipeline, or of the last run.

        Exact once :meth:`close` has returned; approximate while running
        (workers publish their counters every few thousand events and when idle).
        """
        if not self._workers:
            return self._last.stats() if self._last else PipelineStats()
        boxes = [w.mailbox for w in self._workers]
        chains = [w.chain for w in self._workers]
        return build_stats(
            [(b.offered, b.taken, b.dropped, len(b.items), b.high_water) for b in boxes], chains
        )

    @property
    def latency(self) -> LatencyHistogram:
        """End-to-end latency of the last run (a new empty histogram before any)."""
        return self._last.latency if self._last else LatencyHistogram()

    def _check(self) -> None:
        """Assert the conservation laws (exact only when not running)."""
        for w in self._workers:
            w.mailbox._check(exact=False)
        if self._workers:
            return
        s = self.stats()
        ingest = s.stage("ingest") if s.stages else None
        if ingest is not None:
            assert ingest.received == ingest.emitted + ingest.dropped + ingest.depth
        ended = s.delivered + s.dropped + s.late + s.filtered + s.error_events + s.in_flight
        assert s.published == ended, f"an event is unaccounted for: {s}"
        for chain, taken in zip(self._last_chains, self._last_taken, strict=True):
            chain._check(taken)

    def __repr__(self) -> str:
        chain = " > ".join(op.name for op in self.ops) or "(empty)"
        return f"Pipeline({chain}, capacity={self.capacity}, policy={self.policy!r})"
