"""Scenario 6's bookkeeping: the portal's word against the sandbox's effects."""

from datetime import UTC, datetime, timedelta

from django.test import SimpleTestCase

from bench import confirm

STAFF = "staff-1"
ACCEPTED = "2026-11-30T12:00:00.123456+00:00"


def _attempt(**fields):
    data = {
        "outcome": "confirmed",
        "canvas_staff_id": STAFF,
        "accepted_at": ACCEPTED,
        "started_at": "2026-11-30T12:00:00.050000+00:00",
        "finished_at": "2026-11-30T12:00:00.200000+00:00",
        "resolved_at": "2026-11-30T12:00:00.700000+00:00",
    }
    data.update(fields)
    return data


def _effect(status, *, accepted_at=ACCEPTED, by=STAFF, effect="lock_note"):
    return {"effect": effect, "by": by, "accepted_at": accepted_at, "status": status}


class SaidOutcomeTests(SimpleTestCase):
    def test_toast_levels_map_to_outcomes(self):
        self.assertEqual(confirm.said_outcome("success"), "confirmed")
        self.assertEqual(confirm.said_outcome("error"), "not_applied")
        self.assertEqual(confirm.said_outcome("warning"), "unknown")
        self.assertEqual(confirm.said_outcome(""), "level none")


class SandboxTruthTests(SimpleTestCase):
    def test_the_effect_of_the_same_acceptance_decides(self):
        effects = [
            _effect("rejected", accepted_at="2026-11-30T11:59:58.000000+00:00"),
            _effect("applied"),
        ]
        self.assertEqual(confirm.sandbox_truth(_attempt(), effects), "applied")

    def test_the_same_instant_in_another_notation_matches(self):
        effects = [_effect("applied", accepted_at="2026-11-30T12:00:00.123456Z")]
        self.assertEqual(confirm.sandbox_truth(_attempt(), effects), "applied")

    def test_rejected_refused_and_vetoed_are_not_applied(self):
        for status in ("rejected", "refused", "vetoed"):
            with self.subTest(status=status):
                self.assertEqual(
                    confirm.sandbox_truth(_attempt(), [_effect(status)]), "not_applied"
                )

    def test_two_effects_partly_applied_and_pending(self):
        both = [_effect("applied"), _effect("refused", effect="sign_note")]
        self.assertEqual(confirm.sandbox_truth(_attempt(), both), "partial")
        waiting = [_effect("applied"), _effect("pending", effect="sign_note")]
        self.assertEqual(confirm.sandbox_truth(_attempt(), waiting), "pending")

    def test_nothing_accepted_then(self):
        other = [_effect("applied", accepted_at="2026-11-30T12:00:05.000000+00:00")]
        self.assertEqual(confirm.sandbox_truth(_attempt(), other), "none")

    def test_another_staff_members_effect_is_not_ours(self):
        self.assertEqual(confirm.sandbox_truth(_attempt(), [_effect("applied", by="x")]), "none")

    def test_without_canvas_time_the_request_window_matches(self):
        attempt = _attempt(outcome="unknown", accepted_at=None)
        near = _effect("applied", accepted_at="2026-11-30T12:00:03.000000+00:00")
        far = _effect("rejected", accepted_at="2026-11-30T12:00:09.000000+00:00")
        self.assertEqual(confirm.sandbox_truth(attempt, [near, far]), "applied")


class WrongTests(SimpleTestCase):
    def test_confirmed_needs_applied(self):
        self.assertFalse(confirm.is_wrong("confirmed", "applied"))
        for truth in ("not_applied", "none", "partial", "pending"):
            with self.subTest(truth=truth):
                self.assertTrue(confirm.is_wrong("confirmed", truth))

    def test_not_applied_is_wrong_only_when_something_landed(self):
        self.assertTrue(confirm.is_wrong("not_applied", "applied"))
        self.assertTrue(confirm.is_wrong("not_applied", "partial"))
        self.assertFalse(confirm.is_wrong("not_applied", "not_applied"))
        self.assertFalse(confirm.is_wrong("not_applied", "none"))

    def test_unknown_is_never_wrong(self):
        for truth in ("applied", "not_applied", "none"):
            self.assertFalse(confirm.is_wrong("unknown", truth))


class OverdueTests(SimpleTestCase):
    finished = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)

    def _overdue(self, attempt, seconds_after):
        return confirm.overdue(
            attempt,
            now=self.finished + timedelta(seconds=seconds_after),
            confirm_seconds=3,
            margin_seconds=5,
        )

    def test_unresolved_past_deadline_and_margin(self):
        attempt = _attempt(
            outcome="accepted", resolved_at=None, finished_at=self.finished.isoformat()
        )
        self.assertFalse(self._overdue(attempt, 7.9))
        self.assertTrue(self._overdue(attempt, 8.1))

    def test_resolved_unknown_and_settled_ones_are_not(self):
        settled = _attempt(outcome="unknown", finished_at=self.finished.isoformat())
        self.assertFalse(self._overdue(settled, 60))
        confirmed = _attempt(resolved_at=None, finished_at=self.finished.isoformat())
        self.assertFalse(self._overdue(confirmed, 60))

    def test_ms_between(self):
        attempt = _attempt()
        self.assertEqual(confirm.ms_between(attempt, "accepted_at", "resolved_at"), 576.54)
        unresolved = _attempt(resolved_at=None)
        self.assertIsNone(confirm.ms_between(unresolved, "started_at", "resolved_at"))
