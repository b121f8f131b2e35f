"""Every sentence that says "signed" is reached only after a read of Canvas shows it (issue 22).

For each one the action goes through the page for real: Canvas's 202 alone
(accepted, nothing read yet) does not produce it, nor does a read that does
not show the change by this user (for a co-signature: a note already signed
by someone else); the read that shows it does. Canvas is mocked at HTTP
(the 202, and the batched history read of notes.confirmation).
"""

import json
from datetime import timedelta

from django.test import override_settings

from notes import late
from notes.bulk import executor
from notes.models import NoteActionAttempt
from tests.factories import PASSWORD, make_item, make_run
from tests.helpers import API, accepted
from tests.notes.test_confirmation import ACCEPTED_AT, ME, ConfirmationTestCase, entry

HTMX = {"HTTP_HX_REQUEST": "true"}
#: Canvas shows the change this long after it accepted it.
SHOWN_AT = ACCEPTED_AT + timedelta(milliseconds=300)
#: The first signer of a note awaiting a co-signature.
FIRST_SIGNER = "s-chen"
EFFECTS = {"sign": ("SIGN_NOTE",), "lock_sign": ("LOCK_NOTE", "SIGN_NOTE")}


class SignedSentenceTestCase(ConfirmationTestCase):
    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def send(self, action, *, from_state="LKD", js=True):
        """Press the button: Canvas answers 202; return the page's answer and the row.

        With JavaScript (htmx) the answer is the row's fragment; without, the
        page the form's `next` names (My activity, a database read) with the
        message the action left.
        """
        body = accepted(self.note_id, action, from_state=from_state, effects=EFFECTS[action])
        self.rsps.post(f"{API}notes/{self.note_id}/{action}", status=202, json=body)
        url = f"/notes/{self.note_id}/{action}/"
        if js:
            response = self.client.post(url, {"view": "row"}, **HTMX)
        else:
            response = self.client.post(url, {"next": "/notes/activity/"}, follow=True)
            self.assertContains(response, "requested: Canvas accepted it.")
        self.assertEqual(response.status_code, 200)
        attempt = NoteActionAttempt.objects.get(note_id=self.note_id, action=action)
        self.assertEqual((attempt.outcome, attempt.accepted_at), ("accepted", ACCEPTED_AT))
        return response, attempt

    def poll(self, attempt):
        """The row's poll of the attempt (a database read only)."""
        return self.client.get(f"/notes/attempts/{attempt.pk}/?view=row", **HTMX)

    def assertNotSaid(self, attempt, sentence):
        """Neither the row's poll nor My activity says it: nothing final yet."""
        poll = self.poll(attempt)
        self.assertEqual(poll.status_code, 204)  # still following it
        self.assertNotIn(sentence, poll.content.decode())
        self.assertNotIn("HX-Trigger", poll)
        activity = self.client.get("/notes/activity/")
        self.assertContains(activity, "Confirming…")
        self.assertNotContains(activity, "Confirmed in Canvas")
        self.assertNotContains(activity, "Applied late by Canvas")

    def assertSaidOnce(self, attempt, sentence, *, level="success"):
        poll = self.poll(attempt)
        self.assertEqual(poll.status_code, 286)  # settled: the row stops polling
        self.assertEqual(
            json.loads(poll["HX-Trigger"])["toast"], {"message": sentence, "level": level}
        )
        return poll

    def walk(self, action, sentence, *, before, from_state="LKD", js=True):
        """The 202, then a read that does not show the change, then one that does."""
        reads = len(self.rsps.calls)
        response, attempt = self.send(action, from_state=from_state, js=js)
        self.assertNotContains(response, sentence)
        self.assertNotContains(response, "badge-SGN")  # the row's state badge is not redrawn
        self.assertNotIn("HX-Trigger", response)  # no toast for an accepted action
        self.assertNotSaid(attempt, sentence)
        self.assertEqual(len(self.rsps.calls), reads + 1)  # the POST alone: nothing read yet

        before()
        self.assertFalse(self.check(attempt).final)
        self.assertNotSaid(attempt, sentence)

        self.rsps.reset()
        self.note_read("SGN", ["unlock"], at=SHOWN_AT, history=[entry("SGN", at=SHOWN_AT)])
        self.assertEqual(self.check(attempt).outcome, "confirmed")
        poll = self.assertSaidOnce(attempt, sentence)
        self.assertContains(poll, f'class="badge badge-SGN" id="note-state-{self.note_id}"',
                            status_code=286)  # fmt: skip
        self.assertContains(self.client.get("/notes/activity/"), "Confirmed in Canvas")


class ActionSentenceTests(SignedSentenceTestCase):
    def test_note_signed_only_once_a_read_shows_my_signature(self):
        locked_earlier = ACCEPTED_AT - timedelta(days=1)
        self.walk(
            "sign",
            "Note signed.",
            before=lambda: self.note_read("LKD", ["sign", "unlock"], at=locked_earlier),
        )

    def test_note_locked_and_signed_only_once_a_read_shows_the_signature(self):
        # Lock & sign's first step alone (locked by me after the 202) is not it.
        self.walk(
            "lock_sign",
            "Note locked and signed.",
            from_state="NEW",
            js=False,
            before=lambda: self.note_read(
                "LKD", ["sign", "unlock"], at=SHOWN_AT, history=[entry("LKD", at=SHOWN_AT)]
            ),
        )

    def test_a_cosignature_is_not_said_from_anyone_elses_signature(self):
        # The note reads "Signed" in Canvas all along: by the first signer, by me
        # long before the 202, and by another supervisor since. None is my co-signature.
        first = ACCEPTED_AT - timedelta(days=1)
        self.walk(
            "sign",
            "Note signed.",
            from_state="SGN",
            before=lambda: self.note_read(
                "SGN",
                ["sign", "unlock"],
                by="s-other",
                at=SHOWN_AT,
                history=[
                    entry("SGN", by=ME, at=first - timedelta(days=1)),
                    entry("SGN", by=FIRST_SIGNER, at=first),
                    entry("SGN", by="s-other", at=SHOWN_AT),
                ],
            ),
        )


class AppliedLateSentenceTests(SignedSentenceTestCase):
    def late_walk(self, action, sentence, *, from_state="LKD", js=True):
        """Not shown by the deadline (not applied), then shown by the late sweep's read."""
        landed = ACCEPTED_AT + timedelta(seconds=45)
        response, attempt = self.send(action, from_state=from_state, js=js)
        self.assertNotContains(response, sentence)
        self.assertNotSaid(attempt, sentence)

        self.note_read("LKD", ["sign", "unlock"], at=ACCEPTED_AT - timedelta(days=1))
        check = self.check(attempt, at=attempt.finished_at + timedelta(seconds=31))
        self.assertEqual(check.outcome, "not_applied")
        poll = self.poll(attempt)
        toast = json.loads(poll["HX-Trigger"])["toast"]
        self.assertEqual((poll.status_code, toast["level"]), (286, "error"))
        self.assertTrue(toast["message"].startswith("Canvas did not apply the "), toast)
        self.assertNotIn("signed", toast["message"].lower())
        # A later sweep whose read still shows nothing by me finds nothing.
        self.rsps.reset()
        self.note_read("LKD", ["sign", "unlock"], at=ACCEPTED_AT - timedelta(days=1))
        self.assertEqual(late.attempts_find_late(), 0)
        self.assertNotIn(sentence, self.poll(attempt).content.decode())
        self.assertNotContains(self.client.get("/notes/activity/"), "Applied late by Canvas")

        self.rsps.reset()
        self.note_read("SGN", ["unlock"], at=landed, history=[entry("SGN", at=landed)])
        self.assertEqual(late.attempts_find_late(), 1)
        self.assertSaidOnce(attempt, sentence)
        self.assertContains(self.client.get("/notes/activity/"), "Applied late by Canvas")

    def test_signed_late_only_once_a_read_shows_it(self):
        self.late_walk(
            "sign", "Note signed: Canvas applied it after the portal had stopped checking."
        )

    def test_locked_and_signed_late_only_once_a_read_shows_it(self):
        self.late_walk(
            "lock_sign",
            "Note locked and signed: Canvas applied it after the portal had stopped checking.",
            from_state="NEW",
            js=False,
        )


@override_settings(NOTES_BULK_CONCURRENCY=1)
class RunPageSignedCountTests(SignedSentenceTestCase):
    """The run page's "Signed N" counts a note only once a read of Canvas shows it signed."""

    def test_signed_counts_a_note_only_after_the_read_that_shows_it(self):
        run = make_run(self.provider, label="Sign 1 note")
        make_item(run, action="sign", note_id=self.note_id)
        self.rsps.post(f"{API}notes/{self.note_id}/sign", status=202,
                       json=accepted(self.note_id, "sign"))  # fmt: skip
        answers = [
            # The first read: still locked, as before the 202.
            self.history("LKD", ["sign", "unlock"], at=ACCEPTED_AT - timedelta(days=1), by=ME),
            # The next: signed by me after the 202.
            self.history("SGN", ["unlock"], at=SHOWN_AT, by=ME),
        ]
        seen = []

        def read(request):
            # Each read is answered only after the page is looked at: what it
            # shows now is what the 202 and the reads before this one allow.
            seen.append(self.run_page(run))
            return 200, {}, json.dumps({"notes": {str(self.note_id): answers[len(seen) - 1]},
                                        "as_of": SHOWN_AT.isoformat()})  # fmt: skip

        self.rsps.add_callback("GET", f"{API}notes/history", callback=read)
        self.assertEqual(executor.run_execute(run_id=run.pk), "done")
        self.assertEqual(len(seen), 2)  # the 202, then each of the two reads
        for page in seen:  # after the 202 alone, and after the read that showed nothing
            self.assertIn("Signed 0", page)
            self.assertIn("In progress 1", page)
            self.assertNotIn("result-confirmed", page)
        page = self.run_page(run)
        self.assertIn("Signed 1", page)
        self.assertIn('<span class="badge result-confirmed">Signed</span>', page)
        self.assertNotIn("In progress", page)

    def history(self, state, allowed, *, at, by):
        return {
            "state": {"code": state, "label": state, "changed_at": at.isoformat(),
                      "changed_by": by},
            "allowed_actions": allowed,
            "history": [entry(state, at=at, by=by)],
        }  # fmt: skip

    def run_page(self, run):
        response = self.client.get(f"/notes/runs/{run.pk}/")
        self.assertEqual(response.status_code, 200)
        return response.content.decode()
