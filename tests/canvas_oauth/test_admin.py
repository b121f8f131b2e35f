"""Admin: read-only connections with actions; an append-only event log."""

import responses
from django.contrib.auth.models import Permission
from django.test import TestCase

from canvas_oauth.events import event_record
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from tests.factories import make_connection, make_user
from tests.helpers import REVOKE_URL, TOKEN_URL, form, oauth_settings, token_body

CHANGELIST = "/admin/canvas_oauth/canvasconnection/"
EVENTS = "/admin/canvas_oauth/connectionevent/"


@oauth_settings
class ConnectionAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = make_user("root", is_staff=True, is_superuser=True)
        cls.pat = make_user("pat", first_name="Pat")
        cls.sam = make_user("sam")
        cls.pat_link = make_connection(
            cls.pat, staff_name="Dr. Pat Provider", refresh_token="rt-pat"
        )
        cls.sam_link = make_connection(cls.sam, staff_name="Sam Desk", status="reconnect_needed")

    def setUp(self):
        self.client.force_login(self.admin)

    def test_list_columns_filter_and_search(self):
        response = self.client.get(CHANGELIST)
        for text in [
            "Canvas staff",
            "Status",
            "Access token expires",
            "Last refreshed at",
            "Refresh count",
            "Dr. Pat Provider",
            "Sam Desk",
        ]:
            self.assertContains(response, text)
        filtered = self.client.get(CHANGELIST, {"status__exact": "reconnect_needed"})
        self.assertContains(filtered, "Sam Desk")
        self.assertNotContains(filtered, "Dr. Pat Provider")
        for query in ["pat", "Provider"]:
            with self.subTest(query=query):
                found = self.client.get(CHANGELIST, {"q": query})
                self.assertContains(found, "Dr. Pat Provider")
                self.assertNotContains(found, "Sam Desk")

    def test_nothing_editable_no_add_no_delete(self):
        self.assertEqual(self.client.get(CHANGELIST + "add/").status_code, 403)
        change = self.client.get(f"{CHANGELIST}{self.pat_link.pk}/change/")
        self.assertEqual(change.status_code, 200)
        self.assertNotContains(change, 'name="canvas_staff_name"')
        self.assertNotContains(change, "encrypted")
        self.client.post(f"{CHANGELIST}{self.pat_link.pk}/change/", {"canvas_staff_name": "X"})
        self.assertEqual(
            CanvasConnection.objects.get(pk=self.pat_link.pk).canvas_staff_name, "Dr. Pat Provider"
        )
        self.assertEqual(
            self.client.get(f"{CHANGELIST}{self.pat_link.pk}/delete/").status_code, 403
        )
        self.assertNotContains(self.client.get(CHANGELIST), 'value="delete_selected"')

    def _action(self, action, *links):
        return self.client.post(
            CHANGELIST,
            {"action": action, "_selected_action": [link.pk for link in links]},
            follow=True,
        )

    def test_refresh_now(self):
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(1))
            response = self._action("refresh_now", self.pat_link)
            self.assertEqual(form(rsps.calls[0])["refresh_token"], "rt-pat")
        self.assertContains(response, "1 connection(s) refreshed.")
        event = ConnectionEvent.objects.get(kind="refresh", user=self.pat)
        self.assertEqual((event.actor, event.via_admin), (self.admin, True))

    def test_refresh_now_reports_failures(self):
        with responses.RequestsMock():
            response = self._action("refresh_now", self.sam_link)
        self.assertContains(response, "Reconnect to Canvas")

    def test_revoke_and_unlink(self):
        with responses.RequestsMock() as rsps:
            rsps.post(REVOKE_URL)
            response = self._action("revoke_and_unlink", self.pat_link)
        self.assertContains(response, "1 connection(s) unlinked.")
        row = CanvasConnection.objects.get(pk=self.pat_link.pk)
        self.assertEqual((row.status, row.refresh_token_encrypted), ("revoked", ""))
        event = ConnectionEvent.objects.get(kind="unlink")
        self.assertEqual((event.actor_username, event.via_admin), ("root", True))

    def test_require_reconnect(self):
        response = self._action("require_reconnect", self.pat_link)
        self.assertContains(response, "1 connection(s) marked for reconnect.")
        self.assertEqual(
            CanvasConnection.objects.get(pk=self.pat_link.pk).status, "reconnect_needed"
        )
        self.assertTrue(
            ConnectionEvent.objects.filter(kind="reconnect_required", via_admin=True).exists()
        )

    def test_view_only_staff_sees_no_actions(self):
        viewer = make_user("viewer", is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_canvasconnection"))
        self.client.force_login(viewer)
        response = self.client.get(CHANGELIST)
        self.assertContains(response, "Dr. Pat Provider")
        self.assertNotContains(response, "refresh_now")
        self._action("require_reconnect", self.pat_link)
        self.assertEqual(CanvasConnection.objects.get(pk=self.pat_link.pk).status, "active")

    def test_str_and_repr_show_no_secret(self):
        row = CanvasConnection.objects.get(pk=self.pat_link.pk)
        for text in (str(row), repr(row)):
            self.assertNotIn("rt-pat", text)
            self.assertNotIn(row.refresh_token_encrypted[:20], text)


class ConnectionEventLogTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = make_user("root", is_staff=True, is_superuser=True)
        cls.event = event_record(user=cls.admin, kind="link", actor=cls.admin, detail="Linked")

    def setUp(self):
        self.client.force_login(self.admin)

    def test_admin_reads_but_cannot_add_change_or_delete(self):
        self.assertContains(self.client.get(EVENTS), "Linked")
        self.assertEqual(self.client.get(EVENTS + "add/").status_code, 403)
        self.client.post(f"{EVENTS}{self.event.pk}/change/", {"detail": "edited"})
        self.assertEqual(self.client.get(f"{EVENTS}{self.event.pk}/delete/").status_code, 403)
        self.client.post(
            EVENTS,
            {"action": "delete_selected", "_selected_action": [self.event.pk], "post": "yes"},
        )
        self.assertEqual(ConnectionEvent.objects.get(pk=self.event.pk).detail, "Linked")

    def test_model_is_append_only(self):
        event = ConnectionEvent.objects.get(pk=self.event.pk)
        event.detail = "changed"
        for attempt in (
            event.save,
            event.delete,
            ConnectionEvent.objects.all().delete,
            lambda: ConnectionEvent.objects.update(detail="x"),
        ):
            with self.subTest(attempt=attempt), self.assertRaises(TypeError):
                attempt()
        self.assertEqual(ConnectionEvent.objects.get(pk=self.event.pk).detail, "Linked")

    def test_deleting_a_user_keeps_their_events(self):
        pat = make_user("pat")
        event_record(user=pat, kind="unlink", actor=pat)
        pat.delete()
        event = ConnectionEvent.objects.get(username="pat")
        self.assertIsNone(event.user_id)
