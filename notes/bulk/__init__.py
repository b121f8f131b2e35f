"""Close my day: sign many notes in one run, on the worker. Importing the package starts nothing.

- `planning`: which notes a run takes and the action for each (reads Canvas).
- `runs`: start, cancel and resume runs (writes the run rows, enqueues the task).
- `executor`: carries out a run's items; the only module that starts threads.
- `progress`: where a run's items stand (database reads only).

Only `Progress` is exported here (the progress panel's view model), so that
importing the package loads neither Canvas calls nor threads.
"""

from notes.bulk.progress import Progress

__all__ = ["Progress"]
