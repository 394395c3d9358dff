"""The exercise catalog: every exercise, its hints and its public tests, in one place.

Exercises are authored once. The catalog (here, in the package) says what
each exercise asks for; the solution notebook in ``solutions/`` holds the
reference answer between ``### BEGIN SOLUTION`` / ``### END SOLUTION``
markers; ``rtkit author build`` turns it into the learner's notebook in
``exercises/``. Public tests live here so that learners' ``check(...)``, the
``rtkit check`` progress report and the instructor's grader all run the same
code, whatever a learner does to the cells of their notebook. Hidden tests
stay with the instructor (``instructor/hidden_tests/``) and are never shipped
in ``exercises/``.

A test is a plain function that takes the learner's object (the function or
class named by :attr:`Exercise.target`) and raises :class:`AssertionError`
with a message that helps without giving the answer away: it says what was
called and what kind of result was wrong, not which value was expected.

Example:
    >>> from rtkit.grading import catalog
    >>> ex = catalog.get("01.batch-latency")
    >>> ex.target, ex.difficulty
    ('per_event_latencies', 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rtkit.errors import ConfigError

__all__ = ["Exercise", "PublicTest", "all_exercises", "get", "register", "test"]

TestFunction = Callable[[object], None]


@dataclass(frozen=True)
class PublicTest:
    """One check of a learner's answer: a name a learner can read, and the test."""

    name: str
    run: TestFunction
    points: int = 1


@dataclass(frozen=True)
class Exercise:
    """What one exercise asks for.

    ``id`` is ``"<lesson>.<slug>"`` (e.g. ``"01.batch-latency"``); exercises
    of a lesson are ordered by ``difficulty`` (1 easy .. 3 hard), then id.
    """

    id: str
    lesson: str
    title: str
    difficulty: int
    target: str  # name of the function or class the learner defines
    hints: tuple[str, ...]
    tests: tuple[PublicTest, ...] = field(default=())
    seed_ids: tuple[str, ...] = ()  # SEED_NOTES defects the exercise is about

    @property
    def max_points(self) -> int:
        """Points for the public tests alone (the grader adds hidden ones)."""
        return sum(t.points for t in self.tests)


_CATALOG: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to the catalog; ids are unique."""
    if exercise.id in _CATALOG:
        raise ConfigError(f"exercise id {exercise.id!r} is already registered")
    lesson, _, slug = exercise.id.partition(".")
    if not slug or lesson != exercise.lesson:
        raise ConfigError(f"exercise id must be '<lesson>.<slug>', got {exercise.id!r}")
    if not 1 <= exercise.difficulty <= 3:
        raise ConfigError(f"difficulty must be 1..3, got {exercise.difficulty}")
    if not exercise.hints or not exercise.tests:
        raise ConfigError(f"exercise {exercise.id!r} needs at least one hint and one test")
    _CATALOG[exercise.id] = exercise
    return exercise


def test(name: str, points: int = 1) -> Callable[[TestFunction], PublicTest]:
    """Decorator: turn a function of the learner's object into a :class:`PublicTest`.

    Example:
        >>> @test("returns an int")
        ... def returns_int(f):
        ...     assert isinstance(f(), int), "f() should return an int"
        >>> returns_int.name
        'returns an int'
    """

    def wrap(fn: TestFunction) -> PublicTest:
        return PublicTest(name=name, run=fn, points=points)

    return wrap


test.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported


def _load() -> None:
    # The exercise modules (``rtkit/grading/exNN.py``, one per lesson) register
    # themselves on import; discovering them keeps this module closed to edits.
    import importlib
    import pkgutil

    import rtkit.grading as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("ex") and info.name[2:].isdigit():
            importlib.import_module(f"rtkit.grading.{info.name}")


def get(exercise_id: str) -> Exercise:
    """The exercise with this id, or a :class:`~rtkit.errors.ConfigError` listing known ids."""
    _load()
    try:
        return _CATALOG[exercise_id]
    except KeyError:
        known = ", ".join(sorted(_CATALOG))
        raise ConfigError(f"unknown exercise {exercise_id!r}; known exercises: {known}") from None


def all_exercises(lesson: str | None = None) -> list[Exercise]:
    """Every exercise (of ``lesson``, if given), ordered by lesson, difficulty, id."""
    _load()
    chosen: Iterable[Exercise] = _CATALOG.values()
    if lesson is not None:
        chosen = [e for e in chosen if e.lesson == lesson]
    return sorted(chosen, key=lambda e: (e.lesson, e.difficulty, e.id))
