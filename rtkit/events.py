"""EventProcessor: seed 000 section 1's real-time event processor, done right.

Events of a few kinds (trade, order, market data) are offered open loop at
intended times to a bounded queue; N workers take them in batches, closed by
size or by a flush interval armed at the batch's first event; each event
costs its kind's service time. Every event's latency, from its intended
arrival to its own completion, goes into a
:class:`~rtkit.latency.LatencyHistogram`.

What the seed got wrong, and what this does instead (ids from SEED_NOTES):

* S000-5: ``MaxLatency`` was never read and a free-running ticker flushed.
  Here a batch closes on size OR age, the timer armed at its first event.
* S000-6/S000-10: workers polled with ``Sleep(1µs)`` and "worked" by
  sleeping. Here workers block on a condition and, measured, really compute.
* S000-7: latency was one sample per batch, timed from the batch's start.
  Here it is per event, from the intended arrival; ``batch_latency`` keeps
  the seed's number too, so a lesson can show how much it hides.
* S000-8: an EWMA called a moving average. Here a histogram.
* S000-12: size check, then enqueue. Here the bound is enforced inside
  the queue and every drop is counted.
* S000-13: events lost at shutdown. Here stop closes intake, drains, joins;
  ``processed + dropped + pending == offered`` always (``_check``).
* S000-15: no validation. Here :class:`ProcessorConfig` rejects bad values.

Two modes, same parameters (DESIGN convention 2): :func:`simulate` runs the
model on virtual time (deterministic, about a million events per second of
wall time and far more with the compiled engine), and
:class:`EventProcessor` runs real threads on the wall clock.

Lesson 01 (``notebooks/01_realtime_fundamentals.ipynb``) is built on it.

Example:
    >>> from rtkit import loadgen
    >>> work = make_workload(loadgen.constant_rate(100_000, 1_000), seed=1)
    >>> result = simulate(ProcessorConfig(workers=2, batch_size=10), work)
    >>> result.stats.processed, result.stats.dropped
    (1000, 0)
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from rtkit import eventsim
from rtkit.clock import NS_PER_S, Clock, VirtualClock, WallClock
from rtkit.errors import (
    Closed,
    ConfigError,
    QueueEmpty,
    QueueFull,
    StateError,
    check_choice,
    check_int,
)
from rtkit.latency import LatencyHistogram, merged
from rtkit.queues import BoundedQueue

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_SERVICE_NS",
    "EventProcessor",
    "ProcessorConfig",
    "ProcessorStats",
    "RunResult",
    "Workload",
    "make_workload",
    "simulate",
]

#: Service time per event kind, in ns: the seed's "Sleep" values (l.212-227),
#: as modelled cost rather than sleeps.
DEFAULT_SERVICE_NS: Mapping[str, int] = MappingProxyType(
    {"trade": 1_000, "order": 2_000, "market_data": 5_000, "generic": 3_000}
)
#: The seed's producer cycles trade, order, market_data (l.380).
DEFAULT_MIX: Mapping[str, float] = MappingProxyType({"trade": 1, "order": 1, "market_data": 1})

FULL_POLICIES = ("drop", "block")


@dataclass(frozen=True)
class ProcessorConfig:
    """The parameters both modes share; validated on construction.

    Example:
        >>> ProcessorConfig(workers=0)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: workers must be >= 1, got 0
        >>> ProcessorConfig().replace(batch_size=10).batch_size
        10
    """

    workers: int = 4
    batch_size: int = 100
    flush_interval_ns: int = 1_000_000
    queue_capacity: int = 10_000
    full_policy: str = "drop"
    service_ns: Mapping[str, int] = field(default_factory=lambda: DEFAULT_SERVICE_NS)
    batch_overhead_ns: int = 0
    deadline_ns: int | None = None

    def __post_init__(self) -> None:
        check_int("workers", self.workers, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("flush_interval_ns", self.flush_interval_ns, minimum=1)
        check_int("queue_capacity", self.queue_capacity, minimum=1)
        check_choice("full_policy", self.full_policy, FULL_POLICIES)
        check_int("batch_overhead_ns", self.batch_overhead_ns, minimum=0)
        if self.deadline_ns is not None:
            check_int("deadline_ns", self.deadline_ns, minimum=1)
        if not isinstance(self.service_ns, Mapping) or not self.service_ns:
            raise ConfigError("service_ns must be a non-empty mapping of kind -> ns")
        for kind, cost in self.service_ns.items():
            check_int(f"service_ns[{kind!r}]", cost, minimum=0)
        # Frozen all the way down: a shared config must not change under a run.
        object.__setattr__(self, "service_ns", MappingProxyType(dict(self.service_ns)))

    def replace(self, **changes: object) -> ProcessorConfig:
        """A copy with ``changes`` applied (and validated)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown ProcessorConfig fields: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Workload:
    """Events to offer: intended times (ns, sorted, from 0) and their kinds."""

    intended_ns: np.ndarray
    kinds: np.ndarray  # int codes into kind_names
    kind_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.intended_ns.size)

    @property
    def rate_per_s(self) -> float:
        """Average offered rate over the schedule."""
        if len(self) < 2:
            return 0.0
        span = int(self.intended_ns[-1] - self.intended_ns[0])
        return (len(self) - 1) * NS_PER_S / span if span else float("inf")

    def service_ns(self, config: ProcessorConfig) -> np.ndarray:
        """Each event's service time under ``config``."""
        missing = [k for k in self.kind_names if k not in config.service_ns]
        if missing:
            raise ConfigError(f"service_ns has no cost for event kinds: {', '.join(missing)}")
        costs = np.array([config.service_ns[k] for k in self.kind_names], np.int64)
        return costs[self.kinds]


def make_workload(
    intended_ns: np.ndarray, mix: Mapping[str, float] | None = None, seed: int = 0
) -> Workload:
    """Attach event kinds, drawn with weights ``mix``, to a schedule of intended times.

    Example:
        >>> w = make_workload(np.array([0, 10, 20]), mix={"trade": 1}, seed=0)
        >>> w.kind_names, w.kinds.tolist()
        (('trade',), [0, 0, 0])
    """
    times = np.asarray(intended_ns)
    if times.ndim != 1 or times.dtype.kind not in "iu":
        raise ConfigError("intended_ns must be a 1-D integer array of nanoseconds")
    times = times.astype(np.int64)
    if times.size and (times[0] < 0 or (np.diff(times) < 0).any()):
        raise ConfigError("intended_ns must be non-negative and sorted")
    mix = dict(DEFAULT_MIX if mix is None else mix)
    weights = np.array(list(mix.values()), dtype=float)
    if not mix or (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise ConfigError("mix must map event kinds to non-negative weights, not all zero")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    kinds = rng.choice(len(mix), size=times.size, p=weights / weights.sum()).astype(np.int64)
    return Workload(times, kinds, tuple(mix))


@dataclass(frozen=True)
class ProcessorStats:
    """Counters of one processor run (a snapshot)."""

    offered: int
    processed: int
    dropped: int
    pending: int  # queued or in an open batch
    batches: int
    queue_capacity: int
    queue_depth: int
    high_water: int
    workers: int
    deadline_misses: int | None
    elapsed_ns: int

    @property
    def mean_batch(self) -> float:
        """Events per batch, on average."""
        return self.processed / self.batches if self.batches else 0.0

    @property
    def throughput_per_s(self) -> float:
        """Processed events per second over the run."""
        return self.processed * NS_PER_S / self.elapsed_ns if self.elapsed_ns else 0.0


@dataclass(frozen=True)
class RunResult:
    """What one run produced, in either mode."""

    mode: str  # "simulated" or "measured"
    config: ProcessorConfig
    stats: ProcessorStats
    latency: LatencyHistogram  # per event, intended arrival -> completion
    batch_latency: LatencyHistogram  # per batch, batch start -> batch end: the seed's number
    completion_ns: np.ndarray  # per event, on the workload's time axis; -1 if dropped

    def summary(self) -> dict[str, float]:
        """Counters and latency percentiles in one flat dict (for tables and sweeps)."""
        s = self.stats
        row: dict[str, float] = {
            "offered": s.offered,
            "processed": s.processed,
            "dropped": s.dropped,
            "batches": s.batches,
            "mean_batch": round(s.mean_batch, 2),
            "throughput_per_s": round(s.throughput_per_s),
        }
        if s.deadline_misses is not None:
            row["deadline_misses"] = s.deadline_misses
        for key, value in self.latency.summary((50, 99, 99.9)).items():
            if key not in ("count", "overflow", "stdev"):
                row[f"latency_{key}"] = round(value) if key == "mean" else value
        return row


def _resolve(config: ProcessorConfig | None, overrides: Mapping[str, object]) -> ProcessorConfig:
    config = ProcessorConfig() if config is None else config
    if not isinstance(config, ProcessorConfig):
        raise ConfigError(f"config must be a ProcessorConfig, got {type(config).__name__}")
    return config.replace(**overrides) if overrides else config


def simulate(
    config: ProcessorConfig | None = None,
    workload: Workload | None = None,
    *,
    engine: str = "fast",
    **overrides: object,
) -> RunResult:
    """Run the event processor on virtual time; deterministic for a workload.

    ``engine="fast"`` (compiled) or ``"reference"`` (readable Python; same
    results). Keyword ``overrides`` replace fields of ``config``.

    Example:
        >>> from rtkit import loadgen
        >>> work = make_workload(loadgen.constant_rate(10_000, 100), mix={"trade": 1})
        >>> r = simulate(workload=work, workers=1, batch_size=1)
        >>> r.latency.max     # each event alone: 1 µs of service, no queueing
        1000
    """
    config = _resolve(config, overrides)
    if not isinstance(workload, Workload):
        raise ConfigError("workload must be a Workload (see make_workload)")
    check_choice("engine", engine, ("fast", "reference"))
    run = eventsim.simulate_fast if engine == "fast" else eventsim.simulate_reference
    out = run(
        workload.intended_ns,
        workload.service_ns(config),
        config.workers,
        config.batch_size,
        config.flush_interval_ns,
        config.queue_capacity,
        config.full_policy == "block",
        config.batch_overhead_ns,
    )
    done = out.completion_ns >= 0
    latencies = out.completion_ns[done] - workload.intended_ns[done]
    latency = LatencyHistogram()
    latency.record_many(latencies)
    batch_latency = LatencyHistogram()
    batch_latency.record_many(out.batch_end_ns - out.batch_start_ns)
    start = int(workload.intended_ns[0]) if len(workload) else 0
    misses = None
    if config.deadline_ns is not None:
        misses = int((latencies > config.deadline_ns).sum())
    stats = ProcessorStats(
        offered=len(workload),
        processed=int(done.sum()),
        dropped=out.dropped,
        pending=0,  # the simulation drains before it ends
        batches=int(out.batch_size.size),
        queue_capacity=config.queue_capacity,
        queue_depth=0,
        high_water=out.high_water,
        workers=config.workers,
        deadline_misses=misses,
        elapsed_ns=max(out.end_ns - start, 0),
    )
    return RunResult("simulated", config, stats, latency, batch_latency, out.completion_ns)


_Item = tuple[int, int, int]  # (event index or -1, kind code, intended time in ns)


def _burn_cpu(cpu_ns: int) -> None:
    """Do ``cpu_ns`` of real work: spin until this thread has used that much CPU.

    Thread CPU time, not the wall clock: a worker that loses the GIL (or the
    core) half-way does not get credit for time another thread used, so the
    service time is a fixed amount of work, as in the simulation.
    """
    if cpu_ns <= 0:
        return
    end = time.thread_time_ns() + cpu_ns
    while time.thread_time_ns() < end:
        pass


class EventProcessor:
    """The event processor on real threads and the wall clock (measured mode).

    Workers block on a :class:`~rtkit.queues.BoundedQueue`; service time is
    spent in a busy loop until the worker thread has used that much CPU, so it
    is real work, and since CPython runs one thread's bytecode at a time (the
    GIL), more workers do not mean more throughput: lesson 01 measures that.

    Lifecycle: :meth:`start`, :meth:`offer` (or :meth:`run` for a whole
    workload), :meth:`stop` (closes intake, drains, joins; idempotent).

    Example:
        >>> p = EventProcessor(workers=1, batch_size=4, flush_interval_ns=100_000)
        >>> p.start()
        >>> [p.offer("trade") for _ in range(3)]
        [True, True, True]
        >>> s = p.stop()
        >>> s.processed, s.dropped, s.pending
        (3, 0, 0)
    """

    def __init__(
        self,
        config: ProcessorConfig | None = None,
        *,
        clock: Clock | None = None,
        **overrides: object,
    ) -> None:
        self.config = _resolve(config, overrides)
        if isinstance(clock, VirtualClock):
            raise ConfigError("EventProcessor runs real threads; use simulate() for virtual time")
        # No final spin: a spinning producer would hold the GIL the workers need.
        self.clock: Clock = WallClock(spin_ns=0) if clock is None else clock
        self._kind_codes = {kind: i for i, kind in enumerate(self.config.service_ns)}
        self._cost = [int(c) for c in self.config.service_ns.values()]
        policy = "block" if self.config.full_policy == "block" else "drop_newest"
        self._queue: BoundedQueue[_Item] = BoundedQueue(self.config.queue_capacity, policy)
        n = self.config.workers
        self._latency = [LatencyHistogram() for _ in range(n)]
        self._batch_latency = [LatencyHistogram() for _ in range(n)]
        self._processed = [0] * n
        self._batches = [0] * n
        self._in_batch = [0] * n
        self._misses = [0] * n
        self._threads: list[threading.Thread] = []
        self._state = "new"
        self._lifecycle = threading.Lock()
        self._offered = 0
        self._t0 = 0
        self._last_done = 0
        self._completion: np.ndarray | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads. A processor starts once."""
        with self._lifecycle:
            if self._state != "new":
                raise StateError(f"cannot start a processor that is {self._state}")
            self._state = "running"
            # Load the compiled recording loop now, not inside the first batch.
            LatencyHistogram().record_many(np.zeros(1, np.int64))
            self._t0 = self.clock.now_ns()
            for w in range(self.config.workers):
                t = threading.Thread(target=self._work, args=(w,), name=f"rtkit-worker-{w}")
                t.daemon = True
                t.start()
                self._threads.append(t)

    def stop(self) -> ProcessorStats:
        """Close intake, let workers drain the queue and their batches, join them.

        Idempotent (seed S000-13 panicked on a second stop). Returns the final
        stats, for which ``processed + dropped == offered``.
        """
        with self._lifecycle:
            if self._state == "running":
                self._queue.close()
                for t in self._threads:
                    t.join()
            self._state = "stopped"
        return self.stats()

    def __enter__(self) -> EventProcessor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- intake --------------------------------------------------------------

    def offer(self, kind: str, intended_ns: int | None = None) -> bool:
        """Offer one event; True if accepted, False if dropped (and counted).

        ``intended_ns`` is when it should have arrived, on this processor's
        clock (default: now). Latency is measured from it. Under
        ``full_policy="block"`` this waits for room.
        """
        if kind not in self._kind_codes:
            known = ", ".join(self._kind_codes)
            raise ConfigError(f"unknown event kind {kind!r}; known kinds: {known}")
        intended = self.clock.now_ns() if intended_ns is None else int(intended_ns)
        return self._offer((-1, self._kind_codes[kind], intended))

    def _offer(self, item: _Item) -> bool:
        if self._state != "running":
            raise Closed(f"processor is {self._state}; start() it before offering events")
        self._offered += 1
        try:
            return self._queue.put(item)
        except Closed:
            self._offered -= 1
            raise
        except QueueFull:  # pragma: no cover - "block" waits without timeout
            return False

    def run(self, workload: Workload, *, switch_interval_s: float | None = None) -> RunResult:
        """Offer a whole workload at its intended times, then stop; return the result.

        Times in ``workload`` are offsets from the start. A producer that
        falls behind offers late, but latency is still taken from the
        intended time, so its lateness is measured, not hidden.
        ``switch_interval_s`` temporarily sets :func:`sys.setswitchinterval`
        (how often CPython hands the GIL to another thread; default 5 ms).
        """
        missing = [k for k in workload.kind_names if k not in self._kind_codes]
        if missing:
            raise ConfigError(f"service_ns has no cost for event kinds: {', '.join(missing)}")
        codes = np.array([self._kind_codes[k] for k in workload.kind_names])[workload.kinds]
        self._completion = np.full(len(workload), -1, np.int64)
        previous = sys.getswitchinterval()
        if switch_interval_s is not None:
            sys.setswitchinterval(switch_interval_s)
        try:
            self.start()
            t0 = self._t0 + 1_000_000  # let the workers reach their first get()
            clock = self.clock
            offsets = workload.intended_ns.tolist()
            for k, (offset, code) in enumerate(zip(offsets, codes.tolist(), strict=True)):
                target = t0 + offset
                if clock.now_ns() < target:
                    clock.sleep_until(target)
                self._offer((k, code, target))
            stats = self.stop()
        finally:
            sys.setswitchinterval(previous)
        completion = np.where(self._completion >= 0, self._completion - t0, -1)
        stats = dataclasses.replace(stats, elapsed_ns=max(self._last_done - t0, 0))
        return RunResult(
            "measured", self.config, stats, self.latency, self.batch_latency, completion
        )

    # -- workers -------------------------------------------------------------

    def _work(self, w: int) -> None:
        queue, clock = self._queue, self.clock
        batch_size, flush_ns = self.config.batch_size, self.config.flush_interval_ns
        batch: list[_Item] = []
        flush_at = 0
        while True:
            timeout = None if not batch else max(flush_at - clock.now_ns(), 0) / NS_PER_S
            try:
                item = queue.get(timeout)
            except QueueEmpty:  # the batch's flush interval expired
                self._process(w, batch)
                batch = []
                continue
            except Closed:  # intake closed and queue drained: flush and leave
                self._process(w, batch)
                return
            batch.append(item)
            self._in_batch[w] = len(batch)
            if len(batch) == 1:
                flush_at = clock.now_ns() + flush_ns
            if len(batch) >= batch_size:
                self._process(w, batch)
                batch = []

    def _process(self, w: int, batch: list[_Item]) -> None:
        if not batch:
            return
        now = self.clock.now_ns
        started = now()
        _burn_cpu(self.config.batch_overhead_ns)
        done = np.empty(len(batch), np.int64)
        intended = np.empty(len(batch), np.int64)
        for j, (k, code, t_intended) in enumerate(batch):
            _burn_cpu(self._cost[code])
            done[j] = now()
            intended[j] = t_intended
            if k >= 0 and self._completion is not None:
                self._completion[k] = done[j]
        latencies = np.maximum(done - intended, 0)
        self._latency[w].record_many(latencies)
        self._batch_latency[w].record(int(done[-1] - started))
        if self.config.deadline_ns is not None:
            self._misses[w] += int((latencies > self.config.deadline_ns).sum())
        self._last_done = max(self._last_done, int(done[-1]))
        self._batches[w] += 1
        self._processed[w] += len(batch)
        self._in_batch[w] = 0

    # -- observation ---------------------------------------------------------

    @property
    def latency(self) -> LatencyHistogram:
        """Per-event latency, all workers merged (exact: histograms add)."""
        return merged(self._latency)

    @property
    def batch_latency(self) -> LatencyHistogram:
        """Per-batch processing time from batch start: what the seed reported."""
        return merged(self._batch_latency)

    def stats(self) -> ProcessorStats:
        """A snapshot; exact once stopped, approximate while workers run."""
        q = self._queue.stats()
        return ProcessorStats(
            offered=self._offered,
            processed=sum(self._processed),
            dropped=q.dropped,
            pending=q.depth + sum(self._in_batch),
            batches=sum(self._batches),
            queue_capacity=q.capacity,
            queue_depth=q.depth,
            high_water=q.high_water,
            workers=self.config.workers,
            deadline_misses=sum(self._misses) if self.config.deadline_ns is not None else None,
            elapsed_ns=max(self._last_done - self._t0, 0),
        )

    def _check(self) -> None:
        """Assert conservation; exact when stopped (tests call it after stop)."""
        s = self.stats()
        if self._state == "stopped":
            assert s.pending == 0, "events left behind after stop"
            assert s.processed + s.dropped == s.offered, "offered events unaccounted for"
            assert self.latency.count == s.processed, "latency samples != processed events"
        self._queue._check()
