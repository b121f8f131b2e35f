"""Confirming accepted actions: the history check, the task, the resolver, the page that follows.

Canvas is mocked at HTTP (`responses`); the clock of notes.confirmation is
moved with its `_now` seam to pass the deadline.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from unittest import mock

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from responses import matchers

from notes import confirmation, tasks
from notes.models import NoteActionAttempt
from tests.factories import PASSWORD, make_attempt, make_connection, make_user
from tests.helpers import API, SETTINGS, CanvasMockMixin, ensure_groups, error, summary

HTMX = {"HTTP_HX_REQUEST": "true"}
ME = "s-77"
ACCEPTED_AT = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


def entry(state, *, by=ME, at=ACCEPTED_AT + timedelta(milliseconds=300)):
    return {"state": state, "at": at.isoformat(), "by": by}


def queued():
    """Return (attempt id, run_after) of each confirm task in the queue, oldest first."""
    return [
        (row.args_kwargs["args"][0], row.run_after)
        for row in DBTaskResult.objects.order_by("enqueued_at")
        if row.task_path == "notes.tasks.attempt_confirm"
    ]


@override_settings(**SETTINGS, NOTES_CONFIRM_SECONDS=30)
class ConfirmationTestCase(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-1", refresh_token="rt-1", staff_id=ME)

    def setUp(self):
        super().setUp()
        self.note_id = uuid.uuid4()
        self.now = timezone.now()

    def attempt(self, *, outcome="accepted", action="sign", expected="SGN", accepted_at=ACCEPTED_AT,
                started_at=None, **extra):  # fmt: skip
        started = started_at or self.now
        return make_attempt(
            self.provider,
            canvas_staff_id=ME,
            note_id=self.note_id,
            action=action,
            outcome=outcome,
            upstream_status=202 if outcome == "accepted" else None,
            expected_state=expected,
            accepted_at=accepted_at,
            started_at=started,
            finished_at=started + timedelta(milliseconds=80),
            **extra,
        )

    def note_read(self, state, allowed=(), *, by=ME, at=ACCEPTED_AT + timedelta(milliseconds=300),
                  history=(), since=None, absent=False):  # fmt: skip
        """Mock one batched read (GET /notes/history) of the note.

        Its state carries the last change (when, by whom); `history` holds
        the entries since the oldest acceptance read for.
        """
        body = summary(self.note_id, state=state, allowed=allowed)
        state_body = {**body["state"], "changed_at": at.isoformat(), "changed_by": by}
        note = {"state": state_body, "allowed_actions": list(allowed), "history": list(history)}
        match = [matchers.header_matcher({"Authorization": "Bearer at-1"})]
        if since is not None:
            params = {"ids": str(self.note_id), "since": since.isoformat()}
            match.append(matchers.query_param_matcher(params))
        notes = {} if absent else {str(self.note_id): note}
        return self.rsps.get(
            f"{API}notes/history", json={"notes": notes, "as_of": self.now.isoformat()}, match=match
        )

    def check(self, attempt, *, at=None):
        with mock.patch.object(confirmation, "_now", return_value=at or self.now):
            return confirmation.attempt_check(attempt_id=attempt.pk)


class AttemptCheckTests(ConfirmationTestCase):
    def test_the_note_showing_the_change_by_me_confirms_it_in_one_read(self):
        attempt = self.attempt()
        self.note_read("SGN", ["unlock"])
        check = self.check(attempt)
        self.assertEqual((check.outcome, check.final), ("confirmed", True))
        self.assertEqual(len(self.rsps.calls), 1)
        attempt.refresh_from_db()
        self.assertEqual(attempt.outcome, "confirmed")
        self.assertEqual(attempt.applied_at, ACCEPTED_AT + timedelta(milliseconds=300))
        self.assertEqual(attempt.resolved_at, self.now)
        # One call for the note, since the acceptance.
        self.assertIn(f"ids={self.note_id}", self.rsps.calls[0].request.url)
        # Codes to redraw the row with, without calling Canvas from the page.
        self.assertEqual((attempt.note_state, attempt.note_action_list), ("SGN", ["unlock"]))
        self.assertFalse(attempt.in_flight)

    def test_nothing_yet_reads_again_later_and_never_says_more(self):
        attempt = self.attempt()
        self.note_read("LKD", ["sign"], at=ACCEPTED_AT - timedelta(days=1))
        check = self.check(attempt)
        self.assertFalse(check.final)
        self.assertEqual(check.outcome, "accepted")
        self.assertEqual(check.retry_at, self.now + confirmation.FIRST_WAIT)
        attempt.refresh_from_db()
        self.assertEqual((attempt.outcome, attempt.resolved_at), ("accepted", None))
        self.assertEqual(len(self.rsps.calls), 1)
        self.assertEqual(attempt.next_check_at, check.retry_at)  # the user's next read

    def test_a_change_by_someone_else_or_from_before_does_not_confirm(self):
        attempt = self.attempt()
        self.note_read("SGN", by="s-other")
        self.assertFalse(self.check(attempt).final)
        self.rsps.reset()
        self.note_read("SGN", at=ACCEPTED_AT - timedelta(seconds=1))
        self.assertFalse(self.check(attempt).final)

    def test_past_the_deadline_the_whole_history_decides_not_applied(self):
        attempt = self.attempt()
        self.note_read(
            "SGN",
            ["unlock"],
            by="s-other",
            since=ACCEPTED_AT,
            history=[
                entry("SGN", by="s-other"),
                entry("SGN", at=ACCEPTED_AT - timedelta(seconds=1)),
                entry("LKD"),  # lock_sign's first step alone is not a signature
            ],
        )
        later = attempt.finished_at + timedelta(seconds=30)
        check = self.check(attempt, at=later)
        self.assertEqual((check.outcome, check.final), ("not_applied", True))
        attempt.refresh_from_db()
        self.assertEqual(attempt.outcome, "not_applied")
        self.assertIsNone(attempt.applied_at)
        self.assertEqual((attempt.note_state, attempt.note_action_list), ("SGN", ["unlock"]))

    def test_a_change_already_followed_by_another_is_found_in_the_history(self):
        # Signed by me, then unlocked by someone else before any read showed it.
        attempt = self.attempt()
        self.note_read(
            "ULK", ["lock"], by="s-other", history=[entry("SGN"), entry("ULK", by="s-other")]
        )
        # Found by the first read, well before the deadline.
        check = self.check(attempt)
        self.assertEqual(check.outcome, "confirmed")
        attempt.refresh_from_db()
        self.assertEqual(
            (attempt.note_state, attempt.applied_at.isoformat()), ("ULK", entry("SGN")["at"])
        )

    def test_an_unknown_outcome_is_confirmed_from_its_start_less_the_clock_allowance(self):
        started = self.now
        attempt = self.attempt(outcome="unknown", expected="", accepted_at=None, started_at=started)
        self.note_read("SGN", at=started - timedelta(seconds=2))
        self.assertEqual(self.check(attempt).outcome, "confirmed")
        self.rsps.reset()
        attempt = self.attempt(outcome="unknown", expected="", accepted_at=None, started_at=started,
                               action="lock")  # fmt: skip
        self.note_read("SGN", at=started - timedelta(seconds=2))  # not a lock
        self.assertFalse(self.check(attempt).final)

    def test_unlock_of_an_appointment_note_is_confirmed_by_either_state(self):
        attempt = self.attempt(outcome="unknown", action="unlock", expected="", accepted_at=None)
        self.assertEqual(confirmation.expected_states_of(attempt), ("ULK", "NSW"))

    def test_canvas_unreadable_retries_then_is_unknown_at_the_deadline(self):
        attempt = self.attempt()
        unreadable = {"status": 503, "json": error("unavailable")}
        self.rsps.get(f"{API}notes/history", **unreadable)
        self.assertFalse(self.check(attempt).final)
        self.rsps.reset()
        self.rsps.get(f"{API}notes/history", **unreadable)
        check = self.check(attempt, at=attempt.finished_at + timedelta(seconds=31))
        self.assertEqual(check.outcome, "unknown")
        attempt.refresh_from_db()
        # Unknown, settled: the portal says no more than it saw.
        self.assertEqual((attempt.error_code, attempt.in_flight), ("unavailable", False))

    def test_429_waits_for_its_retry_after(self):
        attempt = self.attempt()
        self.rsps.get(
            f"{API}notes/history",
            status=429,
            json=error("rate_limited"),
            headers={"Retry-After": "7"},
        )
        check = self.check(attempt)
        self.assertEqual(check.retry_at, self.now + timedelta(seconds=7))
        attempt.refresh_from_db()
        self.assertEqual(attempt.next_check_at, check.retry_at)  # the user's chain waits too

    def test_reads_wait_longer_each_time_and_the_last_is_at_the_deadline(self):
        attempt = self.attempt()
        start = attempt.finished_at
        deadline = confirmation.deadline_of(attempt)
        waits = []
        for elapsed in [0, 0.6, 3, 20, 27]:  # wait: a quarter of it, 0.075 to 5 s
            now = start + timedelta(seconds=elapsed)
            wait = confirmation._next_read(attempt, now, deadline, None) - now
            waits.append(round(wait.total_seconds(), 3))
        self.assertEqual(waits, [0.075, 0.15, 0.75, 5.0, 3.0])

    def test_two_confirmers_never_disagree(self):
        # The first writes; the second finds the row settled and reports its outcome.
        attempt = self.attempt()
        stale_copy = NoteActionAttempt.objects.get(pk=attempt.pk)
        self.note_read("SGN", ["unlock"])
        self.assertEqual(self.check(attempt).outcome, "confirmed")
        second = confirmation._outcome_record(stale_copy, outcome="not_applied")
        self.assertEqual(second.outcome, "confirmed")
        self.assertEqual(NoteActionAttempt.objects.get(pk=attempt.pk).outcome, "confirmed")
        # And a later check on a settled row reads nothing.
        self.assertEqual(self.check(attempt).outcome, "confirmed")
        self.assertEqual(len(self.rsps.calls), 1)

    def test_an_inactive_user_is_not_read_for(self):
        attempt = self.attempt()
        self.provider.is_active = False
        self.provider.save(update_fields=["is_active"])
        self.assertEqual(self.check(attempt).outcome, "unknown")
        self.assertEqual(len(self.rsps.calls), 0)


class ConfirmTaskTests(ConfirmationTestCase):
    def test_not_yet_enqueues_the_next_read_for_later(self):
        attempt = self.attempt()
        self.note_read("LKD", ["sign"], at=ACCEPTED_AT - timedelta(days=1))
        with mock.patch.object(confirmation, "_now", return_value=self.now):
            outcome = tasks.attempt_confirm.call(attempt.pk)
        self.assertEqual(outcome, "accepted")
        [(attempt_id, run_after)] = queued()
        self.assertEqual(attempt_id, attempt.pk)
        self.assertEqual(run_after, self.now + confirmation.FIRST_WAIT)

    def test_a_first_read_is_due_now_so_it_runs_before_reads_scheduled_later(self):
        """django-tasks-db runs due tasks by run_after; one without a due time sorts
        as the year 9999, behind every scheduled read already due."""
        from django_tasks_db.models import DBTaskResult as Row

        later = self.attempt()
        confirmation.attempt_confirmation_enqueue(
            attempt_id=later.pk, run_after=self.now + timedelta(seconds=1)
        )
        first = self.attempt()
        with mock.patch.object(confirmation, "_now", return_value=self.now):
            confirmation.attempt_confirmation_enqueue(attempt_id=first.pk)
        self.assertEqual(dict(queued())[first.pk], self.now)
        with mock.patch("django.utils.timezone.now", return_value=self.now + timedelta(seconds=2)):
            due = [row.args_kwargs["args"][0] for row in Row.objects.ready()]
        self.assertEqual(due, [first.pk, later.pk])

    def test_settled_enqueues_nothing_more(self):
        attempt = self.attempt()
        self.note_read("SGN")
        self.assertEqual(tasks.attempt_confirm.call(attempt.pk), "confirmed")
        self.assertEqual(queued(), [])


class BatchedReadTests(ConfirmationTestCase):
    """One Canvas call reads every note a user has an action in flight on."""

    def batch(self, notes):
        body = {"notes": notes, "as_of": self.now.isoformat()}
        return self.rsps.get(f"{API}notes/history", json=body)

    def note(self, state, *, at=ACCEPTED_AT + timedelta(milliseconds=300), by=ME, allowed=()):
        return {
            "state": {"code": state, "label": state, "changed_at": at.isoformat(),
                      "changed_by": by},
            "allowed_actions": list(allowed),
            "history": [entry(state, at=at, by=by)],
        }  # fmt: skip

    def test_several_attempts_of_one_user_are_confirmed_in_one_call(self):
        first = self.attempt()
        notes = [uuid.uuid4() for _ in range(3)]
        others = [
            make_attempt(self.provider, canvas_staff_id=ME, note_id=note_id, action="lock",
                         outcome="accepted", expected_state="LKD", accepted_at=ACCEPTED_AT,
                         started_at=self.now, finished_at=self.now)
            for note_id in notes
        ]  # fmt: skip
        self.batch(
            {
                str(self.note_id): self.note("SGN", allowed=["unlock"]),
                str(notes[0]): self.note("LKD"),
                str(notes[1]): self.note("LKD", by="s-other"),  # not mine: not yet
                # notes[2]: Canvas does not show it to this user: not yet either
            }
        )
        check = self.check(first)
        self.assertEqual(check.outcome, "confirmed")
        self.assertEqual(len(self.rsps.calls), 1)
        asked = self.rsps.calls[0].request.params["ids"].split(",")
        self.assertEqual(sorted(asked), sorted(str(n) for n in [self.note_id, *notes]))
        rows = {a.pk: a for a in NoteActionAttempt.objects.all()}
        self.assertEqual(
            [rows[a.pk].outcome for a in others], ["confirmed", "accepted", "accepted"]
        )
        self.assertIsNotNone(rows[others[1].pk].next_check_at)
        # Past the deadline the one never shown is unknown, the other not applied.
        self.rsps.reset()
        self.batch({str(notes[1]): self.note("LKD", by="s-other")})
        self.check(others[1], at=self.now + timedelta(seconds=31))
        rows = {a.pk: a for a in NoteActionAttempt.objects.all()}
        self.assertEqual(
            [(rows[a.pk].outcome, rows[a.pk].error_code) for a in others[1:]],
            [("not_applied", ""), ("unknown", "note_not_found")],
        )
        self.assertEqual(len(self.rsps.calls), 1)

    def test_one_chain_of_reads_per_user_whatever_the_number_of_actions(self):
        first = self.attempt(next_check_at=self.now)
        second = self.attempt(action="lock", expected="LKD", next_check_at=self.now)
        self.batch({str(self.note_id): self.note("SGN")})  # signed, not yet locked
        with mock.patch.object(confirmation, "_now", return_value=self.now):
            self.assertEqual(tasks.attempt_confirm.call(first.pk), "confirmed")
            # The second action's own run finds it read already: no call, nothing queued.
            self.assertEqual(tasks.attempt_confirm.call(second.pk), "accepted")
        self.assertEqual(len(self.rsps.calls), 1)
        # One follow-up for the user, for the attempt still in flight.
        self.assertEqual(queued(), [(second.pk, self.now + confirmation.FIRST_WAIT)])


class TaskLogContextTests(ConfirmationTestCase):
    def test_task_bodies_log_with_the_request_and_user_id(self):
        from observability.context import request_id_var, user_id_var

        seen = []

        def record(**kwargs):
            seen.append((request_id_var.get(), user_id_var.get()))
            return "done"

        with mock.patch("notes.confirm_runs.attempt_confirm_run", side_effect=record):
            tasks.attempt_confirm.call(1, user_id=7, request_id="req-9")
        with mock.patch("notes.bulk.executor.run_execute", side_effect=record):
            tasks.bulk_run.call(2, user_id=8, request_id="req-10")
        self.assertEqual(seen, [("req-9", 7), ("req-10", 8)])
        self.assertEqual((request_id_var.get(), user_id_var.get()), (None, None))

    def test_a_sent_action_queues_its_confirmation_with_both(self):
        from notes.confirmation import attempt_confirmation_enqueue

        attempt = self.attempt(request_id="req-11")
        attempt_confirmation_enqueue(attempt_id=attempt.pk, user_id=self.provider.pk,
                                     request_id=attempt.request_id)  # fmt: skip
        row = DBTaskResult.objects.get(task_path="notes.tasks.attempt_confirm")
        self.assertEqual(row.args_kwargs["kwargs"],
                         {"user_id": self.provider.pk, "request_id": "req-11"})  # fmt: skip
        self.assertEqual(row.queue_name, "default")


class ResolveCommandTests(ConfirmationTestCase):
    def test_settles_what_a_dead_worker_left_and_requests_that_died(self):
        long_ago = self.now - timedelta(minutes=10)
        left = self.attempt(started_at=long_ago)  # accepted, never confirmed
        died = make_attempt(
            self.provider,
            canvas_staff_id=ME,
            note_id=self.note_id,
            action="lock",
            outcome="pending",
            started_at=long_ago,
        )
        # Within its deadline: read in the same call, not shown yet, left to the worker.
        fresh = self.attempt(action="unlock", expected="ULK")
        self.note_read("SGN")  # one read for all three: signed by me (not a lock)
        out = StringIO()
        call_command("confirm_note_actions", stdout=out)
        self.assertEqual(out.getvalue().strip(), "final 2: confirmed 1, not_applied 1")
        rows = {a.pk: a for a in NoteActionAttempt.objects.all()}
        self.assertEqual(rows[left.pk].outcome, "confirmed")
        self.assertEqual(
            (rows[died.pk].outcome, rows[died.pk].error_code), ("not_applied", "abandoned")
        )
        self.assertEqual(rows[fresh.pk].outcome, "accepted")

    def test_nothing_to_do(self):
        out = StringIO()
        call_command("resolve_note_actions", stdout=out)
        self.assertEqual(out.getvalue().strip(), "final 0")


class HealthTests(ConfirmationTestCase):
    def test_healthz_reports_the_oldest_unconfirmed_action(self):
        self.assertEqual(
            self.client.get("/healthz").json()["confirmations"],
            {"unconfirmed": 0, "oldest_unconfirmed_seconds": 0.0, "behind": False},
        )
        self.attempt(started_at=self.now - timedelta(minutes=5))
        self.attempt(started_at=self.now - timedelta(seconds=2), action="lock")
        self.attempt(outcome="confirmed", resolved_at=self.now)
        found = self.client.get("/healthz").json()["confirmations"]
        self.assertEqual(found["unconfirmed"], 2)
        self.assertGreaterEqual(found["oldest_unconfirmed_seconds"], 299)
        self.assertTrue(found["behind"])


class AttemptStatusViewTests(ConfirmationTestCase):
    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def url(self, attempt, view="row"):
        return f"/notes/attempts/{attempt.pk}/?view={view}"

    def test_in_flight_answers_204_from_the_database_alone(self):
        attempt = self.attempt()
        response = self.client.get(self.url(attempt), **HTMX)
        self.assertEqual(response.status_code, 204)
        self.assertEqual(len(self.rsps.calls), 0)

    def test_confirmed_stops_polling_and_draws_the_new_state(self):
        attempt = self.attempt(
            outcome="confirmed", resolved_at=self.now, note_state="SGN", note_actions="unlock"
        )
        response = self.client.get(self.url(attempt), **HTMX)
        self.assertEqual(response.status_code, 286)
        self.assertEqual(
            json.loads(response["HX-Trigger"])["toast"],
            {"message": "Note signed.", "level": "success"},
        )
        self.assertContains(response, f"/notes/{self.note_id}/unlock/", status_code=286)
        self.assertContains(
            response,
            f'<span class="badge badge-SGN" id="note-state-{self.note_id}" hx-swap-oob="true">'
            "Signed</span>",
            status_code=286,
        )
        self.assertEqual(len(self.rsps.calls), 0)

    def test_not_applied_says_so_with_the_reasons_and_a_link(self):
        attempt = self.attempt(
            outcome="not_applied", resolved_at=self.now, note_state="LKD", note_actions="sign"
        )
        response = self.client.get(self.url(attempt), **HTMX)
        toast = json.loads(response["HX-Trigger"])["toast"]
        self.assertEqual(toast["level"], "error")
        self.assertTrue(toast["message"].startswith("Canvas did not apply the signature."))
        self.assertEqual(
            toast["link"], {"href": f"/notes/{self.note_id}/", "text": "Open the note"}
        )
        # The Sign button is back, and the row keeps the sentence.
        self.assertContains(response, f"/notes/{self.note_id}/sign/", status_code=286)
        self.assertContains(response, "Canvas did not apply the signature.", status_code=286)
        self.assertNotContains(response, "Note signed", status_code=286)

    def test_the_detail_page_gets_its_activity_refreshed(self):
        attempt = self.attempt(outcome="confirmed", resolved_at=self.now, note_state="SGN")
        response = self.client.get(self.url(attempt, view="detail"), **HTMX)
        self.assertContains(response, 'id="note-activity"', status_code=286)
        self.assertContains(response, "Confirmed in Canvas", status_code=286)

    def test_someone_elses_attempt_is_a_404_and_without_htmx_it_opens_the_note(self):
        other = make_user("other", groups=("Providers",))
        theirs = self.attempt()
        theirs.user = other
        NoteActionAttempt.objects.filter(pk=theirs.pk).update(user=other)
        self.assertEqual(self.client.get(self.url(theirs), **HTMX).status_code, 404)
        mine = self.attempt(action="lock")
        self.assertRedirects(
            self.client.get(self.url(mine)),
            f"/notes/{self.note_id}/",
            fetch_redirect_response=False,
        )

    def test_a_reloaded_worklist_follows_an_action_in_flight_and_shows_one_not_applied(self):
        flying = self.attempt()
        other_note = uuid.uuid4()
        make_attempt(
            self.provider,
            canvas_staff_id=ME,
            note_id=other_note,
            action="lock",
            outcome="not_applied",
            started_at=self.now,
            finished_at=self.now,
            resolved_at=self.now,
        )
        self.rsps.get(
            API + "notes",
            json={
                "notes": [
                    summary(self.note_id),
                    summary(other_note, state="NEW", allowed=["lock"]),
                ],
                "next_cursor": None,
            },
        )
        page = self.client.get("/notes/")
        self.assertContains(page, f'hx-get="/notes/attempts/{flying.pk}/?view=row"')
        self.assertContains(page, "Canvas did not apply the lock.")
        self.assertContains(page, f"/notes/{other_note}/lock/")
