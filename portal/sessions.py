"""The session store: Django's database sessions, each request's read in plain SQL.

Sessions stay in the database (revocable, shared by every process); only
the read every signed-in request makes skips building the ORM query, which
cost about a tenth of a note action's CPU. Writes are Django's.
"""

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self) -> dict:
        data = self._session_data_read()
        if data is None:
            self._session_key = None  # as Django's: a missing or expired session starts anew
            return {}
        return self.decode(data)

    def _session_data_read(self) -> str | None:
        """Return the stored, unexpired session's encoded data, or None."""
        if not self.session_key:
            return None
        model = self.model._meta
        connection = connections[router.db_for_read(self.model)]
        quote = connection.ops.quote_name
        sql = (
            f"SELECT {quote('session_data')} FROM {quote(model.db_table)}"  # noqa: S608 (metadata)
            f" WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        return row[0] if row else None
