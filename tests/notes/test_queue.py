"""The queue as Canvas shows it: one Sign, co-sign rows, honest bulk reasons, the plan rate limit.

Canvas is mocked at HTTP (`responses`): each case is tried with contract v3's
`queue_action`/`signed_by` sent, and derived when a plugin does not send them.
Every sentence that says a note is signed is checked to follow a read of Canvas
that shows it.
"""

import uuid
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.test import TestCase, override_settings
from responses import matchers

from notes import exceptions, worklist
from notes.actions import QueueAction, note_with_actions, queue_action_for
from notes.bulk import planning
from notes.models import BulkRun, NoteActionAttempt
from notes.replies import attempt_reply
from tests.factories import PASSWORD, clock_at, make_attempt, make_connection, make_user
from tests.helpers import API, SETTINGS, CanvasMockMixin, ensure_groups, error, summary

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
ME = "staff-me"


def note(state, allowed, *, sig=True, days_old=1, **extra):
    body = summary(
        uuid.uuid4(),
        state=state,
        allowed=allowed,
        datetime_of_service=(NOW - timedelta(days=days_old)).isoformat(),
        **extra,
    )
    body["note_type"]["is_sig_required"] = sig
    return body


def cosign_note(*, v3):
    """A note Dr. Chen signed on 2 Dec, awaiting my co-signature."""
    body = note("SGN", ["sign", "unlock"], supervising_provider={"id": ME, "name": "Dr. Me"})
    body["provider"] = {"id": "staff-chen", "name": "Dr. Chen"}
    body["state"].update(changed_by="staff-chen", changed_at="2026-12-02T16:00:00+00:00")
    if v3:
        body["queue_action"] = "cosign"
        body["signed_by"] = {"id": "staff-chen", "name": "Dr. Chen", "at": "2026-12-02T16:00:00Z"}
        body["state"].update(changed_by="", changed_at=None)  # v3: signed_by alone says it
    return body


def parsed(body):
    from integrations.canvas.notes import summary_parse

    return summary_parse(body)


@override_settings(**SETTINGS)
class ButtonsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))

    def buttons(self, body):
        shown = note_with_actions(user=self.provider, note=parsed(body))["actions"]
        return [(a["name"], a["label"]) for a in shown]

    def test_one_sign_on_signature_required_notes_derived_and_sent(self):
        cases = [
            ("open", note("NEW", ["lock", "lock_sign"]), "lock_sign", [("lock_sign", "Sign")]),
            ("pushed", note("PSH", ["lock", "lock_sign"]), "lock_sign", [("lock_sign", "Sign")]),
            (
                "locked",
                note("LKD", ["sign", "lock_sign", "unlock"]),
                "sign",
                [("sign", "Sign"), ("unlock", "Unlock")],
            ),
        ]
        for name, body, queue_action, expected in cases:
            for v3 in (False, True):
                with self.subTest(note=name, v3=v3):
                    sent = {**body, "queue_action": queue_action} if v3 else body
                    self.assertEqual(self.buttons(sent), expected)

    def test_lock_only_on_notes_that_need_no_signature(self):
        body = note("NEW", ["lock"], sig=False)
        self.assertIsNone(queue_action_for(parsed(body)))
        self.assertEqual(self.buttons(body), [("lock", "Lock")])

    def test_a_row_redrawn_from_an_attempts_stored_codes_keeps_one_sign(self):
        # After an action the row is drawn from the attempt's codes: no note type there.
        stored = {"id": str(uuid.uuid4()), "state": {"code": "ULK", "label": "Unlocked"},
                  "allowed_actions": ["lock", "lock_sign"]}  # fmt: skip
        shown = note_with_actions(user=self.provider, note=stored)["actions"]
        self.assertEqual([(a["name"], a["label"]) for a in shown], [("lock_sign", "Sign")])

    def test_the_plugins_queue_action_wins_over_the_derivation(self):
        # Canvas says the open note is signed from the queue with lock_sign; derived alike.
        body = note("ULK", ["lock", "lock_sign"])
        self.assertEqual(queue_action_for(parsed(body)), QueueAction.LOCK_SIGN)
        body["queue_action"] = "sign"  # what Canvas decides is what the queue shows
        self.assertEqual(queue_action_for(parsed(body)), QueueAction.SIGN)

    def test_cosign_rows_say_who_signed_and_when(self):
        for v3 in (False, True):
            with self.subTest(v3=v3):
                row = note_with_actions(user=self.provider, note=parsed(cosign_note(v3=v3)))
                self.assertEqual(row["queue_action"], QueueAction.COSIGN)
                self.assertEqual(row["signed_by"]["name"], "Dr. Chen")
                self.assertEqual(row["signed_by"]["at"].date().isoformat(), "2026-12-02")
                self.assertEqual(
                    [(a["name"], a["label"]) for a in row["actions"]],
                    [("sign", "Co-sign"), ("unlock", "Unlock")],
                )


@override_settings(**SETTINGS, NOTES_OVERDUE_DAYS=3, CLINIC_TIME_ZONE="UTC")
class QueuePageTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-p", staff_id=ME)

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def page(self, notes):
        self.rsps.get(API + "notes", json={"notes": notes, "next_cursor": None, "count": 1})
        self.rsps.get(
            API + "notes/counts", json={"to_sign": 1, "overdue": 0, "open": 0, "today": 0}
        )
        with clock_at(worklist, NOW):
            return self.client.get("/notes/?tab=to_sign")

    def test_a_cosign_row_reads_signed_by_with_a_cosign_button(self):
        for v3 in (False, True):
            with self.subTest(v3=v3):
                body = cosign_note(v3=v3)
                page = self.page([body])
                self.assertContains(page, "Signed by Dr. Chen, ")
                self.assertContains(page, "2 Dec</time> — awaits your co-signature")
                self.assertContains(page, ">Co-sign</button>")
                self.assertContains(page, f"/notes/{body['id']}/sign/")
                self.rsps.reset()

    def test_a_note_dated_tomorrow_is_not_overdue_nor_negative(self):
        body = note("NEW", ["lock", "lock_sign"], days_old=-1)
        page = self.page([body])
        self.assertContains(page, ">Tomorrow<")
        self.assertNotContains(page, "-1 day")
        self.assertNotContains(page, "badge-overdue")


@override_settings(**SETTINGS, NOTES_BULK_CONCURRENCY=1, NOTES_BULK_PLANS_PER_MINUTE=3)
class PlanReasonTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-p", staff_id=ME)

    def setUp(self):
        super().setUp()
        cache.clear()
        self.client.login(username="provider", password=PASSWORD)

    def queue_mock(self, notes):
        return self.rsps.get(
            API + "notes",
            json={"notes": notes, "next_cursor": None},
            match=[matchers.query_param_matcher({"queue": "to_sign"}, strict_match=False)],
        )

    def read_mock(self, body, **kwargs):
        return self.rsps.get(f"{API}notes/{body['id']}", json=body, **kwargs)

    def test_every_kind_is_planned_with_its_queue_action(self):
        pushed = note("PSH", ["lock", "lock_sign"], provider={"id": ME, "name": "Dr. Me"})
        open_v3 = {**note("NEW", ["lock", "lock_sign"]), "queue_action": "lock_sign"}
        locked = note("LKD", ["sign", "lock_sign", "unlock"])
        cosign = cosign_note(v3=False)
        self.queue_mock([pushed, open_v3, locked, cosign])
        ids = [n["id"] for n in (pushed, open_v3, locked, cosign)]
        plan = planning.plan_for_user(user=self.provider, note_ids=ids)
        self.assertEqual(
            [(p.action, p.label) for p in plan.notes],
            [("lock_sign", "Sign"), ("lock_sign", "Sign"), ("sign", "Sign"), ("sign", "Co-sign")],
        )
        self.assertEqual(plan.skipped, [])

    def test_already_signed_is_said_only_when_the_read_shows_my_signature(self):
        mine = note("SGN", ["unlock"], provider={"id": ME, "name": "Dr. Me"})
        mine["state"].update(changed_by=ME, changed_at="2026-12-03T09:15:00+00:00")
        theirs_signed = note("SGN", ["unlock"], provider={"id": ME, "name": "Dr. Me"})
        theirs_signed["state"].update(changed_by="staff-other")  # signed, but not by me
        locked_elsewhere = note("LKD", [], provider={"id": ME, "name": "Dr. Me"})
        someone_elses = note("LKD", [], provider={"id": "staff-x", "name": "Dr. X"})
        gone = str(uuid.uuid4())
        self.queue_mock([])
        for body in (mine, theirs_signed, locked_elsewhere, someone_elses):
            self.read_mock(body)
        self.rsps.get(f"{API}notes/{gone}", status=404, json=error("note_not_found"))
        ids = [mine["id"], theirs_signed["id"], locked_elsewhere["id"], someone_elses["id"], gone]
        with self.assertRaises(exceptions.NothingToSign) as caught:
            planning.plan_for_user(user=self.provider, note_ids=ids)
        reasons = {s.note_id: s.reason for s in caught.exception.skipped}
        self.assertEqual(
            reasons[mine["id"]], "Already signed: Canvas shows your signature on it (3 Dec, 09:15)."
        )
        self.assertEqual(
            reasons[theirs_signed["id"]], "Canvas would refuse to sign it while it is Signed."
        )
        self.assertEqual(
            reasons[locked_elsewhere["id"]], "Canvas would refuse to sign it while it is Locked."
        )
        self.assertEqual(
            reasons[someone_elses["id"]], "Someone else's note (Dr. X): not yours to sign."
        )
        self.assertEqual(reasons[gone], planning.SkipReason.GONE)
        # Only the note whose read showed SGN by me is called signed by me.
        signed = [n for n, r in reasons.items() if "already signed" in r.lower()]
        self.assertEqual(signed, [mine["id"]])
        self.assertNotIn("signed", caught.exception.message.lower())

    def test_nothing_to_sign_names_each_note_on_the_page_not_signed(self):
        locked = note("LKD", [], provider={"id": ME, "name": "Dr. Me"})
        self.queue_mock([])
        self.read_mock(locked)
        page = self.client.post("/notes/bulk/", {"scope": "selected", "note": [locked["id"]]})
        self.assertContains(page, "Nothing to sign")
        self.assertContains(page, "Canvas would refuse to sign it while it is Locked.")
        self.assertNotContains(page, "Canvas shows them signed")
        self.assertNotContains(page, 'name="confirm"')
        self.assertFalse(BulkRun.objects.exists())

    def test_a_partly_planned_run_names_the_left_out_note_in_the_question(self):
        locked = note("LKD", ["sign", "lock_sign", "unlock"])
        gone = str(uuid.uuid4())
        self.queue_mock([locked])
        self.rsps.get(f"{API}notes/{gone}", status=404, json=error("note_not_found"))
        page = self.client.post("/notes/bulk/", {"scope": "selected", "note": [locked["id"], gone]})
        self.assertContains(page, "Sign 1 note?")
        self.assertContains(page, "Not in this run (1)")
        self.assertContains(page, "No longer in your queue in Canvas.")

    def test_plans_are_rate_limited_before_any_canvas_read(self):
        locked = note("LKD", ["sign", "lock_sign", "unlock"])
        listing = self.queue_mock([locked])
        for _ in range(20):
            response = self.client.post("/notes/bulk/", {"scope": "queue"})
        self.assertEqual(listing.call_count, 3)  # NOTES_BULK_PLANS_PER_MINUTE reads, no more
        self.assertEqual(len(self.rsps.calls), 3)
        page = self.client.get(response["Location"])
        self.assertContains(page, "Too many requests to sign several notes in a minute")

    def test_the_limit_counts_per_user_and_per_minute(self):
        other = make_user("other", groups=("Providers",))
        for _ in range(3):
            planning.plan_rate_check(user=self.provider, now=NOW)
        with self.assertRaises(exceptions.BulkPlanLimited):
            planning.plan_rate_check(user=self.provider, now=NOW)
        planning.plan_rate_check(user=other, now=NOW)
        planning.plan_rate_check(user=self.provider, now=NOW + timedelta(minutes=1))


@override_settings(**SETTINGS)
class SignedSentenceTests(TestCase):
    """Each sentence saying "signed" is reached only after a read of Canvas shows it."""

    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))

    def test_note_signed_only_for_a_confirmed_attempt(self):
        for outcome in NoteActionAttempt.Outcome.values:
            with self.subTest(outcome=outcome):
                attempt = make_attempt(self.provider, action="sign", outcome=outcome)
                message = attempt_reply(user=self.provider, attempt=attempt).message
                # CONFIRMED is set only by notes.confirmation after the history shows SGN.
                self.assertEqual(message == "Note signed.", outcome == "confirmed")

    def test_no_page_template_says_canvas_shows_them_signed(self):
        from pathlib import Path

        root = Path(__file__).resolve().parents[2] / "templates"
        for path in root.rglob("*.html"):
            with self.subTest(template=str(path.relative_to(root))):
                self.assertNotIn("shows them signed", path.read_text())
        self.assertNotIn("signed", exceptions.NothingToSign().message.lower())
        self.assertNotIn("signed", exceptions.NothingToSign(skipped=[]).message.lower())
