"""Running calls at once: the only module of the notes app that starts threads.

For work that waits on Canvas (a bulk run's sends and reads, a confirmation
run's reads of several users). Each call runs in its own thread, in a copy
of the caller's context (so its log lines carry the caller's request and
user id unless the call sets its own), and closes that thread's database
connections when done: each thread opens its own, so the database must
allow the process that many.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def calls_run(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls at once, one thread each; return their results in order.

    A single call runs inline, in the caller's thread (and its database
    connection and transaction). A call's exception is raised here once
    every call has ended.
    """
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(contextvars.copy_context().run, _in_thread, call) for call in calls]
    return [future.result() for future in futures]


def _in_thread(call: Callable[[], T]) -> T:
    try:
        return call()
    finally:
        connections.close_all()  # this thread's own database connections
