"""One confirmation run reads several users at once, each in its own call with that user's token.

A TransactionTestCase: the reads run in threads, each on its own database
connection, which sees only committed rows (SQLite and PostgreSQL alike).
Canvas is mocked at HTTP (`responses`, which answers every thread).
"""

import json
import threading
import uuid
from datetime import timedelta

import responses
from django.test import TransactionTestCase, override_settings
from django.utils import timezone
from responses import matchers

from notes import tasks
from notes.models import NoteActionAttempt
from observability.context import user_id_var
from tests.factories import make_attempt, make_connection, make_user
from tests.helpers import API, SETTINGS, ensure_groups
from tests.notes.test_confirmation import queued


@override_settings(**SETTINGS, NOTES_CONFIRM_SECONDS=30)
class ConcurrentReadsTests(TransactionTestCase):
    def setUp(self):
        ensure_groups()
        self.now = timezone.now()
        self.users = {}
        self.attempts = {}
        for name in ("ana", "ben", "cy", "dee"):
            user = make_user(name, groups=("Providers",))
            make_connection(user)  # token at-<name>, staff id staff-<name>
            self.users[name] = user
            self.attempts[name] = make_attempt(
                user,
                canvas_staff_id=f"staff-{name}",
                note_id=uuid.uuid4(),
                action="sign",
                expected_state="SGN",
                accepted_at=self.now - timedelta(seconds=1),
                started_at=self.now - timedelta(seconds=1),
                request_id=f"req-{name}",
            )
        # Another run holds dee's read (its lease runs on).
        self.dee_lease = self.now + timedelta(seconds=50)
        NoteActionAttempt.objects.filter(pk=self.attempts["dee"].pk).update(
            next_check_at=self.dee_lease
        )
        self.seen: dict[str, int | None] = {}  # token -> the log context's user id

    def read_of(self, name, *, state, barrier):
        """Answer `name`'s batched read once every read in `barrier` is in flight."""
        attempt = self.attempts[name]

        def answer(request):
            self.seen[request.headers["Authorization"]] = user_id_var.get()
            barrier.wait()  # raises (and the read fails) unless the reads overlap
            at = (self.now - timedelta(milliseconds=500)).isoformat()
            body = {"code": state, "label": state, "changed_at": at, "changed_by": f"staff-{name}"}
            note = {"state": body, "allowed_actions": [], "history": []}
            notes = {str(attempt.note_id): note}
            return 200, {}, json.dumps({"notes": notes, "as_of": self.now.isoformat()})

        header = {"Authorization": f"Bearer at-{name}"}
        return answer, [matchers.header_matcher(header)]

    def test_one_run_reads_the_due_users_at_once_each_with_its_token(self):
        barrier = threading.Barrier(3, timeout=10)
        with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
            for name, state in (("ana", "SGN"), ("ben", "SGN"), ("cy", "LKD")):
                answer, match = self.read_of(name, state=state, barrier=barrier)
                rsps.add_callback("GET", f"{API}notes/history", callback=answer, match=match)
            outcome = tasks.attempt_confirm.call(
                self.attempts["ana"].pk, user_id=self.users["ana"].pk, request_id="req-ana"
            )
            self.assertEqual(len(rsps.calls), 3)  # one call per user, dee's never made
        self.assertEqual(outcome, "confirmed")
        rows = {a.user.username: a for a in NoteActionAttempt.objects.select_related("user")}
        self.assertEqual(
            {name: row.outcome for name, row in rows.items()},
            {"ana": "confirmed", "ben": "confirmed", "cy": "accepted", "dee": "accepted"},
        )
        # Each read logged as the user it read for.
        self.assertEqual(
            self.seen, {f"Bearer at-{n}": self.users[n].pk for n in ("ana", "ben", "cy")}
        )
        # Cy's next read is queued as today; dee's read stays with the run that holds it.
        self.assertEqual(queued(), [(rows["cy"].pk, rows["cy"].next_check_at)])
        self.assertLess(rows["cy"].next_check_at, self.now + timedelta(seconds=6))
        self.assertEqual(rows["dee"].next_check_at, self.dee_lease)

    @override_settings(NOTES_CONFIRM_CONCURRENCY=2)
    def test_at_most_the_concurrency_and_the_longest_due_first(self):
        # Cy's read has been due longest (ben's first read is due since his answer).
        NoteActionAttempt.objects.filter(pk=self.attempts["cy"].pk).update(
            next_check_at=self.now - timedelta(seconds=3)
        )
        barrier = threading.Barrier(2, timeout=10)
        with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
            for name in ("ana", "cy"):
                answer, match = self.read_of(name, state="SGN", barrier=barrier)
                rsps.add_callback("GET", f"{API}notes/history", callback=answer, match=match)
            tasks.attempt_confirm.call(self.attempts["ana"].pk)
        outcomes = dict(NoteActionAttempt.objects.values_list("user__username", "outcome"))
        self.assertEqual(
            outcomes, {"ana": "confirmed", "ben": "accepted", "cy": "confirmed", "dee": "accepted"}
        )
        # Ben, not read, is still due for his own queued run.
        self.assertIsNone(NoteActionAttempt.objects.get(pk=self.attempts["ben"].pk).next_check_at)
