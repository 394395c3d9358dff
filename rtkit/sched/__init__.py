"""Real-time scheduling: task model, policies, simulator, analysis, partitioning, executor.

Seed 002's ``RealTimeScheduler`` names EDF, rate monotonic, fixed priority
and proportional share and implements none of them (S002-39..43). This
package is the real thing, as a real-time systems course teaches it, and
lesson 06 (``notebooks/06_realtime_scheduling.ipynb``) is built on it.

Modules:

* ``model.py``: :class:`Task` (C, T, D, phase, priority, weight, sporadic),
  :class:`Aperiodic` jobs, :func:`utilisation`, :func:`hyperperiod`.
* ``policies.py``: EDF, RM, DM, FP, LLF, stride and lottery, as ordering keys.
* ``simulator.py``: :func:`simulate` -> :class:`Schedule` (``schedule.py``);
  a readable event-driven simulator (``_simref.py``, about 25,000 jobs/s:
  global, LLF, stride, lottery) and a compiled one for EDF/RM/DM/FP on one cpu
  or partitioned (``_simcore.py``, millions of jobs/s), held to identical
  schedules by tests.
* ``analysis.py``: Liu-Layland, hyperbolic, EDF utilisation, response-time
  analysis (blocking, jitter), processor demand (QPA).
* ``partition.py``: first/best/worst-fit decreasing onto several processors.
* ``generators.py``: UUniFast, RandFixedSum, log-uniform periods.
* ``executor.py``: :class:`Executor` runs Python callables as periodic tasks
  on the wall clock and measures what really happens.
* :func:`rtkit.viz.plot_gantt` draws a :class:`Schedule`.

Time is an integer number of abstract units throughout (DESIGN convention 1
asks for nanoseconds where real time is read: the executor uses ns).

Worked example: two tasks that EDF schedules and RM does not
(U = 2/5 + 4/7 = 0.971, above the Liu-Layland bound of 0.828 for two tasks):

    >>> from rtkit.sched import Task, simulate, liu_layland_test
    >>> from rtkit.sched import response_time_analysis, processor_demand_test
    >>> tasks = [Task("t1", wcet=2, period=5), Task("t2", wcet=4, period=7)]
    >>> liu_layland_test(tasks).verdict
    'inconclusive'
    >>> rta = response_time_analysis(tasks, "rm")
    >>> rta["t2"].steps, rta["t2"].response_time, rta.schedulable
    ((6, 8, 8), 8, False)
    >>> processor_demand_test(tasks).schedulable
    True
    >>> rm, edf = simulate(tasks, "rm"), simulate(tasks, "edf")
    >>> rm.misses, edf.misses, len(edf.jobs)
    (1, 0, 12)
    >>> print(rm.gantt_text(width=14))
    t1 |##   ##   ##  |
    t2 |  ###  !##  ##|
    >>> job = rm.job_list()[1]
    >>> job.task, job.release, job.deadline, job.finish, job.missed, job.preemptions
    ('t2', 0, 7, 8, True, 1)
    >>> rm.segments[:3].tolist()   # (cpu, task, job row, start, end)
    [(0, 0, 0, 0, 2), (0, 1, 1, 2, 5), (0, 0, 2, 5, 7)]

Proportional share and several processors:

    >>> shares = [Task("a", 6, 10, weight=3), Task("b", 6, 10, weight=1)]
    >>> s = simulate(shares, "stride", horizon=8)
    >>> [st.name + ":" + str(int(s.jobs["executed"][s.jobs["task"] == i].sum()))
    ...  for i, st in enumerate(s.task_stats)]
    ['a:6', 'b:2']
    >>> simulate([Task("x", 1, 2), Task("y", 1, 2), Task("z", 3, 4)], "edf", cpus=2).misses
    0
"""

from __future__ import annotations

from rtkit.sched.analysis import (
    BoundTest,
    DemandTest,
    ResponseTime,
    RTAResult,
    busy_period,
    demand_bound,
    edf_utilisation_test,
    hyperbolic_test,
    liu_layland_bound,
    liu_layland_test,
    processor_demand_test,
    response_time_analysis,
)
from rtkit.sched.executor import Executor, ExecutorStats, PeriodicCallable, TaskReport
from rtkit.sched.generators import log_uniform_periods, randfixedsum, random_taskset, uunifast
from rtkit.sched.model import Aperiodic, Job, Segment, Task, TaskStats, hyperperiod, utilisation
from rtkit.sched.partition import Partition, fits, partition
from rtkit.sched.policies import INF, POLICIES, priority_order
from rtkit.sched.schedule import JOB_DTYPE, SEGMENT_DTYPE, Schedule, ScheduleStats
from rtkit.sched.simulator import default_horizon, simulate

__all__ = [
    "INF",
    "JOB_DTYPE",
    "POLICIES",
    "SEGMENT_DTYPE",
    "Aperiodic",
    "BoundTest",
    "DemandTest",
    "Executor",
    "ExecutorStats",
    "Job",
    "Partition",
    "PeriodicCallable",
    "RTAResult",
    "ResponseTime",
    "Schedule",
    "ScheduleStats",
    "Segment",
    "Task",
    "TaskReport",
    "TaskStats",
    "busy_period",
    "default_horizon",
    "demand_bound",
    "edf_utilisation_test",
    "fits",
    "hyperbolic_test",
    "hyperperiod",
    "liu_layland_bound",
    "liu_layland_test",
    "log_uniform_periods",
    "partition",
    "priority_order",
    "processor_demand_test",
    "randfixedsum",
    "random_taskset",
    "response_time_analysis",
    "simulate",
    "utilisation",
    "uunifast",
]
