"""The profile offers Area/Location zones (and UTC), not aliases or system files."""

from django.test import SimpleTestCase, TestCase

from core.zones import zone_valid
from portal.forms import ProfileForm
from portal.timezones import zone_choices
from tests.factories import PASSWORD, make_user


class ZoneChoicesTests(SimpleTestCase):
    def test_only_area_location_names_and_utc(self):
        names = set(zone_choices())
        for kept in ["UTC", "Europe/Paris", "America/New_York", "America/Argentina/Buenos_Aires"]:
            with self.subTest(kept=kept):
                self.assertIn(kept, names)
        for dropped in [
            "localtime",
            "Factory",
            "posixrules",
            "EST",
            "GMT",
            "Etc/GMT+5",
            "US/Eastern",
            "Canada/Pacific",
            "Brazil/East",
        ]:
            with self.subTest(dropped=dropped):
                self.assertNotIn(dropped, names)

    def test_a_zone_saved_before_still_applies(self):
        # Pages keep honouring an IANA alias a profile already holds.
        self.assertTrue(zone_valid("US/Eastern"))


class ProfileZoneTests(TestCase):
    def test_the_form_offers_the_clinic_default_then_the_list(self):
        # The default's label names the clinic's zone, which may read Canvas's
        # installation zone from the database (at most once a minute).
        choices = [value for value, _ in ProfileForm().fields["time_zone"].choices]
        self.assertEqual(choices[0], "")
        self.assertEqual(choices[1:], list(zone_choices()))

    def test_an_alias_or_a_system_file_is_refused(self):
        make_user("pat")
        self.client.login(username="pat", password=PASSWORD)
        for name in ["localtime", "Factory", "US/Eastern"]:
            with self.subTest(name=name):
                response = self.client.post("/accounts/profile/", {"time_zone": name})
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "Select a valid choice")
