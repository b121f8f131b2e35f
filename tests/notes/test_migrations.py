"""The audit log's migration from "succeeded" to "accepted" keeps every row."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase
from django.utils import timezone


class OutcomeAcceptedMigrationTests(TransactionTestCase):
    def test_a_202_recorded_as_succeeded_becomes_accepted(self):
        executor = MigrationExecutor(connection)
        before = [("notes", "0003_action_choices")]
        after = [("notes", "0004_outcome_accepted")]
        executor.migrate(before)
        old = executor.loader.project_state(before).apps.get_model("notes", "NoteActionAttempt")
        now = timezone.now()
        row = old.objects.create(
            username="pat",
            note_id="3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f",
            action="sign",
            outcome="succeeded",
            started_at=now,
            finished_at=now,
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("notes", "NoteActionAttempt")
        self.assertEqual(new.objects.get(pk=row.pk).outcome, "accepted")
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
