"""Logging filters shared by the portal's handlers."""

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
