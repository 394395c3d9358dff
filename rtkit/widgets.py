"""Dashboards: an experiment, a few controls, and a plot that follows them.

:func:`dashboard` turns an experiment function and parameter ranges into
sliders, drop-downs and check boxes above a plot (DESIGN convention 9).
Releasing a slider re-runs the experiment once with every parameter as a
keyword and redraws. Every lesson ends its experiment section with one.

The plot is an ordinary PNG image output, shown with a display id and
replaced in place (``update_display_data``) on every run, not a live
matplotlib canvas: an image output is saved in the ``.ipynb``, so the
dashboard's first render, made with the defaults, still reads on GitHub,
nbviewer and under nbval, where no kernel is running. Figures are drawn on
:class:`matplotlib.figure.Figure` objects that pyplot never sees, so nothing
leaks and no stray inline copy appears.

A run that raises does not break the dashboard: the status line shows the
error and the last good result and plot stay.

Example:
    >>> from rtkit.latency import LatencyHistogram
    >>> def run(n, scale):
    ...     h = LatencyHistogram()
    ...     h.record_many([scale * k for k in range(1, n + 1)])
    ...     return h
    >>> d = dashboard(run, {"n": (10, 1_000), "scale": [1_000, 10_000]})
    >>> d.values, d.runs, d.result.count
    ({'n': 505, 'scale': 1000}, 1, 505)
    >>> d.set(n=100, scale=10_000)          # one re-run for both changes
    >>> d.runs, d.result.max
    (2, 1000000)
"""

from __future__ import annotations

import html
import io
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, DisplayHandle, Image, display
from matplotlib.figure import Figure
from traitlets import TraitError

from rtkit.clock import Clock, resolve_clock
from rtkit.errors import ConfigError
from rtkit.latency import LatencyHistogram
from rtkit.viz import format_ns, latency_panel

__all__ = ["Dashboard", "Param", "dashboard"]

_STYLE = {"description_width": "initial"}


@dataclass(frozen=True)
class Param:
    """An explicit parameter spec: a range (``lo``, ``hi``, ``step``) or ``options``.

    ``log=True`` spaces a range logarithmically, with ``step`` counted in
    powers of ten (0.1 = ten positions per decade): a float range becomes a
    ``FloatLogSlider``, an int range a slider over log-spaced whole numbers.
    ``default`` defaults to the middle of the range (geometric when ``log``)
    or the first option; ``Param(default=True)`` is a check box. ``label``
    replaces the parameter name beside the control.

    Example:
        >>> Param(1, 1_000, log=True, default=10).log
        True
    """

    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    default: Any = None
    log: bool = False
    label: str | None = None
    options: Sequence[Any] | None = None


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_number(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _as_param(name: str, spec: object) -> Param:
    if isinstance(spec, Param):
        return spec
    if isinstance(spec, bool):
        return Param(default=spec)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        return Param(*spec)
    if isinstance(spec, list):
        return Param(options=spec)
    raise ConfigError(
        f"{name}: spec must be (lo, hi), (lo, hi, step), a list of options, a bool "
        f"or a Param, got {spec!r}"
    )


def _log_ints(lo: int, hi: int, step: float | None) -> list[int]:
    """Whole numbers from lo to hi, log-spaced: ``step`` decades apart, or by
    default the 1-2-5 series (1, 2, 5, 10, 20, ...), which reads well on a slider."""
    if step is None:
        decades = range(len(str(lo)) - 1, len(str(hi)))
        series = {m * 10**k for k in decades for m in (1, 2, 5)}
        return sorted({lo, hi, *(v for v in series if lo <= v <= hi)})
    n = max(2, round(math.log10(hi / lo) / step) + 1)
    return sorted({int(v) for v in np.rint(np.geomspace(lo, hi, n))})


def _make_control(name: str, spec: object) -> w.ValueWidget:
    """The widget for one parameter spec, set to its default."""
    p = _as_param(name, spec)
    desc = p.label or name
    if p.options is not None:
        options = list(p.options)
        if not options:
            raise ConfigError(f"{name}: options must not be empty")
        control = w.Dropdown(options=options, description=desc, style=_STYLE)
        if p.default is not None:
            try:
                control.value = p.default
            except TraitError:
                raise ConfigError(
                    f"{name}: default {p.default!r} is not one of the options"
                ) from None
        return control
    if p.lo is None and p.hi is None:
        if isinstance(p.default, bool):
            return w.Checkbox(value=p.default, description=desc, indent=False)
        raise ConfigError(f"{name}: a Param needs lo and hi, options, or a bool default")
    lo, hi, step, default = p.lo, p.hi, p.step, p.default
    if not (_is_number(lo) and _is_number(hi)):
        raise ConfigError(
            f"{name}: lo and hi must be numbers (use a list for options), got {spec!r}"
        )
    if not lo < hi:
        raise ConfigError(f"{name}: lo must be < hi, got ({lo!r}, {hi!r})")
    if step is not None and not (_is_number(step) and step > 0):
        raise ConfigError(f"{name}: step must be a number > 0, got {step!r}")
    if default is not None and not (_is_number(default) and lo <= default <= hi):
        raise ConfigError(f"{name}: default must be a number in [{lo}, {hi}], got {default!r}")
    # A log step counts decades, so it is a float even for a range of whole numbers.
    counted = (lo, hi, default) if p.log else (lo, hi, step, default)
    ints = all(_is_int(x) for x in counted if x is not None)
    common = {"description": desc, "style": _STYLE, "continuous_update": False}
    if p.log:
        if lo <= 0:
            raise ConfigError(f"{name}: a log range needs lo > 0, got {lo!r}")
        mid = math.sqrt(lo * hi)
        if ints:
            values = _log_ints(lo, hi, step)
            if default is not None and default not in values:
                values = sorted({*values, default})
            value = default if default is not None else min(values, key=lambda v: abs(v - mid))
            return w.SelectionSlider(options=values, value=value, **common)
        exp_lo, exp_hi = math.log10(lo), math.log10(hi)
        return w.FloatLogSlider(
            min=exp_lo,
            max=exp_hi,
            step=step or (exp_hi - exp_lo) / 100,
            value=default if default is not None else mid,
            readout_format=".3g",
            **common,
        )
    if ints:
        step = step or 1
        value = default if default is not None else lo + (hi - lo) // 2 // step * step
        return w.IntSlider(min=lo, max=hi, step=step, value=value, **common)
    return w.FloatSlider(
        min=lo,
        max=hi,
        step=step or (hi - lo) / 100,
        value=default if default is not None else (lo + hi) / 2,
        readout_format=".3g",
        **common,
    )


def _assign(name: str, control: w.ValueWidget, value: object) -> None:
    """Set one control, refusing what the widget would silently clamp or cast."""
    if isinstance(control, (w.IntSlider, w.FloatSlider, w.FloatLogSlider)):
        is_int = isinstance(control, w.IntSlider)
        if not (_is_int(value) if is_int else _is_number(value)):
            kind = "an integer" if is_int else "a number"
            raise ConfigError(f"{name} must be {kind}, got {value!r}")
        lo, hi = control.min, control.max
        if isinstance(control, w.FloatLogSlider):
            lo, hi = control.base**lo, control.base**hi
        if not lo * (1 - 1e-12) <= value <= hi * (1 + 1e-12):
            raise ConfigError(f"{name} must be in [{lo:g}, {hi:g}], got {value!r}")
    elif isinstance(control, w.Checkbox) and not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    try:
        control.value = value
    except TraitError:
        allowed = ", ".join(repr(v) for v in control.options)
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}") from None


def _default_hists(result: object) -> object | None:
    """What the default plot draws: ``result`` or ``result.latency``, if histograms."""
    for candidate in (result, getattr(result, "latency", None)):
        if isinstance(candidate, LatencyHistogram) or (
            isinstance(candidate, Mapping)
            and candidate
            and all(isinstance(h, LatencyHistogram) for h in candidate.values())
        ):
            return candidate
    return None


def _describe(values: Mapping[str, Any]) -> str:
    """``"n=5, rate=0.3162"``: floats to four digits, as a slider shows them."""
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in values.items()
    )


def _no_default_plot(result: object) -> ConfigError:
    return ConfigError(
        f"no default plot for a {type(result).__name__} result: pass "
        "plot=(result, fig) -> None, or return a LatencyHistogram or an object "
        "whose .latency is one"
    )


def _default_plot(result: object, fig: Figure) -> None:
    """Draw a latency panel of ``result`` or ``result.latency``."""
    hists = _default_hists(result)
    if hists is None:
        raise _no_default_plot(result)
    latency_panel(hists, fig=fig)


class Dashboard:
    """Controls above a plot of ``experiment(**values)``; see :func:`dashboard`.

    Attributes read without a frontend: ``values``, ``result`` (last good
    one), ``figure`` (its :class:`~matplotlib.figure.Figure`), ``runs``
    (experiment calls, failed ones included), ``error`` (message of the last
    run's exception, or None), ``controls`` (name -> widget), ``status``
    (the status widget) and ``box`` (controls and status as one widget).
    """

    def __init__(
        self,
        experiment: Callable[..., Any],
        params: Mapping[str, object],
        plot: Callable[[Any, Figure], None] | None = None,
        title: str | None = None,
        run_now: bool = True,
        *,
        figsize: tuple[float, float] = (13.0, 3.8),
        dpi: int = 100,
        clock: Clock | None = None,
    ) -> None:
        if not callable(experiment):
            raise ConfigError(f"experiment must be callable, got {type(experiment).__name__}")
        if plot is not None and not callable(plot):
            raise ConfigError(f"plot must be callable (result, fig) -> None, got {plot!r}")
        if not isinstance(params, Mapping):
            raise ConfigError(f"params must be a mapping name -> spec, got {type(params).__name__}")
        self.experiment = experiment
        self.controls: dict[str, w.ValueWidget] = {}
        for name, spec in params.items():
            if not isinstance(name, str):
                raise ConfigError(f"parameter names must be strings, got {name!r}")
            self.controls[name] = _make_control(name, spec)
        self._plot = plot
        self._figsize, self._dpi = figsize, dpi
        self._clock = resolve_clock(clock)
        self.result: Any = None
        self.figure: Figure | None = None
        self.error: str | None = None
        self.runs = 0
        self._png: bytes | None = None
        self._handle: DisplayHandle | None = None
        self._batching = False
        self.status = w.HTML("<i>not run yet: move a control</i>")
        header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.box = w.VBox([*header, *self.controls.values(), self.status])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        if run_now:
            self.rerun()

    @property
    def values(self) -> dict[str, Any]:
        """The current value of every parameter, as the experiment receives them."""
        return {name: control.value for name, control in self.controls.items()}

    @property
    def handle(self) -> DisplayHandle | None:
        """The display handle of the plot image, once the dashboard has been displayed."""
        return self._handle

    @property
    def image(self) -> Image | None:
        """The last good plot as a PNG :class:`IPython.display.Image` (None before one)."""
        return None if self._png is None else Image(data=self._png, format="png")

    def set(self, **values: object) -> None:
        """Set several controls, then re-run once.

        Unknown names or refused values raise :class:`ConfigError` and leave
        every control as it was.
        """
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            known = ", ".join(self.controls) or "none"
            raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}; known: {known}")
        before = self.values
        # Observers stay quiet while batching: the re-run below covers all changes.
        self._batching = True
        try:
            for name, value in values.items():
                _assign(name, self.controls[name], value)
        except ConfigError:
            for name in values:
                self.controls[name].value = before[name]
            raise
        finally:
            self._batching = False
        self.rerun()

    def _on_change(self, change: dict[str, Any]) -> None:
        if not self._batching:
            self.rerun()

    def rerun(self) -> None:
        """Run the experiment with the current values and redraw.

        An exception from the experiment or from ``plot`` is shown on the
        status line and kept in :attr:`error`; the previous result, figure and
        image stay. A result the default plot cannot draw raises
        :class:`ConfigError`: no setting of the controls would fix that.
        """
        values = self.values
        shown = html.escape(_describe(values))
        self.status.value = f"running <code>{shown}</code> ..."
        self.runs += 1
        t0 = self._clock.now_ns()
        try:
            result = self.experiment(**values)
        except Exception as exc:
            self._show_error(shown, exc)
            return
        elapsed = self._clock.now_ns() - t0
        if self._plot is None and _default_hists(result) is None:
            exc = _no_default_plot(result)
            self._show_error(shown, exc)
            raise exc
        try:
            fig, png = self._render(self._plot or _default_plot, result)
        except Exception as exc:
            self._show_error(shown, exc)
            return
        self.result, self.figure, self._png, self.error = result, fig, png, None
        self.status.value = f"ran <code>{shown}</code> in {format_ns(elapsed)}"
        if self._handle is not None:
            self._handle.update(self.image)

    def _render(self, plot: Callable[[Any, Figure], None], result: Any) -> tuple[Figure, bytes]:
        fig = Figure(figsize=self._figsize, dpi=self._dpi, layout="constrained")
        before = set(plt.get_fignums())
        try:
            plot(result, fig)
        finally:
            # A plot function that called pyplot made figures we never show:
            # close them, or the inline backend would print them too.
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return fig, buf.getvalue()

    def _show_error(self, shown: str, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        kept = "showing the last good plot" if self._png is not None else "nothing to show yet"
        self.status.value = (
            f"<span style='color:#b00020'><code>{shown}</code> failed: "
            f"{html.escape(self.error)}</span> ({kept})"
        )

    def _ipython_display_(self) -> None:
        display(self.box)
        shown = self.image if self._png is not None else HTML("<i>no plot yet</i>")
        if self._handle is None:
            self._handle = DisplayHandle()
        # One id for every copy, so a slider updates each place it is shown.
        self._handle.display(shown)

    def __repr__(self) -> str:
        return f"Dashboard({_describe(self.values)}; runs={self.runs})"


def dashboard(
    experiment: Callable[..., Any],
    params: Mapping[str, object],
    plot: Callable[[Any, Figure], None] | None = None,
    title: str | None = None,
    run_now: bool = True,
    **options: Any,
) -> Dashboard:
    """Controls for ``params`` above a plot of ``experiment(**values)``, re-run on change.

    ``params`` maps each keyword of ``experiment`` to a spec: ``(lo, hi)`` or
    ``(lo, hi, step)`` (all ints: an int slider, else a float slider), a list
    of options (a drop-down), a bool (a check box) or a :class:`Param`.
    ``plot(result, fig)`` draws a result into a matplotlib Figure; without
    it, a result that is a LatencyHistogram, or has one as ``.latency``, gets
    a :func:`~rtkit.viz.latency_panel`. With ``run_now`` (the default) the
    experiment runs once with the defaults, so the notebook shows a plot even
    when saved. ``options`` go to :class:`Dashboard` (``figsize``, ``dpi``,
    ``clock``). End a cell with the call to show it.

    Example:
        >>> d = dashboard(lambda fast: 1 if fast else 2, {"fast": True}, plot=lambda r, fig: None)
        >>> d.result, d.error
        (1, None)
        >>> d.set(speed=3)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: unknown parameter(s) speed; known: fast
    """
    return Dashboard(experiment, params, plot=plot, title=title, run_now=run_now, **options)
