"""Close my day: the signing queue, counts and age, bulk runs and their pages.

Canvas is mocked at HTTP (`responses`); runs execute in the test's own
thread (NOTES_BULK_CONCURRENCY=1). The worker processes and the threads of
a real run are exercised by the e2e walk and `make bench`.
"""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.core.cache import cache
from django.test import TestCase, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from responses import matchers

from notes import exceptions, worklist
from notes.bulk import executor, planning, runs
from notes.bulk import progress as bulk_progress
from notes.models import BulkItem, BulkRun, NoteActionAttempt
from tests.factories import (
    PASSWORD,
    clock_at,
    make_attempt,
    make_connection,
    make_item,
    make_run,
    make_user,
)
from tests.helpers import API, SETTINGS, CanvasMockMixin, accepted, ensure_groups, error, summary

HTMX = {"HTTP_HX_REQUEST": "true"}
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


real_sleep = time.sleep


def queued_tasks(path):
    return [
        row.args_kwargs["args"][0]
        for row in DBTaskResult.objects.order_by("enqueued_at")
        if row.task_path == path
    ]


def queue_note(state, allowed, *, days_old=1, supervised=False):
    when = (NOW - timedelta(days=days_old)).isoformat()
    note = summary(uuid.uuid4(), state=state, allowed=allowed, datetime_of_service=when)
    if supervised:
        note["supervising_provider"] = {"id": "staff-me", "name": "Dr. Me"}
    return note


@override_settings(**SETTINGS, NOTES_BULK_CONCURRENCY=1, NOTES_OVERDUE_DAYS=3)
class BulkTestCase(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        cls.frontdesk = make_user("frontdesk", groups=("Front desk",))
        make_connection(cls.provider, access_token="at-p", staff_id="staff-me")
        make_connection(cls.frontdesk, access_token="at-f")

    def setUp(self):
        super().setUp()
        cache.clear()  # the per-user plan rate limit counts in the cache
        self.open = queue_note("NEW", ["lock", "lock_sign"], days_old=5)
        self.locked = queue_note("LKD", ["sign", "lock_sign", "unlock"], days_old=2)
        self.cosign = queue_note("SGN", ["sign", "unlock"], days_old=0, supervised=True)
        self.queue = [self.open, self.locked, self.cosign]

    def queue_mock(self, notes=None, **params):
        return self.rsps.get(
            API + "notes",
            json={"notes": self.queue if notes is None else notes, "next_cursor": None},
            match=[
                matchers.query_param_matcher(
                    {"queue": "to_sign", "order": "oldest", "limit": "100", **params}
                )
            ],
        )

    def plan(self, note_ids=None):
        self.queue_mock()
        return planning.plan_for_user(user=self.provider, note_ids=note_ids)


class PlanTests(BulkTestCase):
    def test_each_note_gets_the_action_that_signs_it(self):
        plan = self.plan()
        self.assertEqual(
            [(p.note["id"], p.action, p.label) for p in plan.notes],
            [
                (self.open["id"], "lock_sign", "Sign"),
                (self.locked["id"], "sign", "Sign"),
                (self.cosign["id"], "sign", "Co-sign"),
            ],
        )
        self.assertEqual(plan.title, "Sign 3 notes")
        self.assertEqual(plan.by_label, {"Sign": 2, "Co-sign": 1})

    def test_only_the_chosen_notes_still_in_the_queue(self):
        gone = str(uuid.uuid4())  # no longer visible: Canvas answers 404
        self.rsps.get(f"{API}notes/{gone}", status=404, json=error("note_not_found"))
        plan = self.plan([self.locked["id"], gone])
        self.assertEqual([p.note["id"] for p in plan.notes], [self.locked["id"]])
        self.assertEqual(plan.title, "Sign 1 note")
        self.assertEqual(
            [(s.note_id, s.reason) for s in plan.skipped], [(gone, planning.SkipReason.GONE)]
        )

    def test_nothing_left_to_sign_and_front_desk_are_refused(self):
        self.queue_mock(notes=[queue_note("LKD", ["unlock"])])
        with self.assertRaises(exceptions.NothingToSign):
            planning.plan_for_user(user=self.provider, note_ids=None)
        with self.assertRaises(exceptions.ActionNotPermitted):
            planning.plan_for_user(user=self.frontdesk, note_ids=None)


class RunTests(BulkTestCase):
    def start(self, note_ids=None):
        with self.captureOnCommitCallbacks(execute=True):
            return runs.run_start(user=self.provider, plan=self.plan(note_ids))

    def read_mock(self, note, state="SGN"):
        """Mock the run's reads of a sent note: Canvas shows it changed by me after the 202.

        The run reads its notes in batches (GET /notes/history?ids=): the
        answer holds every asked-for note registered here.
        """
        if not getattr(self, "shown", None):
            self.shown = {}
            self.rsps.add_callback("GET", f"{API}notes/history", callback=self._batch_answer)
        at = "2026-11-30T10:00:01+00:00"
        self.shown[note["id"]] = {
            "state": {"code": state, "label": state, "changed_at": at, "changed_by": "staff-me"},
            "allowed_actions": ["unlock"],
            "history": [{"state": state, "at": at, "by": "staff-me"}],
        }

    def _batch_answer(self, request):
        ids = request.params["ids"].split(",")
        notes = {note_id: self.shown[note_id] for note_id in ids if note_id in self.shown}
        return 200, {}, json.dumps({"notes": notes, "as_of": "2026-11-30T10:00:02+00:00"})

    def post_mock(self, note, action, **kwargs):
        kwargs.setdefault("status", 202)
        kwargs.setdefault("json", accepted(note["id"], action))
        return self.rsps.post(f"{API}notes/{note['id']}/{action}", **kwargs)

    def test_start_records_the_items_and_queues_the_run(self):
        run = self.start()
        self.assertEqual(run.label, "Sign 3 notes")
        self.assertEqual(
            list(run.items.values_list("position", "action", "label", "status")),
            [(0, "lock_sign", "Sign", "queued"), (1, "sign", "Sign", "queued"),
             (2, "sign", "Co-sign", "queued")],
        )  # fmt: skip
        item = run.items.first()
        self.assertEqual(item.note_type, "Office visit")
        self.assertEqual(queued_tasks("notes.tasks.bulk_run"), [run.pk])

    def test_one_run_at_a_time_per_person(self):
        # Was: only notes already in a going run were refused. Now any second
        # run of the same person is: the page opens the first (issue 23).
        first = self.start([self.locked["id"]])
        self.rsps.reset()
        with self.assertRaises(exceptions.RunInProgress) as caught:
            self.start([self.open["id"]])
        self.assertEqual(caught.exception.run_id, first.pk)
        self.assertEqual(BulkRun.objects.count(), 1)
        BulkRun.objects.filter(pk=first.pk).update(status="done")
        self.rsps.reset()
        self.assertNotEqual(self.start([self.open["id"]]).pk, first.pk)

    def test_runs_have_their_own_queue_and_carry_the_request(self):
        with self.captureOnCommitCallbacks(execute=True):
            run = runs.run_start(user=self.provider, plan=self.plan(), request_id="req-7",
                                 client_ip="198.51.100.4")  # fmt: skip
        task = DBTaskResult.objects.get(task_path="notes.tasks.bulk_run")
        self.assertEqual(task.queue_name, "bulk")
        self.assertEqual(task.args_kwargs["kwargs"], {"user_id": self.provider.pk,
                                                      "request_id": "req-7"})  # fmt: skip
        self.rsps.reset()
        self.post_mock(self.open, "lock_sign")
        self.post_mock(self.locked, "sign")
        self.post_mock(self.cosign, "sign")
        for note in self.queue:
            self.read_mock(note)
        self.assertEqual(executor.run_execute(run_id=run.pk), "done")
        rows = NoteActionAttempt.objects.values_list("request_id", "client_ip")
        self.assertEqual(set(rows), {("req-7", "198.51.100.4")})
        # The run reads its notes back in batches: fewer reads than notes
        # (one, unless the machine is so slow a read fell due between sends).
        reads = [c for c in self.rsps.calls if c.request.method == "GET"]
        self.assertLess(len(reads), 3)

    def test_removed_from_providers_mid_run_the_rest_are_skipped_with_a_reason(self):
        run = self.start()
        self.rsps.reset()

        def leave_providers_while_in_flight(request):
            self.provider.groups.clear()
            return 202, {}, json.dumps(accepted(self.open["id"], "lock_sign"))

        self.rsps.add_callback("POST", f"{API}notes/{self.open['id']}/lock_sign",
                               callback=leave_providers_while_in_flight)  # fmt: skip
        self.read_mock(self.open)
        self.assertEqual(executor.run_execute(run_id=run.pk), "done")
        items = list(run.items.order_by("position").values_list("status", "message"))
        self.assertEqual(items[0], ("sent", ""))
        self.assertEqual(items[1:], [("skipped", executor.NO_LONGER_PERMITTED)] * 2)
        self.assertEqual([c.request.method for c in self.rsps.calls], ["POST", "GET"])

    def test_a_run_not_started_in_time_expires_without_sending(self):
        run = self.start()
        self.rsps.reset()
        BulkRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=2))
        self.assertEqual(executor.run_execute(run_id=run.pk), "expired")
        self.assertEqual(set(run.items.values_list("status", flat=True)), {"skipped"})
        self.assertEqual(len(self.rsps.calls), 0)
        # The resume job expires a silent queued run the same way, and queues nothing.
        late = make_run(self.provider, status="queued",
                        created_at=timezone.now() - timedelta(hours=2))  # fmt: skip
        make_item(late, action="sign")
        self.assertEqual(runs.runs_resume(), 0)
        late.refresh_from_db()
        self.assertEqual(late.status, "expired")
        self.assertEqual(queued_tasks("notes.tasks.bulk_run"), [run.pk])

    def test_a_paused_run_beats_its_heartbeat_so_it_is_not_resumed_twice(self):
        long_ago = timezone.now() - timedelta(hours=1)
        run = make_run(self.provider, status="running", heartbeat_at=long_ago)
        beats = []
        gate = executor._Gate(beat=lambda: beats.append(executor._heartbeat(run)))
        gate.pause(0.25)  # a Retry-After
        with (
            mock.patch.object(executor, "HEARTBEAT_EVERY", 0.05),
            mock.patch.object(executor.time, "sleep", lambda s: real_sleep(min(s, 0.06))),
        ):
            gate.wait()  # fmt: skip
        self.assertGreaterEqual(len(beats), 2)
        run.refresh_from_db()
        self.assertGreater(run.heartbeat_at, long_ago)
        # So the resume job does not take it for dead and run it a second time.
        self.assertEqual(runs.runs_resume(), 0)

    def test_items_go_through_the_same_service_once_each(self):
        run = self.start()
        self.rsps.reset()
        self.post_mock(self.open, "lock_sign")
        # Refused by Canvas: this one stops, the others go on.
        self.post_mock(self.locked, "sign", status=409, json=error("already_signed", state="SGN"))
        # Rate limited once, then accepted: waited for and sent again (nothing was done).
        cosign_url = f"{API}notes/{self.cosign['id']}/sign"
        self.rsps.post(cosign_url, status=429, json=error("rate_limited"),
                       headers={"Retry-After": "0"})  # fmt: skip
        self.rsps.post(cosign_url, status=202, json=accepted(self.cosign["id"], "sign"))
        # The run reads back what it sent, and ends when each has its outcome.
        self.read_mock(self.open)
        self.read_mock(self.cosign)
        self.assertEqual(executor.run_execute(run_id=run.pk), "done")
        items = {i.note_id: i for i in BulkItem.objects.select_related("attempt")}
        opened = items[uuid.UUID(self.open["id"])]
        self.assertEqual((opened.status, opened.attempt.outcome), ("sent", "confirmed"))
        refused = items[uuid.UUID(self.locked["id"])]
        self.assertEqual(refused.status, "refused")
        self.assertEqual(refused.message, "You have already signed this note.")
        self.assertEqual(items[uuid.UUID(self.cosign["id"])].status, "sent")
        # Every call is in the audit log; each accepted one is being confirmed.
        self.assertEqual(
            sorted(NoteActionAttempt.objects.values_list("action", "outcome", "upstream_status")),
            [("lock_sign", "confirmed", 202), ("sign", "confirmed", 202),
             ("sign", "failed", 409), ("sign", "failed", 429)],
        )  # fmt: skip
        # The background confirmation is only a backstop, due at the deadline.
        backstops = DBTaskResult.objects.filter(task_path="notes.tasks.attempt_confirm")
        self.assertEqual(backstops.count(), 2)
        for task in backstops:
            self.assertGreater(task.run_after, timezone.now() + timedelta(seconds=20))
            # On the run's lane: another person's clicks never wait behind them.
            self.assertEqual(task.queue_name, "bulk")
        run.refresh_from_db()
        self.assertEqual((run.status, run.finished_at is not None), ("done", True))

    def test_cancel_stops_what_has_not_started(self):
        run = self.start()
        self.rsps.reset()

        def cancel_while_in_flight(request):
            # The person presses Cancel while the first item is with Canvas.
            runs.run_cancel(user=self.provider, run_id=run.pk)
            return 202, {}, json.dumps(accepted(self.open["id"], "lock_sign"))

        self.rsps.add_callback(
            "POST", f"{API}notes/{self.open['id']}/lock_sign", callback=cancel_while_in_flight
        )
        self.read_mock(self.open)
        self.assertEqual(executor.run_execute(run_id=run.pk), "cancelled")
        statuses = list(run.items.order_by("position").values_list("status", flat=True))
        self.assertEqual(statuses, ["sent", "skipped", "skipped"])
        self.assertEqual([c.request.method for c in self.rsps.calls], ["POST", "GET"])

    def test_a_run_no_worker_started_is_cancelled_at_once(self):
        run = self.start()
        run = runs.run_cancel(user=self.provider, run_id=run.pk)
        self.assertEqual(run.status, "cancelled")
        self.assertEqual(set(run.items.values_list("status", flat=True)), {"skipped"})
        self.assertEqual(executor.run_execute(run_id=run.pk), "cancelled")

    def test_a_dead_workers_run_is_resumed_without_sending_anything_twice(self):
        run = self.start()
        self.rsps.reset()
        self.shown = {}
        long_ago = timezone.now() - timedelta(hours=1)
        items = list(run.items.order_by("position"))
        # Item 0 was sent (its audit row exists); item 1 was marked sending but never sent.
        BulkItem.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(
            status="sending", sending_at=long_ago
        )
        sent = make_attempt(
            self.provider,
            note_id=items[0].note_id,
            action=items[0].action,
            outcome="not_applied",
            started_at=long_ago,
            finished_at=long_ago,
            resolved_at=long_ago,
        )
        BulkRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=long_ago)
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(runs.runs_resume(), 1)
        statuses = dict(run.items.values_list("position", "status"))
        self.assertEqual(statuses, {0: "sent", 1: "queued", 2: "queued"})
        self.assertEqual(run.items.get(position=0).attempt, sent)
        self.assertEqual(queued_tasks("notes.tasks.bulk_run"), [run.pk, run.pk])
        # The next worker sends items 1 and 2, and not item 0 again.
        self.post_mock(self.locked, "sign")
        self.post_mock(self.cosign, "sign")
        self.read_mock(self.locked)
        self.read_mock(self.cosign)
        self.assertEqual(executor.run_execute(run_id=run.pk), "done")
        posts = [c.request.url for c in self.rsps.calls if c.request.method == "POST"]
        self.assertEqual(len(posts), 2)
        self.assertNotIn(self.open["id"], " ".join(posts))

    def test_progress_counts_each_item_by_its_attempts_outcome(self):
        run = self.start()
        items = list(run.items.order_by("position"))
        now = timezone.now()

        def attempt(item, outcome):
            return make_attempt(
                self.provider,
                note_id=item.note_id,
                action=item.action,
                outcome=outcome,
                started_at=now,
                finished_at=now,
                resolved_at=None if outcome == "accepted" else now,
            )

        BulkItem.objects.filter(pk=items[0].pk).update(
            status="sent", attempt=attempt(items[0], "confirmed")
        )
        BulkItem.objects.filter(pk=items[1].pk).update(
            status="sent", attempt=attempt(items[1], "accepted")
        )
        BulkItem.objects.filter(pk=items[2].pk).update(status="refused", message="No.")
        BulkRun.objects.filter(pk=run.pk).update(status="done")
        progress = bulk_progress.run_progress(user=self.provider, run_id=run.pk)
        self.assertEqual([r for _, r in progress.items], ["confirmed", "in_flight", "refused"])
        self.assertEqual((progress.done, progress.total, progress.finished), (2, 3, False))
        NoteActionAttempt.objects.filter(pk=progress.items[1][0].attempt_id).update(
            outcome="not_applied", resolved_at=now
        )
        progress = bulk_progress.run_progress(user=self.provider, run_id=run.pk)
        self.assertEqual((progress.done, progress.finished, progress.percent), (3, True, 100))
        self.assertEqual(progress.counts["not_applied"], 1)


class BulkPageTests(BulkTestCase):
    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def test_choose_confirm_then_follow_the_run(self):
        self.queue_mock()
        ids = [self.open["id"], self.locked["id"]]
        page = self.client.post("/notes/bulk/", {"scope": "selected", "note": ids})
        self.assertContains(page, "Sign 2 notes?")
        self.assertContains(page, "2 to sign.")
        self.assertFalse(BulkRun.objects.exists())  # asked, not started
        self.rsps.reset()
        self.queue_mock()
        with self.captureOnCommitCallbacks(execute=True):
            started = self.client.post("/notes/bulk/", {"confirm": "1", "note": ids})
        run = BulkRun.objects.get()
        self.assertRedirects(started, f"/notes/runs/{run.pk}/", fetch_redirect_response=False)
        page = self.client.get(f"/notes/runs/{run.pk}/")
        self.assertContains(page, 'role="progressbar"')
        self.assertContains(page, 'aria-valuenow="0"')
        self.assertContains(page, "0 of 2")
        self.assertContains(page, 'hx-trigger="every 500ms"')
        self.assertContains(page, "Cancel the rest")
        poll = self.client.get(f"/notes/runs/{run.pk}/progress/", **HTMX)
        self.assertEqual(poll.status_code, 200)  # still going: keep polling

    def test_the_whole_queue_and_a_finished_run_stops_polling(self):
        self.queue_mock()
        page = self.client.post("/notes/bulk/", {"scope": "queue"})
        self.assertContains(page, "Sign 3 notes?")
        run = make_run(self.provider, label="Sign 1 note", status="done")
        make_item(run, action="sign", status="refused", message="Refused by Canvas.")
        poll = self.client.get(f"/notes/runs/{run.pk}/progress/", **HTMX)
        self.assertEqual(poll.status_code, 286)
        self.assertContains(poll, "1 of 1 done", status_code=286)
        self.assertContains(poll, "Refused by Canvas.", status_code=286)
        runs = self.client.get("/notes/runs/")
        self.assertContains(runs, "Sign 1 note")
        self.assertContains(runs, "1 of 1")

    def test_a_second_run_request_opens_the_first(self):
        going = make_run(self.provider, status="running")
        for data in ({"scope": "queue"}, {"confirm": "1", "note": [self.open["id"]]}):
            with self.subTest(data=data):
                response = self.client.post("/notes/bulk/", data)
                self.assertRedirects(
                    response, f"/notes/runs/{going.pk}/", fetch_redirect_response=False
                )
        page = self.client.get(f"/notes/runs/{going.pk}/")
        self.assertContains(page, "Your run that is still going is shown here")
        self.assertEqual(BulkRun.objects.count(), 1)
        self.assertEqual(len(self.rsps.calls), 0)  # not even the queue was read

    def test_nothing_chosen_and_someone_elses_run(self):
        response = self.client.post("/notes/bulk/", {"scope": "selected"}, follow=True)
        self.assertContains(response, "Choose the notes to sign first")
        other = make_user("other", groups=("Providers",))
        theirs = make_run(other, label="x")
        self.assertEqual(self.client.get(f"/notes/runs/{theirs.pk}/").status_code, 404)
        self.assertEqual(self.client.post(f"/notes/runs/{theirs.pk}/cancel/").status_code, 404)


@override_settings(**SETTINGS, NOTES_OVERDUE_DAYS=3)
class QueueTabTests(BulkTestCase):
    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def counts_mock(self, **counts):
        body = {"to_sign": 3, "overdue": 1, "open": 4, "today": 6, **counts}
        return self.rsps.get(API + "notes/counts", json=body)

    def test_the_first_tab_is_the_queue_oldest_first_with_age_counts_and_boxes(self):
        self.rsps.get(
            API + "notes",
            json={"notes": self.queue, "next_cursor": None, "count": 3},
            match=[
                matchers.query_param_matcher({"queue": "to_sign", "order": "oldest", "limit": "25"})
            ],
        )
        self.counts_mock()
        with clock_at(worklist, NOW):
            page = self.client.get("/notes/")
        self.assertContains(page, 'aria-current="page">To sign <span class="tab-count">3</span>')
        self.assertContains(page, '<span class="tab-count tab-count-overdue"')
        self.assertContains(page, 'My open notes <span class="tab-count">4</span>')
        self.assertContains(page, "5 days")
        self.assertContains(page, "Overdue", count=2)  # the tab's title and the 5-day-old note
        self.assertContains(page, f'value="{self.locked["id"]}" form="bulk-form"')
        self.assertContains(page, "Sign all 3 in this queue")

    def test_front_desk_gets_todays_appointments_first_and_no_queue(self):
        self.client.login(username="frontdesk", password=PASSWORD)
        self.rsps.get(API + "notes", json={"notes": [], "next_cursor": None, "count": 0})
        self.counts_mock()
        page = self.client.get("/notes/")
        self.assertEqual(page.context["tab"].key, "today")
        self.assertEqual([t.key for t in page.context["tabs"]], ["today", "all"])
        self.assertNotContains(page, "bulk-form")

    def today_mock(self, count):
        """The Today tab's own list (BKD, RVT today), asked for its count."""
        return self.rsps.get(
            API + "notes",
            json={"notes": [], "next_cursor": None, "count": count},
            match=[matchers.query_param_matcher({"limit": "1"}, strict_match=False)],
        )

    def test_home_cards_link_to_the_tabs(self):
        self.today_mock(4)
        self.counts_mock(overdue=2)  # its "today" (6) counts every state: not shown
        with clock_at(worklist, NOW):
            page = self.client.get("/")
        cards = [(c.label, c.count, c.tab) for c in page.context["cards"]]
        self.assertEqual(
            cards,
            [("To sign", 3, "to_sign"), ("Overdue (over 3 days)", 2, "to_sign"),
             ("My open notes", 4, "open"), ("Today's appointments", 4, "today")],
        )  # fmt: skip
        self.assertContains(page, 'href="/notes/?tab=to_sign"', count=2)
        request = self.rsps.calls[1].request
        self.assertIn("overdue_before=2026-11-27T00%3A00%3A00%2B00%3A00", request.url)

    def test_front_desk_card_equals_the_today_tabs_list(self):
        self.client.login(username="frontdesk", password=PASSWORD)
        listed = [summary(state="BKD", allowed=["checkin", "noshow"]) for _ in range(4)]
        self.today_mock(4)
        with clock_at(worklist, NOW):
            home = self.client.get("/")
        self.assertEqual([(c.tab, c.count) for c in home.context["cards"]], [("today", 4)])
        self.rsps.get(API + "notes", json={"notes": listed, "next_cursor": None, "count": 4})
        self.counts_mock()  # counts.today is 6 (every state): the tab shows its list's 4
        with clock_at(worklist, NOW):
            tab = self.client.get("/notes/?tab=today")
        self.assertEqual(len(tab.context["page"]["notes"]), 4)
        self.assertContains(tab, 'Today&#x27;s appointments <span class="tab-count">4</span>')

    def test_front_desk_asking_for_the_signing_queue_gets_their_own_tab(self):
        self.client.login(username="frontdesk", password=PASSWORD)
        self.rsps.get(
            API + "notes",
            json={"notes": [], "next_cursor": None, "count": 0},
            match=[matchers.query_param_matcher({"state": "BKD,RVT"}, strict_match=False)],
        )
        self.counts_mock()
        page = self.client.get("/notes/?tab=to_sign")
        self.assertEqual(page.context["tab"].key, "today")
        self.assertNotContains(page, "bulk-form")
        self.assertNotContains(page, 'name="queue"')

    def test_counts_unavailable_still_shows_the_list(self):
        self.rsps.get(API + "notes", json={"notes": self.queue, "next_cursor": None})
        self.rsps.get(API + "notes/counts", status=503, json=error("unavailable"))
        page = self.client.get("/notes/?tab=to_sign")
        self.assertEqual(page.status_code, 200)
        for note in self.queue:
            self.assertContains(page, f'<tr id="note-{note["id"]}"')
        self.assertEqual(json.dumps(page.context["counts"]), "{}")
