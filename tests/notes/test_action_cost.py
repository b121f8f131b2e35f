"""What one note action costs the database, outside a TestCase's transaction (as in production)."""

import json
import uuid

import responses
from django.db import connection
from django.test import TransactionTestCase, override_settings
from django.test.utils import CaptureQueriesContext

from notes.models import NoteActionAttempt
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import API, SETTINGS, accepted, ensure_groups, installation_zone_warm


@override_settings(**SETTINGS)
class ActionCostTests(TransactionTestCase):
    def setUp(self):
        ensure_groups()
        make_connection(make_user("provider", groups=("Providers",)), access_token="at-p")
        self.client.login(username="provider", password=PASSWORD)
        self.note_id = uuid.uuid4()
        self.seen_at_call = {}
        # The process reads the installation's zone at most once a minute, not
        # per action: read it now, as a process serving clicks already has.
        installation_zone_warm()

    def canvas_answer(self, request):
        # What the database holds while Canvas is being asked.
        self.seen_at_call = {
            "autocommit": connection.get_autocommit(),
            "outcomes": list(NoteActionAttempt.objects.values_list("outcome", flat=True)),
        }
        return 202, {}, json.dumps(accepted(self.note_id, "sign"))

    def test_an_action_is_six_statements_and_no_transaction(self):
        with responses.RequestsMock() as rsps, CaptureQueriesContext(connection) as captured:
            rsps.add_callback("POST", f"{API}notes/{self.note_id}/sign", self.canvas_answer)
            response = self.client.post(
                f"/notes/{self.note_id}/sign/", {"view": "row"}, HTTP_HX_REQUEST="true"
            )
        self.assertContains(response, "Signing…")
        verbs = [query["sql"].split(None, 1)[0].upper() for query in captured.captured_queries]
        # Session, user with its Canvas link, permissions, the pending row, (this
        # test's own read during the call), the row's completion and the
        # confirmation task: each write commits by itself, no BEGIN or COMMIT.
        self.assertEqual(
            verbs, ["SELECT", "SELECT", "SELECT", "INSERT", "SELECT", "UPDATE", "INSERT"]
        )
        # The pending row was committed (autocommit, no transaction open) before the call.
        self.assertEqual(self.seen_at_call, {"autocommit": True, "outcomes": ["pending"]})
        self.assertEqual(NoteActionAttempt.objects.get().outcome, "accepted")
