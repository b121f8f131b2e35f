"""The connect/disconnect migration maps every stored old word and keeps the constraints."""

from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase
from django.utils import timezone

from canvas_oauth.models import CanvasConnection as Connection
from canvas_oauth.models import ConnectionEvent as Event
from tests.factories import make_user

Status = Connection.Status

BEFORE = [("canvas_oauth", "0002_connection_event_kinds")]
AFTER = [("canvas_oauth", "0005_connect_vocabulary_constraints")]


class ConnectVocabularyMigrationTests(TransactionTestCase):
    def tearDown(self):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    def _old_rows(self, executor: MigrationExecutor) -> None:
        apps = executor.loader.project_state(BEFORE).apps
        old_connection = apps.get_model("canvas_oauth", "CanvasConnection")
        old_event = apps.get_model("canvas_oauth", "ConnectionEvent")
        now = timezone.now()
        for name, status in (("pat", "revoked"), ("sam", "active")):
            user = make_user(name)
            old_connection.objects.create(
                user_id=user.pk,
                status=status,
                canvas_user_id="cu-1",  # the same identity: only one row is live
                canvas_staff_id="staff-1",
                canvas_staff_name="Dr. One",
                linked_at=now,
            )
            for kind in ("link", "link_failed", "unlink", "refresh"):
                old_event.objects.create(user_id=user.pk, username=name, kind=kind, created_at=now)

    def test_old_statuses_and_kinds_become_the_new_words(self):
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        self._old_rows(executor)
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        # The models as they stood at AFTER: later migrations add columns.
        apps = executor.loader.project_state(AFTER).apps
        CanvasConnection = apps.get_model("canvas_oauth", "CanvasConnection")
        ConnectionEvent = apps.get_model("canvas_oauth", "ConnectionEvent")
        rows = dict(CanvasConnection.objects.values_list("user__username", "status"))
        self.assertEqual(
            rows,
            {"pat": Status.DISCONNECTED, "sam": Status.ACTIVE},
        )
        self.assertIsNotNone(CanvasConnection.objects.get(user__username="pat").connected_at)
        Kind = Event.Kind
        self.assertEqual(
            sorted(ConnectionEvent.objects.filter(username="pat").values_list("kind", flat=True)),
            sorted([Kind.CONNECT, Kind.CONNECT_FAILED, Kind.DISCONNECT, Kind.REFRESH]),
        )
        # The constraints came back: a second live row for the identity is refused.
        with self.assertRaises(IntegrityError), transaction.atomic():
            CanvasConnection.objects.filter(user__username="pat").update(status=Status.ACTIVE)
        with self.assertRaises(IntegrityError), transaction.atomic():
            CanvasConnection.objects.filter(user__username="pat").update(status="revoked")

    def test_it_can_be_undone(self):
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        self._old_rows(executor)
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        apps = executor.loader.project_state(BEFORE).apps
        old_connection = apps.get_model("canvas_oauth", "CanvasConnection")
        old_event = apps.get_model("canvas_oauth", "ConnectionEvent")
        self.assertEqual(
            sorted(old_connection.objects.values_list("status", flat=True)), ["active", "revoked"]
        )
        self.assertEqual(
            set(old_event.objects.values_list("kind", flat=True)),
            {"link", "link_failed", "unlink", "refresh"},
        )
