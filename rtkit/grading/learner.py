"""What a learner calls in an exercise notebook: ``check(...)`` and ``hint(...)``.

``check("01.batch-latency")`` finds the function or class the exercise asks
for among the notebook's definitions and runs the exercise's *public* tests
on it, printing each as passed or failed. It reports "public tests passed",
never "correct": the instructor's grader also runs hidden tests, and passing
a handful of examples is evidence, not proof.

``hint("01.batch-latency")`` shows the next of the exercise's tiered hints
each time it is called: first a nudge, last nearly the method.

:func:`run_tests` is the one place tests are run, used by ``check``, by
``rtkit check`` and by the instructor's grader alike, so all three agree on
what passing means.

Example:
    >>> def per_event_latencies(arrival_ns, batch_start_ns, service_ns):
    ...     raise NotImplementedError
    >>> report = run_check("01.batch-latency", {"per_event_latencies": per_event_latencies})
    >>> report.passed, report.outcomes[0].message
    (0, 'not implemented yet')
"""

from __future__ import annotations

import inspect
import signal
import threading
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rtkit.grading import catalog
from rtkit.grading.catalog import Exercise, PublicTest

__all__ = [
    "CheckReport",
    "TestOutcome",
    "check",
    "hint",
    "reset_hints",
    "run_check",
    "run_tests",
]

MISSING = object()  # the target is not defined in the notebook

#: How long ``check`` lets one public test run: generous for any right answer,
#: short enough that an endless loop ends with a message instead of a hung cell.
CHECK_TEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TestOutcome:
    """The result of one test on one learner's answer."""

    exercise: str
    test: str
    points: int
    passed: bool
    message: str  # why it failed, in words safe to show the learner; "" when passed
    hidden: bool = False

    __test__ = False  # a record, not a pytest test class


class _TestTimeout(BaseException):
    """Raised inside a test that ran past its time budget.

    A BaseException, so that an answer's ``except Exception: pass`` cannot
    swallow it and run on.
    """


@contextmanager
def _time_limit(seconds: float | None):
    """Interrupt the block after ``seconds`` (main thread only; elsewhere no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _TestTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _outcome_of(test: PublicTest, target: object, timeout: float | None) -> tuple[bool, str]:
    try:
        with _time_limit(timeout):
            test.run(target)
    except _TestTimeout:
        return False, f"did not finish within {timeout:g} s (an endless loop?)"
    except NotImplementedError:
        return False, "not implemented yet"
    except AssertionError as exc:
        return False, str(exc) or "a check failed"
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the learner's code may raise anything, SystemExit too
        return False, f"raised {type(exc).__name__}: {exc}"
    return True, ""


def run_tests(
    exercise: Exercise,
    target: object,
    tests: Sequence[PublicTest],
    per_test_timeout: float | None = None,
    hidden: bool = False,
) -> list[TestOutcome]:
    """Run ``tests`` on ``target`` (the learner's object, or :data:`MISSING`).

    Never raises for anything the learner's code does (except
    KeyboardInterrupt, so that a learner can stop a runaway check).
    """
    outcomes = []
    for test in tests:
        if target is MISSING:
            passed, message = False, f"`{exercise.target}` is not defined in this notebook"
        else:
            passed, message = _outcome_of(test, target, per_test_timeout)
        outcomes.append(TestOutcome(exercise.id, test.name, test.points, passed, message, hidden))
    return outcomes


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found: one outcome per public test."""

    exercise: Exercise
    outcomes: tuple[TestOutcome, ...]

    @property
    def passed(self) -> int:
        """Number of public tests passed."""
        return sum(o.passed for o in self.outcomes)

    @property
    def total(self) -> int:
        """Number of public tests."""
        return len(self.outcomes)

    @property
    def not_started(self) -> bool:
        """True when the answer is still the stub (or not defined at all)."""
        starts = ("not implemented yet", f"`{self.exercise.target}` is not defined")
        return all(o.message.startswith(starts) for o in self.outcomes)

    def text(self) -> str:
        """The report as a learner reads it."""
        lines = [f"{self.exercise.id}: {self.exercise.title}"]
        if self.not_started:
            lines.append(f"  not started yet: write `{self.exercise.target}` in its answer cell.")
            lines.append(f"  Its {self.total} public tests check that:")
            lines += [f"    · {o.test}" for o in self.outcomes]
            lines.append(f"0/{self.total} public tests passed: not started yet.")
            return "\n".join(lines)
        for o in self.outcomes:
            lines.append(f"  {'✓' if o.passed else '✗'} {o.test}" + ("" if o.passed else ":"))
            if not o.passed:
                lines.append(f"      {o.message}")
        if self.passed == self.total:
            lines.append(
                f"{self.passed}/{self.total} public tests passed. "
                "(The instructor's grader runs hidden tests too.)"
            )
        else:
            lines.append(
                f"{self.passed}/{self.total} public tests passed. "
                f'Stuck? hint("{self.exercise.id}") shows a hint.'
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def run_check(exercise_id: str, namespace: Mapping[str, object]) -> CheckReport:
    """Run the public tests of ``exercise_id`` on ``namespace[target]``; print nothing."""
    exercise = catalog.get(exercise_id)
    target = namespace.get(exercise.target, MISSING)
    outcomes = run_tests(exercise, target, exercise.tests, per_test_timeout=CHECK_TEST_TIMEOUT_S)
    return CheckReport(exercise, tuple(outcomes))


def check(exercise_id: str, namespace: Mapping[str, object] | None = None) -> None:
    """Run an exercise's public tests on your answer and print what passed.

    Looks for the exercise's function or class among the calling notebook's
    (or module's) global names, unless ``namespace`` is given.

    Example:
        >>> def per_event_latencies(arrival_ns, batch_start_ns, service_ns):
        ...     raise NotImplementedError
        >>> check("01.batch-latency")   # doctest: +ELLIPSIS
        01.batch-latency: Latency per event, not per batch
          not started yet: write `per_event_latencies` in its answer cell.
          Its ... public tests check that:
            · returns one latency per event
        ...
        0/... public tests passed: not started yet.
    """
    if namespace is None:
        caller = inspect.currentframe()
        namespace = caller.f_back.f_globals if caller and caller.f_back else {}
    print(run_check(exercise_id, namespace).text())


_hints_shown: dict[str, int] = {}


def hint(exercise_id: str) -> None:
    """Print the next hint for an exercise; each call goes one level deeper.

    Example:
        >>> reset_hints()
        >>> hint("01.batch-latency")   # doctest: +ELLIPSIS
        Hint 1 of ...
    """
    exercise = catalog.get(exercise_id)
    shown = _hints_shown.get(exercise_id, 0)
    level = min(shown + 1, len(exercise.hints))
    _hints_shown[exercise_id] = level
    text = f"Hint {level} of {len(exercise.hints)} ({exercise.id}): {exercise.hints[level - 1]}"
    if shown >= len(exercise.hints):
        text += "\n(That was the last hint. The lesson's section on this is the next stop.)"
    print(text)


def reset_hints(exercise_id: str | None = None) -> None:
    """Start the hints of one exercise (or of all) from the first again."""
    if exercise_id is None:
        _hints_shown.clear()
    else:
        _hints_shown.pop(exercise_id, None)
