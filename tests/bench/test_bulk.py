"""Scenario 7's bookkeeping: the run's pages as the bench reads them, and each item judged."""

import uuid
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.test import SimpleTestCase

from bench import bulk, config, report

STAFF = "staff-1"
ACCEPTED = "2026-11-30T12:00:00.123456+00:00"

CONFIRM_PAGE = """<h1 id="bulk-confirm-title">Sign 3 notes?</h1>
<form method="post" action="/notes/bulk/" class="bulk-confirm-actions">
  <input type="hidden" name="csrfmiddlewaretoken" value="abc">
  <input type="hidden" name="confirm" value="1">
  <input type="hidden" name="note" value="11111111-1111-4111-8111-111111111111"><input
    value="22222222-2222-4222-8222-222222222222" name="note" type="hidden">
  <input type="checkbox" name="note" value="not-a-hidden-one">
  <input type="hidden" name="note" value="33333333-3333-4333-8333-333333333333">
</form>"""


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


def _item(status="sent", attempt=None, **fields):
    return {"status": status, "attempt": attempt, "message": "", **fields}


def _effect(status, *, accepted_at=ACCEPTED, by=STAFF, effect="sign_note"):
    return {"effect": effect, "by": by, "accepted_at": accepted_at, "status": status}


class ConfirmationPageTests(SimpleTestCase):
    def test_the_hidden_note_inputs_in_page_order(self):
        self.assertEqual(
            bulk.planned_notes(CONFIRM_PAGE),
            [
                "11111111-1111-4111-8111-111111111111",
                "22222222-2222-4222-8222-222222222222",
                "33333333-3333-4333-8333-333333333333",
            ],
        )
        self.assertEqual(bulk.planned_notes("<p>Nothing to sign</p>"), [])

    def test_the_question_is_the_heading(self):
        self.assertEqual(bulk.plan_title(CONFIRM_PAGE), "Sign 3 notes?")
        self.assertEqual(bulk.plan_title("<p>no heading</p>"), "")

    def test_the_run_id_of_the_redirect(self):
        self.assertEqual(bulk.run_id_in("/notes/runs/42/"), 42)
        self.assertEqual(bulk.run_id_in("http://127.0.0.1:8000/notes/runs/7/"), 7)
        self.assertIsNone(bulk.run_id_in("/notes/?tab=to_sign"))
        self.assertIsNone(bulk.run_id_in(None))


class ProgressPanelTests(SimpleTestCase):
    """The panel the portal really renders (templates/notes/partials/run_progress.html)."""

    def _render(self, results, *, status="running"):
        from notes import bulk as service
        from notes.models import BulkItem, BulkRun

        run = BulkRun(pk=7, status=status, label="Sign 3 notes", created_at=datetime.now(UTC))
        items = [
            (BulkItem(run=run, position=i, note_id=uuid.uuid4(), action="sign", label="Sign"), r)
            for i, r in enumerate(results)
        ]
        progress = service.Progress(run=run, items=items)
        return render_to_string(
            "notes/partials/run_progress.html", {"progress": progress, "oob": True}
        )

    def test_a_run_going_shows_done_of_total_and_its_badges(self):
        panel = bulk.progress_of(self._render(["confirmed", "in_flight", "waiting"]))
        self.assertEqual((panel["done"], panel["total"], panel["says_done"]), (1, 3, False))
        self.assertEqual(panel["counts"], {"confirmed": 1, "in_flight": 1})

    def test_a_finished_run_says_done_with_every_outcome(self):
        results = ["confirmed", "not_applied", "refused", "unknown", "skipped"]
        panel = bulk.progress_of(self._render(results, status="done"))
        self.assertEqual((panel["done"], panel["total"], panel["says_done"]), (5, 5, True))
        self.assertEqual(panel["counts"], {r: 1 for r in results})

    def test_a_page_without_a_panel(self):
        self.assertEqual(
            bulk.progress_of("<p>Not found</p>"),
            {"done": None, "total": None, "says_done": False, "counts": {}},
        )


class FiguresTests(SimpleTestCase):
    def test_the_ideal_run(self):
        # 50 calls at 50 ms, 4 at a time, then one effect delay.
        self.assertEqual(
            bulk.ideal_ms(notes=50, call_ms=50, concurrency=4, effect_delay_ms=300), 925.0
        )
        self.assertEqual(
            bulk.ideal_ms(notes=20, call_ms=50, concurrency=0, effect_delay_ms=300), 1300.0
        )

    def test_max_overlap(self):
        self.assertEqual(bulk.max_overlap([]), 0)
        self.assertEqual(bulk.max_overlap([(0, 10), (1, 5), (2, 3), (11, 12)]), 3)
        # One call ending as the next starts is one at a time.
        self.assertEqual(bulk.max_overlap([(0, 10), (10, 20), (20, 30)]), 1)

    def test_ms_after(self):
        start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
        self.assertEqual(bulk.ms_after("2026-11-30T12:00:01.250000+00:00", start), 1250.0)
        self.assertEqual(bulk.ms_after("2026-11-30T11:59:59.900000+00:00", start), -100.0)
        self.assertIsNone(bulk.ms_after(None, start))


class ItemResultTests(SimpleTestCase):
    """The portal's result for an item, as notes.bulk.item_result reads its rows."""

    def test_results(self):
        cases = [
            (_item("refused"), "refused"),
            (_item("skipped"), "skipped"),
            (_item("queued"), "waiting"),
            (_item("sending"), "in_flight"),
            (_item(attempt=_attempt(outcome="pending", resolved_at=None)), "in_flight"),
            (_item(attempt=_attempt(outcome="accepted", resolved_at=None)), "in_flight"),
            (_item(attempt=_attempt()), "confirmed"),
            (_item(attempt=_attempt(outcome="not_applied")), "not_applied"),
            (_item(attempt=_attempt(outcome="failed")), "refused"),
            (_item(attempt=_attempt(outcome="unknown")), "unknown"),
        ]
        for item, expected in cases:
            with self.subTest(expected=expected, item=item):
                self.assertEqual(bulk.item_result(item), expected)


class ItemTruthTests(SimpleTestCase):
    def test_an_item_with_an_attempt_is_judged_by_its_acceptance(self):
        item = _item(attempt=_attempt())
        earlier = _effect("applied", accepted_at="2026-11-30T11:00:00+00:00")
        self.assertEqual(bulk.item_truth(item, [earlier, _effect("rejected")]), "not_applied")
        both = [_effect("applied", effect="lock_note"), _effect("applied")]
        self.assertEqual(bulk.item_truth(item, both), "applied")

    def test_an_item_never_sent_is_judged_on_the_notes_effects(self):
        self.assertEqual(bulk.item_truth(_item("refused"), []), "none")
        self.assertEqual(bulk.item_truth(_item("skipped"), [_effect("applied")]), "applied")
        self.assertEqual(bulk.item_truth(_item("refused"), [_effect("rejected")]), "not_applied")
        self.assertEqual(
            bulk.item_truth(_item("refused"), [_effect("applied"), _effect("vetoed")]), "partial"
        )
        self.assertEqual(bulk.item_truth(_item("refused"), [_effect("pending")]), "pending")

    def test_wrong_results(self):
        self.assertFalse(bulk.is_wrong("confirmed", "applied"))
        self.assertTrue(bulk.is_wrong("confirmed", "not_applied"))
        self.assertTrue(bulk.is_wrong("confirmed", "none"))
        self.assertFalse(bulk.is_wrong("not_applied", "not_applied"))
        self.assertTrue(bulk.is_wrong("not_applied", "applied"))
        self.assertTrue(bulk.is_wrong("refused", "partial"))
        self.assertFalse(bulk.is_wrong("refused", "none"))
        self.assertTrue(bulk.is_wrong("skipped", "applied"))
        self.assertFalse(bulk.is_wrong("unknown", "applied"))
        self.assertFalse(bulk.is_wrong("in_flight", "applied"))


def _row(text, figure):
    for line in text.splitlines():
        cells = line.split(None, 1)
        if len(cells) == 2 and cells[1].startswith(figure):
            return line
    raise AssertionError(f"no row {figure!r} in:\n{text}")


class BulkReportTests(SimpleTestCase):
    def test_bulk_shows_its_ratio_counts_and_goals(self):
        clean = {
            "ms_after_post": {
                "run_created": 160.0,
                "first_sent": 258.0,
                "last_answer": 3046.0,
                "run_finished": 3079.0,
                "last_resolved": 8701.0,
            },
            "call_ms": {"p50": 373.6},
            "max_concurrent_calls": 4,
            "confirmation_checks": 50,
            "checks_started_before_run_finished": 0,
            "check_ms": {"p50": 180.0},
            "to_accepted_ms": {"p50": 94.0},
            "accepted_to_answer_ms": {"p50": 66.0},
            "cpu_s_post_to_286": {"portal": 0.63, "sandbox": 2.5, "worker1": 1.41},
            "polls": 157,
            "portal_cpu_ms_per_poll": 40.8,
        }
        refusing = {
            "faults": {"effect_reject_rate": 0.1},
            "confirmed": 45,
            "not_applied": 5,
            "refused": 0,
            "unknown": 0,
        }
        results = {
            "bulk": {
                "notes": 50,
                "concurrency": 4,
                "latency_ms": 50,
                "effect_delay_ms": 300,
                "ideal_ms": 925.0,
                "poll_every_ms": 50,
                "wall_ms": 1300.0,
                "ratio_to_ideal": 1.405,
                "errors": 0,
                "confirmed": 50,
                "wall_ms_with_refusals": 4100.0,
                "wrong_outcomes": 0,
                "runs": {"clean": clean, "with_refusals": refusing},
                "goals": {
                    "ratio_to_ideal <= 1.5": True,
                    "errors == 0": True,
                    "confirmed == 50": True,
                    "wrong_outcomes == 0": True,
                },
            }
        }
        text = report.table(results)
        self.assertIn("50 x 4 (50 ms, 300 ms)", text)
        self.assertIn("925", _row(text, "ideal ms (50 x 50 / 4 + 300)"))
        row = _row(text, "ratio_to_ideal")
        self.assertIn("1.41", row)
        self.assertTrue(row.endswith("<= 1.5"))
        self.assertIn("160.0 / 258.0 / 3046.0 / 3079.0 / 8701.0", _row(text, "ms after POST"))
        self.assertIn("4 / 373.6", _row(text, "Canvas calls: max at once"))
        self.assertIn("50 (0) / 180.0", _row(text, "confirmation checks"))
        self.assertIn("94.0 / 66.0", _row(text, "a call p50 ms: start -> Canvas accepted"))
        self.assertIn("0.63 / 2.5 / 1.41", _row(text, "CPU s POST -> 286: portal / sandbox"))
        self.assertIn("157 / 40.8", _row(text, "progress polls (every 50 ms)"))
        self.assertTrue(_row(text, "confirmed").endswith("50"))
        self.assertIn("45 / 5 / 0 / 0", _row(text, "reject 0.1: signed / not applied"))
        self.assertTrue(_row(text, "wrong_outcomes").endswith("0"))
        for goal in ("ratio_to_ideal <= 1.5", "errors == 0", "confirmed == 50"):
            with self.subTest(goal=goal):
                self.assertTrue(_row(text, f"GOAL {goal}").endswith("holds"))

    def test_bulk_not_run_says_why(self):
        text = report.table({"bulk": {"status": "not run: bulk_url missing"}})
        self.assertIn("not run: bulk_url missing", text)


class BulkSettingsTests(SimpleTestCase):
    def test_bulk_runs_before_throughput_with_quick_and_flag_sizes(self):
        order = list(config.SCENARIOS)
        self.assertLess(order.index("confirm"), order.index("bulk"))
        self.assertLess(order.index("bulk"), order.index("throughput"))
        self.assertEqual(config.parse([]).bulk_notes, 50)
        self.assertEqual(config.parse(["--quick"]).bulk_notes, config.QUICK["bulk_notes"])
        self.assertEqual(config.parse(["--bulk-notes", "30"]).bulk_notes, 30)
        self.assertEqual(config.parse(["--scenarios", "bulk"]).scenarios, ["bulk"])
