"""Admin: read-only connections with actions; an append-only event log."""

import io

import responses
from django.contrib.auth import get_user_model
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

    def test_no_filter_on_a_ciphertext(self):
        for field in ("refresh_token_encrypted", "access_token_encrypted"):
            for lookup in ("", "__startswith", "__contains", "__regex"):
                with self.subTest(lookup=field + lookup):
                    response = self.client.get(CHANGELIST, {field + lookup: "g"})
                    self.assertEqual(response.status_code, 400)
        self.assertEqual(self.client.get(CHANGELIST, {"status": "active"}).status_code, 200)

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

    def test_revoke_and_disconnect(self):
        with responses.RequestsMock() as rsps:
            rsps.post(REVOKE_URL)
            response = self._action("revoke_and_disconnect", self.pat_link)
        self.assertContains(response, "1 connection(s) disconnected.")
        row = CanvasConnection.objects.get(pk=self.pat_link.pk)
        self.assertEqual(
            (row.status, row.refresh_token_encrypted), (CanvasConnection.Status.DISCONNECTED, "")
        )
        for kind in (ConnectionEvent.Kind.DISCONNECT, ConnectionEvent.Kind.TOKEN_REVOKED_AT_CANVAS):
            with self.subTest(kind=kind):
                event = ConnectionEvent.objects.get(kind=kind)
                self.assertEqual((event.actor_username, event.via_admin), ("root", True))

    def test_revoke_and_disconnect_when_canvas_refuses_the_revocation(self):
        with responses.RequestsMock() as rsps:
            rsps.post(REVOKE_URL, status=404)
            response = self._action("revoke_and_disconnect", self.pat_link)
        self.assertContains(response, "1 connection(s) disconnected.")
        row = CanvasConnection.objects.get(pk=self.pat_link.pk)
        self.assertEqual(row.status, CanvasConnection.Status.DISCONNECTED)
        self.assertFalse(
            ConnectionEvent.objects.filter(kind=ConnectionEvent.Kind.TOKEN_REVOKED_AT_CANVAS)
        )
        event = ConnectionEvent.objects.get(kind=ConnectionEvent.Kind.REVOCATION_NOT_CONFIRMED)
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
        cls.event = event_record(
            user=cls.admin, kind=ConnectionEvent.Kind.CONNECT, actor=cls.admin, detail="Connected"
        )

    def setUp(self):
        self.client.force_login(self.admin)

    def test_admin_reads_but_cannot_add_change_or_delete(self):
        self.assertContains(self.client.get(EVENTS), "Connected")
        self.assertEqual(self.client.get(EVENTS + "add/").status_code, 403)
        self.client.post(f"{EVENTS}{self.event.pk}/change/", {"detail": "edited"})
        self.assertEqual(self.client.get(f"{EVENTS}{self.event.pk}/delete/").status_code, 403)
        self.client.post(
            EVENTS,
            {"action": "delete_selected", "_selected_action": [self.event.pk], "post": "yes"},
        )
        self.assertEqual(ConnectionEvent.objects.get(pk=self.event.pk).detail, "Connected")

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
        self.assertEqual(ConnectionEvent.objects.get(pk=self.event.pk).detail, "Connected")

    def test_deleting_a_user_keeps_their_events(self):
        pat = make_user("pat")
        event_record(user=pat, kind=ConnectionEvent.Kind.DISCONNECT, actor=pat)
        pat.delete()
        event = ConnectionEvent.objects.get(username="pat")
        self.assertIsNone(event.user_id)


@oauth_settings
class DeactivatedUserTests(TestCase):
    """A deactivated user's Canvas grant does not live on."""

    @classmethod
    def setUpTestData(cls):
        cls.admin = make_user("root", is_staff=True, is_superuser=True)

    def setUp(self):
        self.pat = make_user("pat")
        make_connection(self.pat, refresh_token="rt-pat", expires_in=60)

    def test_deactivating_revokes_and_disconnects_after_the_commit(self):
        with responses.RequestsMock() as rsps, self.captureOnCommitCallbacks(execute=True):
            revoke = rsps.post(REVOKE_URL)
            self.pat.is_active = False
            self.pat.save()
        self.assertEqual(form(revoke.calls[0])["token"], "rt-pat")
        row = CanvasConnection.objects.get(user=self.pat)
        self.assertEqual(
            (row.status, row.refresh_token_encrypted), (CanvasConnection.Status.DISCONNECTED, "")
        )

    def test_other_saves_do_not_touch_the_connection(self):
        with responses.RequestsMock(), self.captureOnCommitCallbacks(execute=True) as hooks:
            self.pat.first_name = "Pat"
            self.pat.save()
            self.pat.save(update_fields=["last_login"])
        self.assertEqual(hooks, [])
        self.assertEqual(CanvasConnection.objects.get(user=self.pat).status, "active")

    def test_the_admin_action_deactivates_and_disconnects(self):
        self.client.force_login(self.admin)
        with responses.RequestsMock() as rsps, self.captureOnCommitCallbacks(execute=True):
            rsps.post(REVOKE_URL)
            response = self.client.post(
                "/admin/auth/user/",
                {"action": "deactivate_and_disconnect", "_selected_action": [self.pat.pk]},
            )
        self.assertEqual(response.status_code, 302)
        self.pat.refresh_from_db()
        self.assertFalse(self.pat.is_active)
        self.assertEqual(
            CanvasConnection.objects.get(user=self.pat).status,
            CanvasConnection.Status.DISCONNECTED,
        )

    def test_the_refresh_cron_skips_inactive_users(self):
        from django.core.management import call_command

        get_user_model().objects.filter(pk=self.pat.pk).update(is_active=False)  # no signal
        with responses.RequestsMock():  # no refresh is attempted
            call_command("refresh_canvas_tokens", stdout=io.StringIO())
