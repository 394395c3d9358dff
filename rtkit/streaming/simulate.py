"""A pipeline as a discrete-event simulation on virtual time.

The same :class:`~rtkit.streaming.Pipeline` definition that runs on threads
runs here on a :class:`~rtkit.clock.VirtualClock`: the stage functions
really run (outputs, windows and counters are real), but time is modelled.
Each stage is charged its service time (``overhead_ns`` per call plus
``cost_ns`` per event the item carries; ``cost_ns`` per event in and
``overhead_ns`` per batch or window out for stateful stages), exactly, or
drawn from an exponential law with that mean (``service="exponential"``,
seeded). That is enough to see the micro-batching trade-off: a batch pays
its ``overhead_ns`` once for many events (throughput up) and its events
wait for it to close (latency up).

The model, per worker (``workers`` servers, each with its own bounded
buffer and its own chain of stages, as on threads):

1. Event ``k`` is offered at ``arrivals_ns[k]`` (open loop) to worker
   ``partition(key(item))``, or round-robin without ``key``.
2. A full buffer applies the pipeline's policy: ``drop_newest``,
   ``drop_oldest`` and ``error`` count a drop; ``block`` stalls the
   producer until that worker takes an item, delaying every later offer
   (latency still counts from the intended time).
3. An idle worker takes the oldest item and runs it through its stages,
   busy for the sum of their service times. A batch flush or processing-time
   window deadline is handled when it falls due, or as soon as the worker
   is free.
4. At equal times arrivals go first, then workers in index order; deadlines
   before buffered items. So a run is a function of its inputs and seed.
5. When arrivals end, queued items are processed and every open batch and
   window is emitted.

Latency is from the intended arrival time to the end of the sink; the run
lasts from the first arrival to the last completion. Runtime complexity:
O((n + timers) * workers) steps, each running the stages once: a few
hundred thousand events per second.

Example:
    >>> import numpy as np
    >>> from rtkit.loadgen import constant_rate
    >>> from rtkit.streaming import Pipeline
    >>> arrivals = constant_rate(1_000_000, 10_000)          # 1 M events/s
    >>> def slow_sink():                                      # 200 ns a call + 100 ns an event
    ...     return Pipeline().sink(lambda x: None, overhead_ns=200, cost_ns=100)
    >>> r1 = slow_sink().simulate(arrivals)
    >>> r64 = Pipeline().batch(64, flush_ns=50_000).sink(
    ...     lambda x: None, overhead_ns=200, cost_ns=100).simulate(arrivals)
    >>> r1.latency.percentile(50), r64.latency.percentile(50)
    (300, 30207)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from rtkit.clock import VirtualClock
from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.latency import LatencyHistogram

if TYPE_CHECKING:
    from rtkit.streaming.pipeline import Pipeline
    from rtkit.streaming.stats import PipelineResult

__all__ = ["simulate"]

_INF = 2**63 - 1


def simulate(
    pipeline: Pipeline,
    arrivals_ns: np.ndarray,
    items: Iterable[Any] | None = None,
    *,
    workers: int = 1,
    key: Callable[[Any], Any] | None = None,
    service: str = "fixed",
    seed: int = 0,
) -> PipelineResult:
    """Simulate ``pipeline`` fed ``items`` at ``arrivals_ns`` (default items: 0, 1, 2, ...).

    Returns a :class:`~rtkit.streaming.PipelineResult` (mode
    ``"simulated"``). Bad arguments raise :class:`~rtkit.errors.ConfigError`
    before anything runs.
    """
    from rtkit.streaming.chain import Chain, SimContext
    from rtkit.streaming.stats import PipelineResult, build_stats

    arrivals = np.asarray(arrivals_ns)
    if arrivals.ndim != 1 or (arrivals.size and arrivals.dtype.kind not in "iu"):
        raise ConfigError("arrivals_ns must be a 1-d array of integer nanoseconds")
    if arrivals.size and (arrivals[0] < 0 or (np.diff(arrivals) < 0).any()):
        raise ConfigError("arrivals_ns must be >= 0 and non-decreasing")
    times = arrivals.astype(np.int64).tolist()
    n = len(times)
    events = list(range(n)) if items is None else list(items)
    if len(events) != n:
        raise ConfigError(f"items has {len(events)} entries but arrivals_ns has {n}")
    exponential = check_choice("service", service, ("fixed", "exponential")) == "exponential"
    seed = check_int("seed", seed, minimum=0)
    route = pipeline._router(workers, key)
    capacity, policy = pipeline.capacity, pipeline.policy

    rng = np.random.default_rng(seed)
    clock = VirtualClock(start_ns=times[0] if n else 0)
    histogram = LatencyHistogram()
    plans = [pipeline._plan() for _ in range(workers)]
    ctxs = [SimContext(rng, exponential) for _ in range(workers)]
    chains = [Chain(ops, ctx, histogram, fuse_runs=False) for (ops, _), ctx in zip(
        plans, ctxs, strict=True)]  # fmt: skip
    queues: list[deque[tuple[int, int, Any]]] = [deque() for _ in range(workers)]
    free_at = [0] * workers
    offered = [0] * workers
    taken = [0] * workers
    dropped = [0] * workers
    high = [0] * workers
    blocked: tuple[int, int] | None = None  # (event, worker) stalled under "block"
    k = 0

    def enqueue(w: int, stamp: int, t: int, item: Any) -> None:
        q = queues[w]
        q.append((stamp, t, item))
        offered[w] += 1
        if len(q) > high[w]:
            high[w] = len(q)

    while True:
        ta = times[k] if k < n and blocked is None else _INF
        tw, ww, timer = _INF, -1, False
        for w in range(workers):
            q = queues[w]
            d = chains[w].deadline() if chains[w].timed else None
            head = q[0][1] if q else _INF
            if d is not None and d <= head:
                t, is_timer = max(free_at[w], d), True
            elif q:
                t, is_timer = max(free_at[w], head), False
            else:
                continue
            if t < tw:
                tw, ww, timer = t, w, is_timer
        if ta == _INF and tw == _INF:
            break
        if ta <= tw:
            clock.set_ns(max(ta, clock.now_ns()))
            t = clock.now_ns()
            item = events[k]
            w = route(item)
            q = queues[w]
            if len(q) < capacity:
                enqueue(w, times[k], t, item)
            elif policy == "block":
                blocked = (k, w)
            elif policy == "drop_oldest":
                q.popleft()
                dropped[w] += 1
                enqueue(w, times[k], t, item)
            else:  # drop_newest, error: the offer is refused and counted
                offered[w] += 1
                dropped[w] += 1
            k += 1
            continue
        clock.set_ns(max(tw, clock.now_ns()))
        t = clock.now_ns()
        ctx, chain = ctxs[ww], chains[ww]
        ctx.t = t
        if timer:
            chain.on_timer(t)
        else:
            stamp, _, item = queues[ww].popleft()
            taken[ww] += 1
            chain.push([stamp], item)
            if blocked is not None and blocked[1] == ww:
                enqueue(ww, times[blocked[0]], t, events[blocked[0]])
                blocked = None
        free_at[ww] = ctx.t

    for w in range(workers):
        ctxs[w].t = max(free_at[w], clock.now_ns())
        chains[w].flush()
        free_at[w] = ctxs[w].t
    end = max([*free_at, clock.now_ns()])
    snapshot = build_stats(
        [(offered[w], taken[w], dropped[w], len(queues[w]), high[w]) for w in range(workers)],
        chains,
    )
    outputs = [x for _, out in plans for x in out]
    pipeline._last_chains, pipeline._last_taken = chains, taken
    elapsed = end - times[0] if n else 0
    return PipelineResult("simulated", histogram, elapsed, snapshot, outputs)
