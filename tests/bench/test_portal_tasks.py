"""The portal-side bench tasks find what they need in the portal."""

from datetime import timedelta

from django.test import SimpleTestCase, TestCase
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bench import portal_tasks
from notes.tasks import attempt_confirm
from tests.factories import make_attempt, make_user


class PortalTasksTests(SimpleTestCase):
    def test_every_piece_the_scenarios_need_is_found(self):
        self.assertEqual({name: why for name, why in portal_tasks.probe().items() if why}, {})

    def test_messages_come_from_every_exception_module(self):
        found = portal_tasks.messages()["messages"]
        self.assertIn("Canvas has no note with that ID.", found)
        self.assertIn("Your account is not connected to Canvas yet. Connect it to continue.", found)
        self.assertEqual([t for t in found if not isinstance(t, str) or not t], [])


class SettleTimesTests(TestCase):
    def test_only_the_window_users_confirmable_actions_count(self):
        user, other = make_user("thr01"), make_user("ovh")
        start = timezone.now()
        at = start + timedelta(seconds=1)
        settled = make_attempt(
            user, outcome="confirmed", started_at=at, resolved_at=at + timedelta(seconds=0.4)
        )
        open_one = make_attempt(user, outcome="accepted", started_at=at)
        make_attempt(user, outcome="failed", started_at=at)  # refused: nothing to confirm
        make_attempt(user, outcome="pending", started_at=at)  # no answer yet
        make_attempt(user, outcome="accepted", started_at=start - timedelta(seconds=5))
        make_attempt(other, outcome="accepted", started_at=at)
        read = portal_tasks.settle_times(
            since=start.timestamp(),
            until=(start + timedelta(seconds=2)).timestamp(),
            usernames=["thr01"],
        )
        rows = sorted(read["rows"], key=lambda row: row[2])
        self.assertEqual([row[2] for row in rows], ["accepted", "confirmed"])
        self.assertIsNone(rows[0][1])
        self.assertAlmostEqual(rows[0][0], open_one.finished_at.timestamp())
        self.assertAlmostEqual(rows[1][1] - rows[1][0], 0.4, places=3)
        self.assertAlmostEqual(rows[1][0], settled.finished_at.timestamp())
        self.assertGreaterEqual(read["now"], start.timestamp())


class LaneLoadTests(TestCase):
    def test_tasks_grouped_by_whose_attempt_and_kind_with_their_waits(self):
        runner, neighbour = make_user("nbr01"), make_user("nbr02")
        theirs, mine = make_attempt(runner), make_attempt(neighbour)
        now = timezone.now()
        due = now - timedelta(seconds=1)
        attempt_confirm.using(run_after=due).enqueue(theirs.pk)
        attempt_confirm.enqueue(mine.pk)
        # As a worker leaves them: the scheduled one taken 0.3 s after it fell
        # due, the one due at once 2 s after it was enqueued.
        scheduled = DBTaskResult.objects.get(args_kwargs__args=[theirs.pk])
        scheduled.started_at = due + timedelta(seconds=0.3)
        scheduled.finished_at = scheduled.started_at + timedelta(seconds=0.2)
        scheduled.save()
        at_once = DBTaskResult.objects.get(args_kwargs__args=[mine.pk])
        at_once.started_at = at_once.enqueued_at + timedelta(seconds=2)
        at_once.finished_at = at_once.started_at + timedelta(seconds=0.1)
        at_once.save()
        groups = portal_tasks.lane_load(
            since=(now - timedelta(seconds=10)).timestamp(),
            until=(now + timedelta(seconds=10)).timestamp(),
        )["groups"]
        self.assertEqual(
            groups,
            [
                {
                    "username": "nbr01",
                    "kind": "scheduled",
                    "tasks": 1,
                    "ran_s": 0.2,
                    "wait_p50_ms": 300.0,
                },
                {
                    "username": "nbr02",
                    "kind": "now",
                    "tasks": 1,
                    "ran_s": 0.1,
                    "wait_p50_ms": 2000.0,
                },
            ],
        )

    def test_another_lane_is_left_out(self):
        mine = make_attempt(make_user("nbr02"))
        now = timezone.now()
        attempt_confirm.enqueue(mine.pk)
        DBTaskResult.objects.filter(args_kwargs__args=[mine.pk]).update(
            started_at=now, finished_at=now + timedelta(seconds=0.1)
        )
        window = {
            "since": (now - timedelta(seconds=10)).timestamp(),
            "until": (now + timedelta(seconds=10)).timestamp(),
        }
        self.assertEqual(len(portal_tasks.lane_load(**window)["groups"]), 1)
        self.assertEqual(portal_tasks.lane_load(**window, queue="bulk")["groups"], [])
