"""The Canvas installation's zone: stored on connect, followed when unset, warned about."""

import responses
from django.contrib.auth.models import Permission
from django.core.checks import run_checks
from django.test import TestCase, override_settings

from canvas_oauth import flows, zones
from canvas_oauth.models import CanvasConnection
from tests.canvas_oauth.test_connect import ME, FlowMixin
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import oauth_settings


def zone_seen(user, zone: str) -> CanvasConnection:
    return make_connection(user, installation_time_zone=zone)


@oauth_settings
class ConnectStoresTheZoneTests(FlowMixin, TestCase):
    def setUp(self):
        self.addCleanup(zones.installation_zone_forget)  # no zone read here leaks to a later test
        self.user = make_user("pat")
        self.client.force_login(self.user)

    def connect(self, me):
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps, me=me)
            self.callback(code="the-code", state=state)
        return CanvasConnection.objects.get(user=self.user)

    def test_the_zone_me_says_is_stored_and_a_bad_one_is_not(self):
        good = {**ME, "installation_time_zone": "America/Chicago"}
        self.assertEqual(self.connect(good).installation_time_zone, "America/Chicago")
        bad = {**ME, "installation_time_zone": "../../etc/passwd"}
        row = self.connect(bad)
        self.assertEqual(row.status, CanvasConnection.Status.ACTIVE)  # still connected
        self.assertEqual(row.installation_time_zone, "")
        self.assertEqual(self.connect(ME).installation_time_zone, "")  # a v2 /me
        self.assertIn("installation_time_zone", flows.CanvasIdentity._fields)


class ClinicZoneTests(TestCase):
    def setUp(self):
        zones.installation_zone_forget()
        self.addCleanup(zones.installation_zone_forget)

    @override_settings(CLINIC_TIME_ZONE=None, TIME_ZONE="UTC")
    def test_unset_follows_the_installation_once_someone_connected(self):
        zones.installation_zone_refresh()
        self.assertEqual(zones.clinic_zone().key, "UTC")  # nobody connected yet
        zone_seen(make_user("pat"), "America/Chicago")
        zones.installation_zone_forget()
        zones.installation_zone_refresh()
        self.assertEqual(zones.clinic_zone().key, "America/Chicago")
        # A signed-in request's pages use it.
        self.client.login(username="pat", password=PASSWORD)
        zones.installation_zone_forget()
        page = self.client.get("/accounts/profile/")
        self.assertContains(page, "America/Chicago")

    @override_settings(CLINIC_TIME_ZONE=None, TIME_ZONE="UTC")
    def test_a_process_reads_the_zone_again_at_most_every_minute(self):
        self.assertEqual(zones.clinic_zone().key, "UTC")  # read: nobody connected yet
        zone_seen(make_user("pat"), "America/Chicago")
        with self.assertNumQueries(0):
            self.assertEqual(zones.clinic_zone().key, "UTC")  # within the minute: no read
        zones.installation_zone_forget()
        with self.assertNumQueries(0):
            self.assertEqual(zones.clinic_zone(refresh=False).key, "UTC")  # never reads
        self.assertEqual(zones.clinic_zone().key, "America/Chicago")

    @override_settings(CLINIC_TIME_ZONE="Europe/Berlin")
    def test_a_configured_zone_wins(self):
        zone_seen(make_user("pat"), "America/Chicago")
        zones.installation_zone_forget()
        zones.installation_zone_refresh()
        self.assertEqual(zones.clinic_zone().key, "Europe/Berlin")


class ZoneMismatchWarningTests(TestCase):
    def setUp(self):
        self.addCleanup(zones.installation_zone_forget)  # the admin page's request reads it

    def warnings(self):
        return [m for m in run_checks(databases=["default"]) if m.id == "portal.W001"]

    def test_check_warns_only_when_both_are_known_and_differ(self):
        with override_settings(CLINIC_TIME_ZONE="Europe/Berlin"):
            self.assertEqual(self.warnings(), [])  # nothing seen yet
        zone_seen(make_user("pat"), "America/Chicago")
        with override_settings(CLINIC_TIME_ZONE="Europe/Berlin"):
            (warning,) = self.warnings()
            self.assertIn("Europe/Berlin", warning.msg)
            self.assertIn("America/Chicago", warning.msg)
            self.assertIn("CLINIC_TIME_ZONE=America/Chicago", warning.hint)
            # Without a database (plain `manage.py check`) it stays silent.
            self.assertEqual([m for m in run_checks() if m.id == "portal.W001"], [])
        with override_settings(CLINIC_TIME_ZONE="America/Chicago"):
            self.assertEqual(self.warnings(), [])
        with override_settings(CLINIC_TIME_ZONE=None):
            self.assertEqual(self.warnings(), [])  # unset: the portal follows Canvas

    def test_the_connections_list_warns(self):
        admin = make_user("root")
        admin.is_staff = True
        admin.save()
        admin.user_permissions.add(Permission.objects.get(codename="view_canvasconnection"))
        self.client.force_login(admin)
        zone_seen(make_user("pat"), "America/Chicago")
        url = "/admin/canvas_oauth/canvasconnection/"
        with override_settings(CLINIC_TIME_ZONE="Europe/Berlin"):
            page = self.client.get(url)
            self.assertEqual(page.status_code, 200)
            self.assertContains(page, "the Canvas installation is on America/Chicago")
        with override_settings(CLINIC_TIME_ZONE="America/Chicago"):
            self.assertNotContains(self.client.get(url), "the Canvas installation is on")
