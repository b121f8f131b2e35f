"""Late landings: an action recorded not applied that Canvas shows later becomes applied late."""

from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

from django.core.management import call_command

from notes import late
from notes.admin import attempts_csv_rows
from notes.models import NoteActionAttempt
from tests.factories import PASSWORD
from tests.helpers import API, summary
from tests.notes.test_confirmation import ACCEPTED_AT, ME, ConfirmationTestCase, entry

LANDED_AT = ACCEPTED_AT + timedelta(seconds=45)  # past the 30 s window


class LateLandingTests(ConfirmationTestCase):
    def not_applied(self, **extra):
        return self.attempt(outcome="not_applied", resolved_at=self.now, note_state="LKD",
                            note_actions="sign", **extra)  # fmt: skip

    def test_the_sweep_finds_it_once_and_keeps_both_times(self):
        attempt = self.not_applied()
        self.note_read("SGN", ["unlock"], at=LANDED_AT, history=[entry("SGN", at=LANDED_AT)],
                       since=ACCEPTED_AT)  # fmt: skip
        out = StringIO()
        call_command("confirm_note_actions", stdout=out)
        self.assertIn("applied late 1", out.getvalue())
        attempt.refresh_from_db()
        self.assertEqual(attempt.outcome, "applied_late")
        self.assertEqual(attempt.applied_at, LANDED_AT)  # the time Canvas shows
        self.assertEqual(attempt.resolved_at, self.now)  # when it was recorded not applied
        self.assertIsNotNone(attempt.late_found_at)
        self.assertEqual((attempt.note_state, attempt.note_action_list), ("SGN", ["unlock"]))
        # Never again: it is no longer not applied, and nothing more is read for it.
        calls = len(self.rsps.calls)
        self.assertEqual(late.attempts_find_late(), 0)
        self.assertEqual(len(self.rsps.calls), calls)

    def test_a_change_by_someone_else_is_not_a_late_landing(self):
        attempt = self.not_applied()
        self.note_read("SGN", at=LANDED_AT, by="s-other",
                       history=[entry("SGN", at=LANDED_AT, by="s-other")])  # fmt: skip
        self.assertEqual(late.attempts_find_late(), 0)
        attempt.refresh_from_db()
        self.assertEqual(attempt.outcome, "not_applied")

    def test_the_worker_and_the_page_never_both_record_it(self):
        attempt = self.not_applied()
        page_copy = NoteActionAttempt.objects.get(pk=attempt.pk)
        note = summary(self.note_id, state="SGN", allowed=["unlock"])
        note["state"].update(changed_at=LANDED_AT, changed_by=ME)
        self.note_read("SGN", at=LANDED_AT, history=[entry("SGN", at=LANDED_AT)])
        self.assertEqual(late.attempts_find_late(), 1)  # the worker first
        self.assertFalse(late.attempt_late_from_note(attempt=page_copy, note=note))
        found_at = NoteActionAttempt.objects.get(pk=attempt.pk).late_found_at
        # And the other way round: the page first, the worker finds nothing to do.
        second = self.not_applied(action="lock", expected="LKD")
        worker_copy = NoteActionAttempt.objects.get(pk=second.pk)
        locked = summary(self.note_id, state="LKD")
        locked["state"].update(changed_at=LANDED_AT, changed_by=ME)
        self.assertTrue(late.attempt_late_from_note(attempt=second, note=locked))
        landed = {"at": LANDED_AT}
        self.assertFalse(late.attempt_late_record(attempt=worker_copy, entry=landed))
        self.assertEqual(NoteActionAttempt.objects.get(pk=attempt.pk).late_found_at, found_at)
        self.assertEqual(NoteActionAttempt.objects.filter(outcome="applied_late").count(), 2)

    def test_the_worklist_read_finds_it_and_redraws_the_row(self):
        attempt = self.not_applied()
        note = summary(self.note_id, state="SGN", allowed=["unlock"])
        note["state"].update(changed_at=LANDED_AT.isoformat(), changed_by=ME)
        self.rsps.get(API + "notes", json={"notes": [note], "next_cursor": None})
        self.client.login(username="provider", password=PASSWORD)
        page = self.client.get("/notes/?tab=all")
        self.assertContains(page, "Canvas applied it after the portal had stopped checking.")
        self.assertNotContains(page, "Canvas did not apply")
        attempt.refresh_from_db()
        self.assertEqual((attempt.outcome, attempt.applied_at), ("applied_late", LANDED_AT))
        # My activity and the CSV say so, with both times.
        self.assertContains(self.client.get("/notes/activity/"), "Applied late by Canvas")
        lines = list(attempts_csv_rows(NoteActionAttempt.objects.all(), zone=ZoneInfo("UTC")))
        self.assertIn("late_found_at (UTC)", lines[0])
        self.assertIn("applied_late", lines[1])
        self.assertIn(LANDED_AT.isoformat(), lines[1])
