"""Clinic time: "today", ages and the times shown are the clinic's (or the user's), not UTC's."""

import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.checks import run_checks
from django.test import SimpleTestCase, TestCase, override_settings
from django.utils import timezone

from canvas_oauth import zones
from notes import worklist
from tests.factories import PASSWORD, clock_at, make_attempt, make_connection, make_user
from tests.helpers import ensure_groups
from tests.notes.test_live import LiveSandboxMixin

LA = ZoneInfo("America/Los_Angeles")


def la(*args) -> datetime:
    return datetime(*args, tzinfo=LA)


class ClinicDayTests(SimpleTestCase):
    def test_a_day_is_midnight_to_midnight_in_the_zone(self):
        cases = [
            (la(2026, 11, 30).date(), timedelta(hours=24)),
            (la(2026, 3, 8).date(), timedelta(hours=23)),  # clocks go forward
            (la(2026, 11, 1).date(), timedelta(hours=25)),  # clocks go back
        ]
        with timezone.override(LA):
            for day, length in cases:
                with self.subTest(day=day):
                    start, end = worklist.day_bounds(day)
                    self.assertEqual((start.hour, start.minute, end.hour), (0, 0, 0))
                    self.assertEqual(end.astimezone(ZoneInfo("UTC")) - start, length)

    def test_ages_count_calendar_days_in_the_clinics_zone(self):
        # The clinic's days, whatever zone the page shows (a user's own zone changes no age).
        written = la(2026, 11, 29, 23, 50)  # 07:50 UTC on the 30th
        with override_settings(CLINIC_TIME_ZONE="America/Los_Angeles"), timezone.override("UTC"):
            self.assertEqual(worklist.age_days(written, now=la(2026, 11, 30, 0, 10)), 1)
            self.assertEqual(worklist.age_days(written, now=la(2026, 11, 29, 23, 59)), 0)
            self.assertEqual(worklist.age_days(written, now=la(2026, 12, 3, 9)), 4)
        with override_settings(CLINIC_TIME_ZONE="UTC"):  # in UTC both are the 30th
            self.assertEqual(worklist.age_days(written, now=la(2026, 11, 30, 0, 10)), 0)

    def test_a_later_date_is_in_days_never_negative_nor_overdue(self):
        now = la(2026, 11, 30, 9)
        cases = [
            (la(2026, 11, 30, 23), 0, "Today"),
            (la(2026, 12, 1, 0, 5), -1, "Tomorrow"),
            (la(2026, 12, 2, 8), -2, "in 2 days"),
            (la(2026, 11, 29, 8), 1, "1 day"),
            (la(2026, 11, 20, 8), 10, "10 days"),
        ]
        with override_settings(CLINIC_TIME_ZONE="America/Los_Angeles", NOTES_OVERDUE_DAYS=3):
            for when, age, text in cases:
                with self.subTest(text=text):
                    note = worklist.note_aged({"datetime_of_service": when}, signing=True, now=now)
                    self.assertEqual((note["age_days"], note["age_text"]), (age, text))
                    self.assertEqual(note["overdue"], age > 3)

    def test_a_bad_clinic_time_zone_stops_start_up(self):
        for name in ("Mars/Base", "PST", "../etc/passwd", ""):
            with self.subTest(name=name), override_settings(CLINIC_TIME_ZONE=name):
                self.assertEqual(
                    [e.id for e in run_checks() if e.id.startswith("portal.")], ["portal.E001"]
                )
        with override_settings(CLINIC_TIME_ZONE="America/Los_Angeles"):
            self.assertEqual([e for e in run_checks() if e.id.startswith("portal.")], [])


@override_settings(CLINIC_TIME_ZONE=None, TIME_ZONE="UTC", NOTES_OVERDUE_DAYS=3)
class UnsetFollowsTheInstallationTests(TestCase):
    """CLINIC_TIME_ZONE unset: the worklist's days are the Canvas installation's, as pages' times.

    No request here, as in a worker task: notes reads the installation's zone itself.
    """

    def setUp(self):
        zones.installation_zone_forget()
        self.addCleanup(zones.installation_zone_forget)

    def test_today_ages_and_overdue_follow_the_installation_not_time_zone(self):
        make_connection(make_user("pat"), installation_time_zone="Pacific/Auckland")
        now = datetime(2026, 11, 30, 12, tzinfo=UTC)  # 01:00 on Dec 1 in Auckland (UTC+13)
        written = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)  # 23:30 on the 27th in Auckland
        self.assertEqual(worklist.clinic_today(now), date(2026, 12, 1))
        note = worklist.note_aged({"datetime_of_service": written}, signing=True, now=now)
        self.assertEqual((note["age_days"], note["overdue"]), (4, True))
        with override_settings(CLINIC_TIME_ZONE="UTC"):  # TIME_ZONE's days: a day younger
            self.assertEqual(worklist.clinic_today(now), date(2026, 11, 30))
            note = worklist.note_aged({"datetime_of_service": written}, signing=True, now=now)
            self.assertEqual((note["age_days"], note["overdue"]), (3, False))


class TodayInTheClinicsDayTests(LiveSandboxMixin, TestCase):
    """A clinic in California, the sandbox over HTTP, the clock frozen late in the evening.

    The zone is activated as the portal's middleware does for a request (no
    class-level override_settings: LiveSandboxMixin overrides settings in
    setUpClass, and the two would be undone out of order).
    """

    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        # The notes' provider, who sees them whatever the day: the front desk
        # sees only the sandbox's real today, and this clock is frozen elsewhere.
        cls.viewer = cls.link("provider", "Providers")

    def appointment(self, when: datetime) -> str:
        note = self.sandbox.create_note(
            state="BKD", kind="appointment", patient=self.patient, date=when.isoformat()
        )
        return note["id"]

    def today(self, now: datetime) -> set[str]:
        with (
            clock_at(worklist, now),
            timezone.override(LA),
        ):
            page = worklist.note_list_for_user(user=self.viewer, tab="today", patient=self.patient)
        return {note["id"] for note in page["notes"]}

    def setUp(self):
        super().setUp()
        self.patient = f"Zone Test{secrets.token_hex(3)}"

    def test_late_evening_holds_the_evening_not_the_next_morning(self):
        evening = self.appointment(la(2026, 11, 30, 19))  # 03:00 UTC on Dec 1
        morning = self.appointment(la(2026, 11, 30, 8))
        tomorrow = self.appointment(la(2026, 12, 1, 8))
        self.assertEqual(self.today(la(2026, 11, 30, 23, 30)), {evening, morning})
        # Half past midnight: the new day, whatever UTC says.
        self.assertEqual(self.today(la(2026, 12, 1, 0, 30)), {tomorrow})

    def test_days_when_the_clocks_change(self):
        # Clocks go back at 2:00 on Nov 1: a 25-hour day.
        early = self.appointment(la(2026, 11, 1, 0, 30))
        late = self.appointment(la(2026, 11, 1, 23, 30))
        next_day = self.appointment(la(2026, 11, 2, 0, 30))
        self.assertEqual(self.today(la(2026, 11, 1, 23, 45)), {early, late})
        # Clocks go forward at 2:00 on Mar 8: a 23-hour day.
        first = self.appointment(la(2026, 3, 8, 0, 15))
        last = self.appointment(la(2026, 3, 8, 23, 45))
        before = self.appointment(la(2026, 3, 7, 23, 45))
        self.assertEqual(self.today(la(2026, 3, 8, 12)), {first, last})
        self.assertNotIn(next_day, self.today(la(2026, 11, 1, 12)))
        self.assertNotIn(before, self.today(la(2026, 3, 8, 0, 5)))


class LocalTimesOnPagesTests(TestCase):
    """The pages show local times with the zone; a user may pick their own zone."""

    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.user = make_user("pat", groups=("Providers",))

    def setUp(self):
        self.client.login(username="pat", password=PASSWORD)

    def activity_row_time(self) -> str:

        make_attempt(
            self.user,
            note_id="3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f",
            action="lock",
            outcome="failed",
            started_at=datetime(2026, 11, 30, 17, 4, tzinfo=ZoneInfo("UTC")),
            finished_at=datetime(2026, 11, 30, 17, 4, 1, tzinfo=ZoneInfo("UTC")),
        )
        return self.client.get("/notes/activity/").content.decode()

    @override_settings(CLINIC_TIME_ZONE="America/Los_Angeles")
    def test_my_activity_shows_the_clinics_time(self):
        self.assertIn("Mon 30 Nov 2026, 09:04:00 PST", self.activity_row_time())

    @override_settings(CLINIC_TIME_ZONE="America/Los_Angeles")
    def test_a_user_can_pick_their_own_zone(self):
        page = self.client.get("/accounts/profile/")
        self.assertContains(page, "The clinic&#x27;s time (America/Los_Angeles)")
        response = self.client.post("/accounts/profile/", {"time_zone": "America/New_York"})
        self.assertRedirects(response, "/accounts/profile/")
        self.assertIn("Mon 30 Nov 2026, 12:04:00 EST", self.activity_row_time())
        bad = self.client.post("/accounts/profile/", {"time_zone": "Mars/Base"})
        self.assertEqual(bad.status_code, 200)
        self.assertContains(bad, "Select a valid choice")
