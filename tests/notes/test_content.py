"""A note's content on the portal's pages: the note page, the queue's and the question's
disclosures, the staged flag, and bulk runs leaving such notes out. Canvas is mocked at HTTP."""

import logging
import uuid

from django.test import TestCase, override_settings
from responses import matchers

from notes import exceptions
from notes.bulk import planning, runs
from notes.models import BulkItem, BulkRun, NoteActionAttempt
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import API, SETTINGS, CanvasMockMixin, ensure_groups, error, summary

HTMX = {"HTTP_HX_REQUEST": "true"}
#: A summary no page may log, store or cache (synthetic, but patient data by kind).
SECRET_SUMMARY = "Amoxicillin 500 mg capsule; 1 cap tid"


def content_body(note_id, commands=None):
    commands = commands if commands is not None else COMMANDS
    staged = sum(1 for c in commands if c["state"] == "staged")
    return {"note_id": str(note_id), "commands": commands, "staged": staged}


def command(label, state="committed", summary_text="details", schema_key="plan", by="Dr. A"):
    return {
        "id": str(uuid.uuid4()),
        "schema_key": schema_key,
        "label": label,
        "state": state,
        "entered_by": by,
        "at": "2026-11-27T15:31:00+00:00",
        "summary": summary_text,
    }


COMMANDS = [
    command("Reason for visit", summary_text="Cough; 3 days", schema_key="reasonForVisit"),
    command("Prescribe", summary_text=SECRET_SUMMARY, schema_key="prescribe"),
    command("Diagnose", state="entered_in_error", summary_text="Asthma", schema_key="diagnose"),
    command("Plan", state="staged", summary_text="Recheck in <b>2</b> weeks"),
    command("Family history", summary_text="details in Canvas", schema_key="familyHistory"),
]


@override_settings(**SETTINGS)
class ContentPageTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-p")

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)
        self.note_id = uuid.uuid4()

    def content_mock(self, **kwargs):
        return self.rsps.get(
            f"{API}notes/{self.note_id}/content",
            **(kwargs or {"json": content_body(self.note_id)}),
        )

    def test_the_note_page_shows_the_content_in_order_above_the_actions(self):
        self.rsps.get(f"{API}notes/{self.note_id}", json=summary(self.note_id, staged_commands=1))
        content = self.content_mock()
        response = self.client.get(f"/notes/{self.note_id}/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(content.call_count, 1)  # the content costs exactly one Canvas call
        self.assertEqual(len(self.rsps.calls), 2)
        html = response.content.decode()
        positions = [
            html.index(c["summary"].replace("<b>", "&lt;b&gt;").replace("</b>", "&lt;/b&gt;"))
            for c in COMMANDS
        ]
        self.assertEqual(positions, sorted(positions))
        self.assertLess(positions[-1], html.index(f'id="note-actions-{self.note_id}"'))
        self.assertInHTML(
            '<del><span class="visually-hidden">Entered in error, struck out: </span>'
            '<span class="command-label">Diagnose</span> '
            '<span class="command-summary">Asthma</span></del>',
            html,
        )
        self.assertInHTML('<span class="badge badge-staged">Not committed</span>', html)
        self.assertIn("1 command not committed in Canvas yet.", html)
        self.assertNotIn("<b>2</b>", html)  # plain text, escaped
        self.assertIn(
            'hx-confirm="This note has 1 command not committed in Canvas. Sign it anyway?"', html
        )

    def test_a_content_error_leaves_the_note_page_standing(self):
        self.rsps.get(f"{API}notes/{self.note_id}", json=summary(self.note_id))
        self.content_mock(status=503, json=error("unavailable"))
        response = self.client.get(f"/notes/{self.note_id}/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'class="content-error"')
        self.assertContains(response, f"/notes/{self.note_id}/sign/")

    def test_the_disclosure_partial_is_one_call_and_never_kept(self):
        content = self.content_mock()
        with self.assertLogs(level=logging.DEBUG) as logs:
            response = self.client.get(f"/notes/{self.note_id}/content/", **HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(content.call_count, 1)
        self.assertTemplateUsed(response, "notes/partials/note_content.html")
        self.assertTemplateNotUsed(response, "base.html")
        self.assertContains(response, SECRET_SUMMARY)
        # PHI: not cached, not logged, not stored (no audit row, nothing in the session).
        self.assertIn("no-store", response["Cache-Control"])
        self.assertTrue(logs.output)  # the request's own log lines were captured
        for line in logs.output:
            for c in COMMANDS:
                self.assertNotIn(c["summary"], line)
        self.assertFalse(NoteActionAttempt.objects.exists())
        self.assertNotIn(SECRET_SUMMARY, str(dict(self.client.session.items())))

    def test_the_note_page_is_not_cached(self):
        self.rsps.get(f"{API}notes/{self.note_id}", json=summary(self.note_id))
        self.content_mock()
        response = self.client.get(f"/notes/{self.note_id}/")
        self.assertIn("no-store", response["Cache-Control"])

    def test_without_htmx_the_partial_url_opens_the_note(self):
        response = self.client.get(f"/notes/{self.note_id}/content/")
        self.assertRedirects(response, f"/notes/{self.note_id}/", fetch_redirect_response=False)

    def test_bad_ids_and_unknown_notes_answer_in_place(self):
        response = self.client.get("/notes/not-a-note/content/", **HTMX)
        self.assertContains(response, 'class="content-error"')
        self.assertEqual(len(self.rsps.calls), 0)
        self.content_mock(status=404, json=error("note_not_found"))
        response = self.client.get(f"/notes/{self.note_id}/content/", **HTMX)
        self.assertContains(response, "Canvas has no note with that ID.")

    def test_an_empty_note(self):
        self.content_mock(json=content_body(self.note_id, commands=[]))
        response = self.client.get(f"/notes/{self.note_id}/content/", **HTMX)
        self.assertContains(response, "This note has no commands yet.")


@override_settings(**SETTINGS, NOTES_BULK_CONCURRENCY=1)
class StagedQueueTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-p", staff_id="staff-me")

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)
        self.clean = summary(state="LKD", allowed=["sign", "unlock"])
        self.staged = summary(state="LKD", allowed=["sign", "unlock"], staged_commands=2)
        self.queue = [self.clean, self.staged]

    def queue_mock(self, notes=None):
        return self.rsps.get(
            API + "notes",
            json={"notes": self.queue if notes is None else notes, "next_cursor": None},
            match=[
                matchers.query_param_matcher(
                    {"queue": "to_sign", "order": "oldest", "limit": "100"}
                )
            ],
        )

    def test_rows_open_their_content_in_place_and_flag_staged_commands(self):
        self.rsps.get(API + "notes", json={"notes": self.queue, "next_cursor": None})
        self.rsps.get(
            API + "notes/counts", json={"to_sign": 2, "overdue": 0, "open": 0, "today": 0}
        )
        html = self.client.get("/notes/?tab=to_sign").content.decode()
        for note in self.queue:
            self.assertIn(
                f'<details class="note-content-disclosure" hx-get="/notes/{note["id"]}/content/" '
                f'hx-trigger="toggle once" hx-target="#content-{note["id"]}"',
                html,
            )
        self.assertEqual(html.count("commands not committed</span>"), 1)
        self.assertIn(f'id="staged-{self.staged["id"]}">2 commands not committed</span>', html)
        self.assertEqual(html.count("Sign it anyway?"), 1)
        self.assertEqual(len(self.rsps.calls), 2)  # no content read until a row is opened

    def test_a_run_leaves_staged_notes_out_with_the_reason(self):
        self.queue_mock()
        plan = planning.plan_for_user(user=self.provider, note_ids=None)
        self.assertEqual([p.note["id"] for p in plan.to_sign], [self.clean["id"]])
        self.assertEqual([p.note["id"] for p in plan.staged], [self.staged["id"]])
        self.assertEqual(plan.title, "Sign 1 note")
        run = runs.run_start(user=self.provider, plan=plan)
        skipped = BulkItem.objects.get(run=run, note_id=self.staged["id"])
        self.assertEqual(skipped.status, BulkItem.Status.SKIPPED)
        self.assertIn("2 commands not committed in Canvas", skipped.message)
        self.assertEqual(
            BulkItem.objects.get(run=run, note_id=self.clean["id"]).status, BulkItem.Status.QUEUED
        )
        page = self.client.get(f"/notes/runs/{run.pk}/")
        self.assertContains(page, "Not started")
        self.assertContains(page, "Left out: 2 commands not committed in Canvas.")

    @override_settings(NOTES_BULK_SKIP_STAGED=False)
    def test_the_setting_lets_them_in(self):
        self.queue_mock()
        plan = planning.plan_for_user(user=self.provider, note_ids=None)
        self.assertEqual(plan.count, 2)
        self.assertFalse(plan.staged)

    def test_only_staged_notes_chosen_says_so(self):
        self.queue_mock()
        with self.assertRaises(exceptions.NothingToSign) as caught:
            planning.plan_for_user(user=self.provider, note_ids=[self.staged["id"]])
        self.assertEqual(caught.exception.message, planning.ALL_STAGED)

    def test_the_question_lists_every_note_with_its_content_disclosure(self):
        self.queue_mock()
        page = self.client.post("/notes/bulk/", {"scope": "queue"})
        self.assertContains(page, "Sign 1 note?")
        self.assertContains(page, "1 note with commands not committed in Canvas is left out")
        for note in self.queue:
            self.assertContains(page, f'hx-get="/notes/{note["id"]}/content/"')
        self.assertContains(page, "Left out</span>")
        self.assertFalse(BulkRun.objects.exists())
