"""The confirmation on real task workers: `db_worker` processes beside a real portal and sandbox.

The portal runs as its own process (tests/e2e/harness.py) on a temporary
SQLite file, or on a fresh PostgreSQL database when this suite runs on
PostgreSQL; its workers are `manage.py db_worker` processes, as under
`make run`. Actions are performed by the portal's own service in a
`manage.py shell` of that portal, so the tasks land in its queue.
"""

from __future__ import annotations

import json
import os
import signal
import time

from django.test import SimpleTestCase

from tests.e2e.harness import Servers

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
CONFIRM_SECONDS = 6

LINK = """
import json
from django.contrib.auth import get_user_model
from tests.factories import make_connection
link = json.loads({link!r})
user = get_user_model().objects.get(username="provider")
make_connection(user, **link)
"""

PERFORM = """
from django.contrib.auth import get_user_model
from notes.attempts import note_action_perform
user = get_user_model().objects.get(username="provider")
print(note_action_perform(user=user, note_id={note_id!r}, action={action!r}).pk)
"""


START_RUN = """
from django.contrib.auth import get_user_model
from notes.bulk import planning, runs
user = get_user_model().objects.get(username="provider")
plan = planning.plan_for_user(user=user, note_ids={note_ids!r})
print(runs.run_start(user=user, plan=plan, request_id="req-bulk").pk)
"""


class WorkerTests(SimpleTestCase):
    """Confirmation across processes: several workers, and a worker that dies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.servers = Servers().start(
            effect_delay_ms=300,
            workers=0,
            postgres_url=POSTGRES_URL if POSTGRES_URL.startswith("postgres") else None,
            portal_env={"NOTES_CONFIRM_SECONDS": str(CONFIRM_SECONDS)},
        )
        cls.portal, cls.sandbox = cls.servers.portal, cls.servers.sandbox
        tokens = cls.sandbox.issue_tokens("provider")
        me = cls.sandbox.api("GET", "/me", token=tokens["access_token"]).json()
        link = {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_in": tokens["expires_in"],
            "staff_id": me["staff"]["id"],
            "staff_name": me["staff"]["name"],
            "canvas_user_id": me["user_id"],
        }
        cls.portal.manage("shell", "-c", LINK.format(link=json.dumps(link)))

    @classmethod
    def tearDownClass(cls):
        cls.servers.stop()
        super().tearDownClass()

    def tearDown(self):
        for worker in self.portal.workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=10)
        self.portal.workers.clear()
        self.sandbox.reset_faults()

    def perform(self, note_id: str, action: str = "sign") -> int:
        out = self.portal.manage("shell", "-c", PERFORM.format(note_id=note_id, action=action))
        return int(out.strip().splitlines()[-1])

    def attempt(self, attempt_id: int) -> dict:
        [row] = self.portal.query(
            "SELECT outcome, resolved_at, error_code FROM notes_noteactionattempt WHERE id = ?",
            (attempt_id,),
        )
        return {"outcome": row[0], "resolved_at": row[1], "error_code": row[2]}

    def confirm_tasks(self, attempt_id: int) -> list[tuple[str, list[str]]]:
        """Return (status, worker ids) of every confirm task run for the attempt."""
        rows = self.portal.query(
            "SELECT status, worker_ids, args_kwargs FROM django_tasks_database_dbtaskresult"
        )
        found = []
        for status, worker_ids, args_kwargs in rows:
            args = json.loads(args_kwargs) if isinstance(args_kwargs, str) else args_kwargs
            ids = json.loads(worker_ids) if isinstance(worker_ids, str) else worker_ids
            if args["args"] == [attempt_id]:
                found.append((status, ids))
        return found

    def wait_for(self, what, predicate, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}:\n{self.portal.log()[-3000:]}")
            time.sleep(0.1)  # bounded polling of another process's database

    def test_two_workers_confirming_the_same_attempt_agree(self):
        # Both workers idle first; Canvas refuses the effect, so six chains of
        # reads of the one attempt run on both until its deadline.
        started = self.portal.log().count("Starting worker")
        self.portal.start_worker()
        self.portal.start_worker()
        self.wait_for(
            "both workers to start",
            lambda: self.portal.log().count("Starting worker") >= started + 2,
        )
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        self.sandbox.veto(note["id"])
        attempt_id = self.perform(note["id"])
        enqueue = "from notes.tasks import attempt_confirm\n" + "".join(
            f"attempt_confirm.enqueue({attempt_id})\n" for _ in range(5)
        )
        self.portal.manage("shell", "-c", enqueue)
        self.wait_for(
            "the attempt to settle",
            lambda: self.attempt(attempt_id)["resolved_at"],
            timeout=CONFIRM_SECONDS + 20,
        )
        self.assertEqual(self.attempt(attempt_id)["outcome"], "not_applied")
        self.wait_for(
            "every confirmation to finish",
            lambda: all(s == "SUCCESSFUL" for s, _ in self.confirm_tasks(attempt_id)),
        )
        runs = self.confirm_tasks(attempt_id)
        self.assertEqual(len({w for _, ids in runs for w in ids}), 2, runs)
        # One writer: the outcome was logged once, whoever read it first.
        settled = f"Note action sign on {note['id']} by user"
        lines = [line for line in self.portal.log().splitlines() if settled in line]
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].endswith(": not_applied"), lines)

    def test_a_worker_killed_mid_confirmation_leaves_it_to_the_resolver(self):
        # Canvas refuses this one, so the worker keeps reading until it is killed.
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        self.sandbox.veto(note["id"])
        worker = self.portal.start_worker()
        attempt_id = self.perform(note["id"])
        self.wait_for(
            "the worker to read Canvas again", lambda: len(self.confirm_tasks(attempt_id)) >= 2
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        self.assertEqual(self.attempt(attempt_id)["outcome"], "accepted")
        # /healthz shows it waiting, until it is past its deadline.
        health = self.wait_for(
            "the deadline to pass",
            lambda: (
                (h := self.portal.healthz()["confirmations"])["oldest_unconfirmed_seconds"]
                >= CONFIRM_SECONDS + 0.5
                and h
            ),
        )
        self.assertEqual(health["unconfirmed"], 1)
        out = self.portal.manage("confirm_note_actions")
        self.assertEqual(out.strip(), "final 1: not_applied 1")
        self.assertEqual(self.attempt(attempt_id)["outcome"], "not_applied")
        self.assertEqual(self.portal.healthz()["confirmations"]["unconfirmed"], 0)

    def test_an_effect_canvas_applies_late_is_confirmed_by_the_worker(self):
        self.sandbox.set_faults(effect_delay_ms=1500)
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        self.portal.start_worker()
        attempt_id = self.perform(note["id"])
        self.wait_for(
            "the attempt to settle",
            lambda: self.attempt(attempt_id)["resolved_at"],
            timeout=CONFIRM_SECONDS + 15,
        )
        self.assertEqual(self.attempt(attempt_id)["outcome"], "confirmed")
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")

    def test_a_bulk_run_and_a_click_on_their_own_workers_do_not_wait_on_each_other(self):
        clicks = self.portal.start_worker(queue="default")
        self.portal.start_worker(queue="bulk")
        # A run Canvas never applies: it reads its notes until their deadline.
        slow = [self.sandbox.create_note(state="LKD", kind="encounter") for _ in range(2)]
        for note in slow:
            self.sandbox.veto(note["id"])
        out = self.portal.manage(
            "shell", "-c", START_RUN.format(note_ids=[note["id"] for note in slow])
        )
        run_id = int(out.strip().splitlines()[-1])
        self.wait_for("the run to start", lambda: self.run_status(run_id) == "running")
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        attempt_id = self.perform(note["id"])
        started = time.monotonic()
        self.wait_for("the click to settle", lambda: self.attempt(attempt_id)["resolved_at"],
                      timeout=CONFIRM_SECONDS)  # fmt: skip
        waited = time.monotonic() - started
        self.assertEqual(self.attempt(attempt_id)["outcome"], "confirmed")
        self.assertEqual(self.run_status(run_id), "running")  # still going meanwhile
        self.assertLess(waited, CONFIRM_SECONDS / 2)
        [(queue, worker_ids)] = self.portal.query(
            "SELECT queue_name, worker_ids FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = ?",
            ("notes.tasks.bulk_run",),
        )
        self.assertEqual(queue, "bulk")
        click_workers = {w for _, ids in self.confirm_tasks(attempt_id) for w in ids}
        self.assertNotIn(json.loads(worker_ids)[0] if isinstance(worker_ids, str)
                         else worker_ids[0], click_workers)  # fmt: skip
        self.assertIsNone(clicks.poll())
        self.wait_for("the run to end", lambda: self.run_status(run_id) == "done",
                      timeout=CONFIRM_SECONDS + 20)  # fmt: skip

    def run_status(self, run_id: int) -> str:
        [(status,)] = self.portal.query("SELECT status FROM notes_bulkrun WHERE id = ?", (run_id,))
        return status
