"""Tests for rtkit.widgets: controls from specs, re-runs, errors, display, no leaks."""

from dataclasses import dataclass

import ipywidgets as w
import matplotlib
import matplotlib.pyplot as plt
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output
from matplotlib.figure import Figure
from traitlets.config import Config

from rtkit import widgets
from rtkit.clock import VirtualClock
from rtkit.errors import ConfigError
from rtkit.latency import LatencyHistogram
from rtkit.widgets import Dashboard, Param, dashboard

matplotlib.use("Agg")


class Recorder:
    """An experiment that remembers every call and returns a histogram."""

    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if kwargs.get("fail"):
            raise RuntimeError("boom: bad combination")
        h = LatencyHistogram()
        h.record_many([1_000 * kwargs.get("n", 1)] * 10)
        return h


@dataclass
class Run:
    latency: LatencyHistogram
    throughput: float


def no_plot(result, fig):
    fig.add_subplot().plot([0, 1])


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A real IPython shell, so display() publishes outputs that can be captured."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    config = Config()
    config.HistoryManager.enabled = False
    sh = InteractiveShell.instance(config=config)
    yield sh
    InteractiveShell.clear_instance()


def test_experiment_gets_every_default_as_a_keyword():
    exp = Recorder()
    d = dashboard(
        exp,
        {
            "n": (1, 9),
            "rate": (0.0, 1.0),
            "policy": ["drop", "block"],
            "fail": False,
            "batch": Param(1, 64, default=8),
        },
    )
    assert exp.calls == [{"n": 5, "rate": 0.5, "policy": "drop", "fail": False, "batch": 8}]
    assert d.values == exp.calls[0]
    assert d.runs == 1 and d.error is None
    assert d.result.count == 10


def test_specs_make_the_matching_controls():
    d = dashboard(
        Recorder(),
        {
            "a": (1, 10),
            "b": (1, 10, 3),
            "c": (0.5, 2.0),
            "d": [1, 2, 4],
            "e": True,
            "f": Param(1e-3, 1e3, log=True),
            "g": Param(1, 1024, log=True, label="batch size"),
        },
        plot=no_plot,
    )
    c = d.controls
    assert isinstance(c["a"], w.IntSlider) and isinstance(c["c"], w.FloatSlider)
    assert c["b"].step == 3 and c["b"].value == 4  # midpoint snapped to the step grid
    assert isinstance(c["d"], w.Dropdown) and c["d"].value == 1
    assert isinstance(c["e"], w.Checkbox) and c["e"].value is True
    assert isinstance(c["f"], w.FloatLogSlider) and c["f"].value == pytest.approx(1.0)
    assert isinstance(c["g"], w.SelectionSlider) and c["g"].description == "batch size"
    # a whole-number log range steps through 1-2-5; the default is nearest the geometric middle
    assert c["g"].options == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 1024)
    assert c["g"].value == 20
    for name in "abcfg":
        assert c[name].continuous_update is False


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ((1, 2, 3, 4), "spec must be"),
        ("fast", "spec must be"),
        ((5, 1), "lo must be < hi"),
        (("x", "y"), "lo and hi must be numbers"),
        ((1, 10, 0), "step must be a number > 0"),
        ([], "options must not be empty"),
        (Param(1, 10, default=11), r"default must be a number in \[1, 10\]"),
        (Param(options=["a"], default="b"), "default 'b' is not one of the options"),
        (Param(0, 10, log=True), "a log range needs lo > 0"),
        (Param(), "a Param needs lo and hi, options, or a bool default"),
    ],
)
def test_bad_spec_is_rejected(spec, match):
    with pytest.raises(ConfigError, match=f"x: {match}"):
        dashboard(Recorder(), {"x": spec}, plot=no_plot)


def test_moving_a_control_reruns_with_the_new_value():
    exp = Recorder()
    d = dashboard(exp, {"n": (1, 9), "policy": ["drop", "block"]}, plot=no_plot)
    d.controls["n"].value = 7
    d.controls["policy"].value = "block"
    assert exp.calls[1:] == [{"n": 7, "policy": "drop"}, {"n": 7, "policy": "block"}]
    assert d.runs == 3 and d.result.max == 7_000


def test_set_of_two_values_runs_once():
    exp = Recorder()
    d = dashboard(exp, {"n": (1, 9), "policy": ["drop", "block"]}, plot=no_plot)
    d.set(n=2, policy="block")
    assert d.runs == 2
    assert exp.calls[-1] == {"n": 2, "policy": "block"}
    assert d.values == {"n": 2, "policy": "block"}


def test_set_unknown_names_are_named_and_nothing_runs():
    d = dashboard(Recorder(), {"n": (1, 9)}, plot=no_plot)
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) bogus, zzz; known: n"):
        d.set(n=3, zzz=1, bogus=2)
    assert d.values == {"n": 5} and d.runs == 1


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"policy": "block", "n": 2.5}, "n must be an integer"),
        ({"policy": "block", "n": 10}, r"n must be in \[1, 9\]"),
        ({"n": 3, "policy": "spin"}, "policy must be one of 'drop', 'block'"),
        ({"n": 3, "fast": 1}, "fast must be True or False"),
    ],
)
def test_set_refuses_bad_values_and_changes_nothing(values, match):
    d = dashboard(
        Recorder(), {"n": (1, 9), "policy": ["drop", "block"], "fast": False}, plot=no_plot
    )
    with pytest.raises(ConfigError, match=match):
        d.set(**values)  # the valid change before the bad one is undone too
    assert d.values == {"n": 5, "policy": "drop", "fast": False}
    assert d.runs == 1


def test_experiment_error_is_shown_and_last_good_result_kept():
    d = dashboard(Recorder(), {"n": (1, 9), "fail": False})
    good_result, good_figure, good_image = d.result, d.figure, d.image.data
    d.set(fail=True)
    assert d.runs == 2
    assert d.error == "RuntimeError: boom: bad combination"
    assert "boom: bad combination" in d.status.value
    assert d.result is good_result and d.figure is good_figure
    assert d.image.data == good_image
    d.set(fail=False, n=3)
    assert d.error is None and d.result.max == 3_000
    assert "ran" in d.status.value


def test_plot_error_is_shown_and_dashboard_keeps_working():
    def plot(result, fig):
        if result.max > 5_000:
            raise ValueError("cannot draw that")
        no_plot(result, fig)

    d = dashboard(Recorder(), {"n": (1, 9)}, plot=plot)
    first = d.figure
    d.set(n=9)
    assert d.error == "ValueError: cannot draw that" and d.figure is first
    d.set(n=1)
    assert d.error is None and d.figure is not first


def test_default_plot_draws_a_latency_panel_of_dot_latency():
    def exp(n):
        h = LatencyHistogram()
        h.record_many(range(1_000, 1_000 + n))
        return Run(latency=h, throughput=1e6)

    d = dashboard(exp, {"n": (10, 100)})
    assert isinstance(d.result, Run)
    assert isinstance(d.figure, Figure)
    titles = [ax.get_title() for ax in d.figure.axes]
    assert titles == ["distribution", "percentile spectrum", "CDF"]
    assert d.image.data.startswith(b"\x89PNG")


def test_default_plot_needs_histograms_and_says_to_pass_plot():
    with pytest.raises(ConfigError, match=r"no default plot for a dict result: pass plot="):
        dashboard(lambda n: {"n": n}, {"n": (1, 3)})


def test_custom_plot_receives_result_and_a_figure():
    seen = []
    d = dashboard(lambda k: k * 2, {"k": (1, 5)}, plot=lambda r, fig: seen.append((r, fig)))
    assert seen == [(6, d.figure)]


def test_run_now_false_waits_for_the_first_change():
    exp = Recorder()
    d = dashboard(exp, {"n": (1, 9)}, run_now=False, plot=no_plot)
    assert d.runs == 0 and d.result is None and d.figure is None and d.image is None
    d.rerun()
    assert d.runs == 1 and d.result is not None


def test_no_figure_leaks_after_many_reruns():
    def leaky_plot(result, fig):
        plt.figure()  # a careless plot function using pyplot state
        no_plot(result, fig)

    before = plt.get_fignums()
    d = dashboard(Recorder(), {"n": (1, 9)})
    d2 = dashboard(Recorder(), {"n": (1, 9)}, plot=leaky_plot)
    for n in range(1, 5):
        d.set(n=n)
        d2.set(n=n)
    assert d.runs == d2.runs == 5
    assert plt.get_fignums() == before


def test_status_shows_what_ran_and_how_long_it_took():
    d = dashboard(Recorder(), {"n": (1, 9)}, clock=VirtualClock(), title="queues", plot=no_plot)
    assert d.status.value == "ran <code>n=5</code> in 0 ns"
    assert isinstance(d.box.children[0], w.HTML) and "queues" in d.box.children[0].value


def test_display_outside_a_notebook_does_not_crash():
    d = dashboard(Recorder(), {"n": (1, 9)}, plot=no_plot)
    assert d.handle is None
    d._ipython_display_()
    assert d.handle is not None
    d.set(n=2)  # updates the (printed) output without a frontend
    assert repr(d) == "Dashboard(n=2; runs=2)"


@pytest.mark.usefixtures("shell")
def test_display_shows_controls_then_a_png_updated_in_place():
    d = dashboard(Recorder(), {"n": (1, 9)})
    with capture_output() as captured:
        display(d)
        d.set(n=3)
    widget_out, image_out, update_out = captured.outputs
    assert "application/vnd.jupyter.widget-view+json" in widget_out.data
    assert "image/png" in image_out.data and not image_out.update
    display_id = image_out.transient["display_id"]
    assert display_id == d.handle.display_id
    assert update_out.update and update_out.transient["display_id"] == display_id
    assert update_out.data["image/png"] != image_out.data["image/png"]


def test_dashboard_class_is_what_dashboard_returns():
    assert isinstance(dashboard(Recorder(), {"n": (1, 3)}, plot=no_plot), Dashboard)


def test_non_callable_experiment_and_bad_params_are_rejected():
    with pytest.raises(ConfigError, match="experiment must be callable"):
        dashboard(42, {})
    with pytest.raises(ConfigError, match="params must be a mapping"):
        dashboard(Recorder(), [("n", (1, 2))])


def test_status_shows_floats_as_the_slider_does():
    d = dashboard(
        lambda x: x, {"x": Param(1.0, 1000.0, log=True)}, plot=no_plot, clock=VirtualClock()
    )
    assert d.status.value == "ran <code>x=31.62</code> in 0 ns"


def test_a_log_step_in_decades_keeps_a_whole_number_range_whole():
    # step counts decades (log10(2) = powers of two), so it is a float; the values stay ints
    control = widgets._make_control("batch_size", Param(1, 512, step=0.30103, default=64, log=True))
    assert isinstance(control, w.SelectionSlider)
    assert control.options == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    assert all(isinstance(v, int) for v in control.options) and control.value == 64
