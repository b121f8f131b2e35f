"""The request id and user id every log line of a request, or of a task, carries.

Set once where the work starts (the portal's middleware for a request,
`log_context` around a task's body) and read by the log filter; contextvars
keep each thread's and each task's own.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "portal_request_id", default=None
)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "portal_user_id", default=None
)


@contextmanager
def log_context(*, request_id: str | None = None, user_id: int | None = None) -> Iterator[None]:
    """Tag every log line written inside the block with `request_id` and `user_id`."""
    tokens = [request_id_var.set(request_id), user_id_var.set(user_id)]
    try:
        yield
    finally:
        user_id_var.reset(tokens[1])
        request_id_var.reset(tokens[0])


def log_context_user_set(*, user_id: int | None) -> None:
    """Set the user id for the rest of the current context (once the user is known)."""
    user_id_var.set(user_id)


class LogContextFilter(logging.Filter):
    """Add `request_id` and `user_id` (None outside a request or task) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Tag the record; never drop it."""
        record.request_id = request_id_var.get()
        record.user_id = user_id_var.get()
        return True
