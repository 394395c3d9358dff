"""Exercises and grading: the catalog, learners' ``check``/``hint``, authoring, the grader.

In an exercise notebook::

    from rtkit.grading import check, hint
    check("01.batch-latency")   # run the public tests on your answer
    hint("01.batch-latency")    # the next hint, one level deeper each call

Instructors use ``rtkit grade`` and ``rtkit author build`` (see
``instructor/README.md``).
"""

from __future__ import annotations

from rtkit.grading.learner import check, hint, reset_hints, run_check, run_tests

__all__ = ["check", "hint", "reset_hints", "run_check", "run_tests"]
