"""Logging filters and formatters shared by the portal's handlers: no query string, ever."""

import datetime
import json
import logging
import re

_QUERY = re.compile(r"\?[^\s\"']*")


class StripQueryStringFilter(logging.Filter):
    """Remove query strings from request lines before they are written.

    `runserver` and other servers log the full request line; on
    `/canvas/callback/` that line carries the authorization code and state.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without query strings; never drop it."""
        message = record.getMessage()
        if "?" in message:
            record.msg = _QUERY.sub("?[redacted]", message)
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """Write a record as one JSON object on one line (`DJANGO_LOG_FORMAT=json`).

    Fields: time (UTC, ISO 8601), level, logger, message, request_id and
    user_id (from `observability.context.LogContextFilter`, None outside a
    request or task), status_code when Django's request loggers give one,
    and exception (the formatted traceback) when there is one. Nothing else
    of the record's extras is written: Django's `request` extra would bring
    the query string back.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
        }
        status_code = getattr(record, "status_code", None)
        if isinstance(status_code, int):
            entry["status_code"] = status_code
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
