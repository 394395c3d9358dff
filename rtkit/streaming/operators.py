"""Pipeline operators: what each stage does, and operator chaining.

An :class:`Operator` is the *definition* of one stage: its kind (``map``,
``filter``, ``batch``, ``window``, ``aggregate``, ``sink``), its function
or parameters, and its service-time model for simulation (``cost_ns`` per
event, ``overhead_ns`` per call). Operators hold no run-time state; every
run builds fresh state from them (see :mod:`rtkit.streaming.windows`).

**Operator chaining.** Consecutive stateless operators (map, filter,
aggregate, sink) run back to back on the same worker, so calling them one
by one through a generic loop only adds overhead. :func:`fuse` compiles such
a run into *one* Python function, the way Flink chains operators into one
task: ``x = f0(x)``, ``if not f1(x): return SKIP``, ... with no per-stage
dispatch, no queue and no allocation between stages. A stage that raises
is identified by a local step counter and reported as
:class:`StageFailure`; a filter that refuses an item bumps its counter on
that (rare) path only. Runtime complexity: one Python call per stage per
item, plus one for the fused function.

Example:
    >>> ops = [Operator("map", "double", fn=lambda x: 2 * x),
    ...        Operator("filter", "big", fn=lambda x: x > 4)]
    >>> fused, filtered = fuse(ops)
    >>> fused(3), fused(1) is SKIP, filtered
    (6, True, [0, 1])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rtkit.errors import ConfigError, RtkitError, check_int

__all__ = ["SKIP", "STATEFUL", "STATELESS", "Operator", "StageFailure", "fuse"]

STATELESS = ("map", "filter", "aggregate", "sink")
STATEFUL = ("batch", "window")


class _Skip:
    """The marker a fused chain returns when a filter refused the item."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP = _Skip()


class StageFailure(RtkitError):
    """Raised by a fused chain when stage ``index`` (within the chain) raised ``error``.

    Internal: the worker catches it, counts the error against that stage and
    goes on with the next item; it never reaches user code.
    """

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


@dataclass(frozen=True)
class Operator:
    """The definition of one pipeline stage (no run-time state).

    ``fn`` is the user function (map, filter, sink, aggregate); ``params``
    holds a stateful stage's settings. ``cost_ns`` and ``overhead_ns`` are
    the simulated service time: a stateless stage called on an item that
    carries ``n`` events takes ``overhead_ns + n * cost_ns``; a batch or
    window stage takes ``cost_ns`` per event in and ``overhead_ns`` per
    batch or window out. Threads ignore them (real time passes instead).
    """

    kind: str
    name: str
    fn: Callable[[Any], Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    cost_ns: int = 0
    overhead_ns: int = 0

    def __post_init__(self) -> None:
        if self.kind not in STATELESS + STATEFUL:
            raise ConfigError(f"unknown operator kind {self.kind!r}")
        if self.kind in STATELESS and not callable(self.fn):
            name = type(self.fn).__name__
            raise ConfigError(f"{self.kind} needs a callable, got {name}")
        check_int("cost_ns", self.cost_ns, minimum=0)
        check_int("overhead_ns", self.overhead_ns, minimum=0)

    @property
    def stateful(self) -> bool:
        """True for batch and window stages, which hold items between calls."""
        return self.kind in STATEFUL


def fuse(ops: Sequence[Operator]) -> tuple[Callable[[Any], Any], list[int]]:
    """Compile consecutive stateless operators into one function.

    Returns ``(fused, filtered)``: ``fused(x)`` applies every operator in
    order and returns the result, :data:`SKIP` if a filter refused ``x``,
    or raises :class:`StageFailure` naming the stage that raised;
    ``filtered[k]`` counts the items filter ``k`` refused, and
    ``fused.refused[0]`` is the index of the filter that refused last (so a
    caller can count the events a refused batch carried). A sink's return
    value is ignored (the item passes through it unchanged).

    Example:
        >>> seen = []
        >>> fused, _ = fuse([Operator("map", "inc", fn=lambda x: x + 1),
        ...                  Operator("sink", "keep", fn=seen.append)])
        >>> fused(1), seen
        (2, [2])
        >>> try:
        ...     fused(None)
        ... except StageFailure as failure:
        ...     print(failure.index, type(failure.error).__name__)
        0 TypeError
    """
    if not ops or any(op.kind not in STATELESS for op in ops):
        raise ConfigError("fuse needs one or more stateless operators")
    filtered = [0] * len(ops)
    refused = [0]
    namespace: dict[str, Any] = {
        "SKIP": SKIP,
        "StageFailure": StageFailure,
        "filtered": filtered,
        "refused": refused,
    }
    body: list[str] = []
    for k, op in enumerate(ops):
        namespace[f"f{k}"] = op.fn
        if len(ops) > 1:
            body.append(f"st = {k}")  # which stage raised, for a fraction of a ns
        if op.kind == "filter":
            body += [f"if not f{k}(x):", f"    filtered[{k}] += 1"]
            body += [f"    refused[0] = {k}", "    return SKIP"]
        elif op.kind == "sink":
            body.append(f"f{k}(x)")
        else:
            body.append(f"x = f{k}(x)")
    where = "st" if len(ops) > 1 else "0"
    source = "\n".join(
        ["def fused(x):", "    try:"]
        + [f"        {line}" for line in body]
        + [
            "    except Exception as exc:",
            f"        raise StageFailure({where}, exc) from exc",
            "    return x",
        ]
    )
    exec(compile(source, f"<fused {' > '.join(op.name for op in ops)}>", "exec"), namespace)
    fused = namespace["fused"]
    fused.refused = refused
    return fused, filtered
