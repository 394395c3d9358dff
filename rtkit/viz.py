"""Plots: the pictures every lesson draws of a run (DESIGN convention 8).

Each function takes data and an optional ``ax``, draws with matplotlib's
object API and returns the Axes, so plots compose into any layout; with
``ax=None`` it makes a new figure. Times arrive as integer nanoseconds and a
``unit`` (``"ns"``, ``"us"``, ``"ms"``, ``"s"``) only scales the axes.

Latency is drawn three ways, because each hides something the others show:

* :func:`plot_latency_histogram`: the shape (modes, a second hump from
  stalls), on a log axis so 1 µs and 1 ms fit on one picture.
* :func:`plot_percentile_spectrum`: HdrHistogram's plot, latency against
  ``1/(1-p)`` on a log axis, so 99 %, 99.9 % and 99.99 % get equal room: the
  tail is where real-time systems fail (seed 000, S000-8).
* :func:`plot_cdf`: the fraction of requests served within a latency.

:func:`latency_panel` puts the three side by side: the default picture of a
run in every lesson, and what :mod:`rtkit.widgets` dashboards draw.

Functions that take histograms accept one :class:`~rtkit.latency.LatencyHistogram`
or a mapping ``label -> LatencyHistogram`` (one curve each, with a legend).
Empty histograms draw nothing; if nothing at all is drawn the axes say so.

Example:
    >>> import numpy as np
    >>> from rtkit.latency import LatencyHistogram
    >>> h = LatencyHistogram()
    >>> h.record_many(np.random.default_rng(0).lognormal(9, 0.5, 10_000).astype(int))
    >>> ax = plot_percentile_spectrum({"fifo": h})
    >>> ax.get_xscale(), ax.get_ylabel()
    ('log', 'latency (µs)')
    >>> format_ns(h.percentile(99))
    '25.74 µs'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, NullFormatter, NullLocator

from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.latency import LatencyHistogram

if TYPE_CHECKING:  # drawing a schedule needs no import of the simulator
    from rtkit.sched.schedule import Schedule

__all__ = [
    "format_ns",
    "latency_panel",
    "plot_cdf",
    "plot_gantt",
    "plot_latency_histogram",
    "plot_percentile_spectrum",
    "plot_samples",
    "plot_sweep",
]

Histograms = LatencyHistogram | Mapping[str, LatencyHistogram]

# unit name -> (nanoseconds per unit, symbol printed on the axis)
_UNITS: dict[str, tuple[float, str]] = {
    "ns": (1.0, "ns"),
    "us": (1e3, "µs"),
    "ms": (1e6, "ms"),
    "s": (1e9, "s"),
}


def _unit(unit: str) -> tuple[float, str]:
    check_choice("unit", unit, tuple(_UNITS))
    return _UNITS[unit]


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    return ax


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _histograms(hists: Histograms, label: str | None) -> tuple[list[tuple[str, object]], bool]:
    """``([(label, histogram), ...], show_legend)`` from one histogram or a mapping."""
    if isinstance(hists, LatencyHistogram):
        return [(label or "", hists)], label is not None
    if isinstance(hists, Mapping):
        pairs = []
        for key, h in hists.items():
            if not isinstance(h, LatencyHistogram):
                raise ConfigError(
                    f"hists[{key!r}] must be a LatencyHistogram, got {type(h).__name__}"
                )
            pairs.append((str(key), h))
        return pairs, True
    raise ConfigError(
        "hists must be a LatencyHistogram or a mapping label -> LatencyHistogram, "
        f"got {type(hists).__name__}"
    )


def _each_histogram(
    ax: Axes,
    hists: Histograms,
    label: str | None,
    legend: bool,
    draw: Callable[[LatencyHistogram, str, str], None],
) -> None:
    pairs, show_legend = _histograms(hists, label)
    drawn = 0
    for i, (name, h) in enumerate(pairs):
        if h.count:
            # Colour by position in the mapping, so a label keeps its colour
            # in every panel even when another histogram is empty.
            draw(h, name, f"C{i % 10}")
            drawn += 1
    if not drawn:
        _note(ax, "no samples recorded")
    elif legend and show_legend:
        ax.legend()


def plot_latency_histogram(
    hists: Histograms,
    ax: Axes | None = None,
    unit: str = "us",
    label: str | None = None,
    *,
    density: bool = False,
    bins_per_decade: int = 20,
    log_y: bool = False,
    legend: bool = True,
) -> Axes:
    """Latency histogram as steps on a log latency axis.

    The HDR buckets are re-binned into ``bins_per_decade`` equal-ratio bins,
    so every bin is the same width on the log axis and shapes compare fairly
    across decades. y is the count per bin, or the fraction of samples when
    ``density=True`` (use it to compare runs of different lengths).

    Example:
        >>> h = LatencyHistogram()
        >>> h.record_many([1_000] * 3 + [10_000])
        >>> ax = plot_latency_histogram(h, unit="us")
        >>> ax.get_xscale(), ax.get_xlabel(), float(max(ax.get_lines()[0].get_ydata()))
        ('log', 'latency (µs)', 3.0)
    """
    scale, symbol = _unit(unit)
    bins_per_decade = check_int("bins_per_decade", bins_per_decade, minimum=1)
    ax = _axes(ax)

    def draw(h: LatencyHistogram, name: str, color: str) -> None:
        lows, counts = h.buckets()
        # A 0 ns sample has no place on a log axis: count it in the 1 ns bin.
        k = np.floor(np.log10(np.maximum(lows, 1)) * bins_per_decade + 1e-9).astype(np.int64)
        binned = np.bincount(k - k[0], weights=counts, minlength=int(k[-1] - k[0] + 1))
        if density:
            binned = binned / h.count
        edges = 10.0 ** (np.arange(k[0], k[-1] + 2) / bins_per_decade) / scale
        # Start and end at zero so the outline closes like a bar chart.
        x = np.r_[edges[0], edges]
        y = np.r_[0.0, binned, 0.0]
        ax.step(x, y, where="post", color=color, label=name)

    _each_histogram(ax, hists, label, legend, draw)
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(f"latency ({symbol})")
    ax.set_ylabel("fraction of samples" if density else "count")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def _nines_label(nines: int) -> str:
    return f"{100 - 100 / 10**nines:.{max(nines - 2, 0)}f}%"


def plot_percentile_spectrum(
    hists: Histograms,
    ax: Axes | None = None,
    unit: str = "us",
    max_nines: int = 5,
    *,
    label: str | None = None,
    log_y: bool = False,
    legend: bool = True,
) -> Axes:
    """Latency by percentile, x = 1/(1-p) on a log axis (HdrHistogram's plot).

    Each step of the curve is a bucket of :meth:`LatencyHistogram.cdf`: at
    ``x = 1/(1-fraction)`` the latency reaches the bucket's value. Points past
    ``max_nines`` nines (the max, at fraction 1, is infinitely far right) are
    drawn at the right edge, so the curve ends at the maximum.

    Example:
        >>> h = LatencyHistogram()
        >>> h.record_many(range(1, 1_001))
        >>> ax = plot_percentile_spectrum(h, max_nines=3)
        >>> [t.get_text() for t in ax.get_xticklabels()]
        ['50%', '90%', '99%', '99.9%']
    """
    scale, symbol = _unit(unit)
    max_nines = check_int("max_nines", max_nines, minimum=1)
    if max_nines > 9:
        raise ConfigError(f"max_nines must be 1..9, got {max_nines}")
    right = 10.0**max_nines
    ax = _axes(ax)

    def draw(h: LatencyHistogram, name: str, color: str) -> None:
        values, fractions = h.cdf()
        with np.errstate(divide="ignore"):  # fraction 1.0 -> inf, clipped below
            x = np.minimum(1.0 / (1.0 - fractions), right)
        # From p = 0 (x = 1) the latency is the first bucket's; "pre" steps
        # hold each value up to and including its own x.
        ax.step(
            np.r_[1.0, x], np.r_[values[0], values] / scale, where="pre", color=color, label=name
        )

    _each_histogram(ax, hists, label, legend, draw)
    ax.set_xscale("log")
    ticks = [2.0] + [10.0**k for k in range(1, max_nines + 1)]
    ax.set_xticks(ticks, ["50%"] + [_nines_label(k) for k in range(1, max_nines + 1)])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(1.0, right)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("percentile")
    ax.set_ylabel(f"latency ({symbol})")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_cdf(
    hists: Histograms,
    ax: Axes | None = None,
    unit: str = "us",
    *,
    label: str | None = None,
    legend: bool = True,
) -> Axes:
    """Cumulative fraction of samples at or below each latency (log latency axis).

    Example:
        >>> h = LatencyHistogram()
        >>> h.record_many([10, 10, 20, 40])
        >>> ax = plot_cdf(h, unit="ns")
        >>> ax.get_lines()[0].get_ydata().tolist()
        [0.0, 0.5, 0.75, 1.0]
    """
    scale, symbol = _unit(unit)
    ax = _axes(ax)

    def draw(h: LatencyHistogram, name: str, color: str) -> None:
        values, fractions = h.cdf()
        x = np.maximum(values, 1) / scale  # 0 ns drawn at the 1 ns edge of a log axis
        ax.step(np.r_[x[0], x], np.r_[0.0, fractions], where="post", color=color, label=name)

    _each_histogram(ax, hists, label, legend, draw)
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(f"latency ({symbol})")
    ax.set_ylabel("cumulative fraction")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def _series(name: str, values: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size != n:
        raise ConfigError(f"{name} must have one value per x ({n}), got shape {arr.shape}")
    return arr


def plot_sweep(
    x: Sequence[float] | np.ndarray,
    throughput: Sequence[float] | np.ndarray | None = None,
    latency: Mapping[str, Sequence[float]] | None = None,
    ax: Axes | None = None,
    xlabel: str = "",
    log_x: bool = False,
    unit: str = "us",
) -> Axes:
    """Latency percentiles (log y, on ``ax``) and throughput (twin y axis) versus ``x``.

    ``latency`` maps a label to one value in nanoseconds per ``x``, e.g.
    ``{"p50": [...], "p99": [...]}``; ``throughput`` is events per second.
    With only ``throughput``, it is drawn on ``ax`` itself. One legend lists
    every curve. Returns ``ax``; the twin axes is the last one in ``ax.figure.axes``.

    Example:
        >>> ax = plot_sweep([1, 2, 4], throughput=[1e5, 2e5, 3e5],
        ...                 latency={"p99": [2_000, 3_000, 9_000]}, xlabel="workers")
        >>> ax.get_yscale(), ax.get_ylabel(), len(ax.figure.axes)
        ('log', 'latency (µs)', 2)
    """
    scale, symbol = _unit(unit)
    if throughput is None and latency is None:
        raise ConfigError("plot_sweep needs throughput= or latency= (or both)")
    xs = _series("x", x, np.size(x))
    ax = _axes(ax)
    handles = []
    tax = ax
    if latency is not None:
        if not isinstance(latency, Mapping) or not latency:
            raise ConfigError(
                "latency must be a non-empty mapping label -> values, e.g. {'p99': [...]}"
            )
        for i, (name, ys) in enumerate(latency.items()):
            y = _series(f"latency[{name!r}]", ys, xs.size) / scale
            handles += ax.plot(xs, y, "o-", color=f"C{i % 10}", label=str(name))
        ax.set_yscale("log")
        ax.set_ylabel(f"latency ({symbol})")
        if throughput is not None:
            tax = ax.twinx()
    if throughput is not None:
        y = _series("throughput", throughput, xs.size)
        handles += tax.plot(xs, y, "s--", color="0.35", label="throughput")
        tax.set_ylabel("throughput (events/s)")
        tax.set_ylim(bottom=0)
        tax.yaxis.set_major_formatter(EngFormatter())
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=handles, loc="best")
    return ax


def _time_unit(span_ns: float) -> str:
    for unit in ("s", "ms", "us"):
        if span_ns >= _UNITS[unit][0]:
            return unit
    return "ns"


def plot_samples(
    t_ns: Sequence[int] | np.ndarray,
    values_ns: Sequence[int] | np.ndarray,
    ax: Axes | None = None,
    unit: str = "us",
    *,
    time_unit: str | None = None,
    log_y: bool = False,
    label: str | None = None,
) -> Axes:
    """Each sample's latency against its time since the first sample: stalls show as spikes.

    ``time_unit`` scales the time axis; by default the largest unit the run
    spans at least once of.

    Example:
        >>> ax = plot_samples([0, 1_000_000, 2_000_000], [900, 50_000, 1_100])
        >>> ax.get_xlabel(), ax.get_ylabel()
        ('time since start (ms)', 'latency (µs)')
    """
    scale, symbol = _unit(unit)
    t = np.asarray(t_ns, dtype=np.float64)
    v = _series("values_ns", values_ns, t.size)
    if t.ndim != 1:
        raise ConfigError(f"t_ns must be one-dimensional, got shape {t.shape}")
    ax = _axes(ax)
    elapsed = t - t.min() if t.size else t
    tu = time_unit if time_unit is not None else _time_unit(float(elapsed.max(initial=0.0)))
    t_scale, t_symbol = _unit(tu)
    if t.size:
        # Markers only: a line would join a stall to its neighbours and hide it.
        ax.plot(elapsed / t_scale, v / scale, ".", markersize=3, alpha=0.6, label=label)
        if label is not None:
            ax.legend()
    else:
        _note(ax, "no samples recorded")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(f"time since start ({t_symbol})")
    ax.set_ylabel(f"latency ({symbol})")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def latency_panel(
    hists: Histograms,
    fig: Figure | None = None,
    unit: str = "us",
    title: str | None = None,
) -> Figure:
    """Histogram, percentile spectrum and CDF side by side: the default picture of a run.

    Draws into ``fig`` (cleared first) or a new figure. One legend, on the
    histogram, serves all three panels: a label has the same colour in each.

    Example:
        >>> h = LatencyHistogram()
        >>> h.record_many([1_000, 2_000, 50_000])
        >>> fig = latency_panel({"run": h}, title="demo")
        >>> [ax.get_title() for ax in fig.axes]
        ['distribution', 'percentile spectrum', 'CDF']
    """
    _unit(unit)
    _histograms(hists, None)  # reject bad input before touching the figure
    if fig is None:
        fig = plt.figure(figsize=(13, 3.8), layout="constrained")
    else:
        fig.clear()
        if fig.get_layout_engine() is None:
            fig.set_layout_engine("constrained")
    ax_hist, ax_spec, ax_cdf = fig.subplots(1, 3)
    plot_latency_histogram(hists, ax=ax_hist, unit=unit)
    plot_percentile_spectrum(hists, ax=ax_spec, unit=unit, legend=False)
    plot_cdf(hists, ax=ax_cdf, unit=unit, legend=False)
    ax_hist.set_title("distribution")
    ax_spec.set_title("percentile spectrum")
    ax_cdf.set_title("CDF")
    if title is not None:
        fig.suptitle(title)
    return fig


def format_ns(value_ns: float) -> str:
    """A duration in nanoseconds as a short human string, three significant digits.

    Example:
        >>> [format_ns(v) for v in (950, 1_500, 2_500_000, 3_000_000_000)]
        ['950 ns', '1.50 µs', '2.50 ms', '3.00 s']
        >>> format_ns(999_999)    # would round to "1000.00 µs"
        '1.00 ms'
    """
    if isinstance(value_ns, bool) or not isinstance(value_ns, numbers.Real):
        raise ConfigError(f"value_ns must be a number of nanoseconds, got {value_ns!r}")
    v = float(value_ns)
    a = abs(v)
    if not math.isfinite(v):
        return f"{v} ns"
    if a < 999.5:
        return f"{v:.0f} ns" if v == round(v) else f"{v:.3g} ns"
    # Switch unit where the smaller one would print as 1000.00.
    if a < 999_995:
        return f"{v / 1e3:.2f} µs"
    if a < 999_995_000:
        return f"{v / 1e6:.2f} ms"
    return f"{v / 1e9:.2f} s"


def plot_gantt(
    schedule: Schedule,
    ax: Axes | None = None,
    *,
    by: str = "task",
    start: int = 0,
    end: int | None = None,
    releases: bool = True,
    deadlines: bool = True,
    title: str | None = None,
) -> Axes:
    """A Gantt chart of a :class:`~rtkit.sched.schedule.Schedule`: who ran when.

    One row per task (``by="task"``, the default) or per processor
    (``by="cpu"``, bars coloured by task). Execution segments are bars;
    releases are up-arrows (``^``) and deadlines down-arrows (``v``): under
    and above the task's row with ``by="task"``; with ``by="cpu"``, where a
    job has no row until it runs, releases go under the lowest cpu row and
    deadlines above the highest. A missed deadline is drawn in red, with a
    cross on the row of the task (``by="task"``) or of the cpu the late job
    last ran on (``by="cpu"``; the top row if it never ran), and the part of
    a late job that ran after its deadline is hatched red. ``start`` and
    ``end`` (in the schedule's time units) pick a window.

    Each row is drawn with one ``broken_barh`` call for its on-time bars and
    one for its late parts, so a long schedule costs a few artists, not one
    per segment.

    Example:
        >>> from rtkit.sched import Task, simulate
        >>> s = simulate([Task("t1", 2, 5), Task("t2", 4, 7)], policy="rm")
        >>> ax = plot_gantt(s, end=14)
        >>> [t.get_text() for t in ax.get_yticklabels()], [float(x) for x in ax.get_xlim()]
        (['t1', 't2'], [0.0, 14.0])
        >>> [line.get_gid() for line in ax.get_lines()]
        ['releases', 'deadlines', 'misses', 'miss_crosses']
    """
    check_choice("by", by, ("task", "cpu"))
    start = check_int("start", start, minimum=0)
    end = schedule.horizon if end is None else check_int("end", end, minimum=start + 1)
    ax = _axes(ax)
    names = [t.name for t in schedule.tasks]
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(names))]
    rows = names if by == "task" else [f"cpu {c}" for c in range(schedule.cpus)]
    seg = schedule.segments
    seg = seg[(seg["end"] > start) & (seg["start"] < end)]
    jobs = schedule.jobs
    # A row's centre is at y = -row, so the first task (or cpu 0) is at the top.
    row_of = seg["task"] if by == "task" else seg["cpu"]
    s0, s1 = seg["start"].astype(np.int64), seg["end"].astype(np.int64)
    on_time_end = np.minimum(s1, np.maximum(s0, jobs["deadline"][seg["job"]]))
    for row in np.unique(row_of).tolist():
        mine = row_of == row
        ok = mine & (on_time_end > s0)
        if ok.any():
            ax.broken_barh(
                np.column_stack((s0[ok], on_time_end[ok] - s0[ok])),
                (-row - 0.35, 0.7),
                facecolors=[colours[k] for k in seg["task"][ok].tolist()],
                edgecolors="white",  # so back-to-back jobs of one task stay apart
                linewidth=0.5,
                gid=f"bars {rows[row]}",
            )
        late = mine & (s1 > on_time_end)  # ran after its deadline
        if late.any():
            ax.broken_barh(
                np.column_stack((on_time_end[late], s1[late] - on_time_end[late])),
                (-row - 0.35, 0.7),
                facecolors=[colours[k] for k in seg["task"][late].tolist()],
                edgecolors="red",
                hatch="//",
                gid=f"late {rows[row]}",
            )
    window = jobs[(jobs["release"] >= start) & (jobs["release"] < end)]
    due = jobs[(jobs["deadline"] >= start) & (jobs["deadline"] <= end)]
    missed = due[due["missed"]]
    if by == "task":
        release_y = -window["task"] - 0.45
        deadline_y = -due["task"] + 0.45
        cross_y = -missed["task"]
    else:
        release_y = np.full(len(window), -(len(rows) - 1) - 0.45)
        deadline_y = np.full(len(due), 0.45)
        # The cpu each missed job last ran on (its latest segment), else the top row.
        all_seg = schedule.segments
        last_cpu = np.zeros(len(jobs), dtype=np.int64)
        by_end = np.argsort(all_seg["end"], kind="stable")
        last_cpu[all_seg["job"][by_end]] = all_seg["cpu"][by_end]
        rows_of_missed = np.flatnonzero((jobs["deadline"] >= start) & (jobs["deadline"] <= end))
        cross_y = -last_cpu[rows_of_missed[due["missed"]]]
    if releases:
        ax.plot(
            window["release"],
            release_y,
            "^",
            color="black",
            markersize=6,
            linestyle="none",
            gid="releases",
        )
    if deadlines:
        met = ~due["missed"]
        ax.plot(
            due["deadline"][met],
            deadline_y[met],
            "v",
            color="black",
            markersize=6,
            linestyle="none",
            gid="deadlines",
        )
        ax.plot(
            missed["deadline"],
            deadline_y[~met],
            "v",
            color="red",
            markersize=8,
            linestyle="none",
            gid="misses",
        )
        ax.plot(
            missed["deadline"],
            cross_y,
            "x",
            color="red",
            markersize=9,
            linestyle="none",
            gid="miss_crosses",
        )
    if by == "cpu":
        from matplotlib.patches import Patch

        ax.legend(
            handles=[Patch(color=colours[i], label=n) for i, n in enumerate(names)],
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),  # outside, so no deadline arrow is hidden
            fontsize="small",
        )
    ax.set_yticks([-i for i in range(len(rows))], rows)
    ax.set_ylim(-len(rows) + 0.3, 0.8)
    ax.set_xlim(start, end)
    ax.set_xlabel("time")
    ax.grid(True, axis="x", alpha=0.3)
    misses = int(jobs["missed"].sum())
    ax.set_title(
        title
        if title is not None
        else f"{schedule.policy.upper()} on {schedule.cpus} cpu(s): {misses} missed"
    )
    return ax
