"""Sign-in throttling: slowed, then refused, logged, visible to admins."""

import datetime
from unittest import mock

from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from portal import services
from portal.models import SignInEvent, SignInThrottle
from tests.factories import PASSWORD, make_user

T0 = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
LOCKED = "Too many failed sign-in attempts"
SLOWED = "wait"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@override_settings(
    LOGIN_FAILURE_LIMIT=5,
    LOGIN_ADDRESS_FAILURE_LIMIT=20,
    LOGIN_LOCKOUT_SECONDS=900,
    LOGIN_SLOWDOWN_AFTER=3,
    LOGIN_SLOWDOWN_SECONDS=5,
)
class SignInThrottleTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def setUp(self):
        self.clock = Clock()
        patcher = mock.patch("portal.services._now", self.clock)
        patcher.start()
        self.addCleanup(patcher.stop)

    def attempt(self, username="pat", password="wrong-password", address="10.0.0.1", url=None):
        return self.client.post(
            url or reverse("login"),
            {"username": username, "password": password},
            REMOTE_ADDR=address,
        )

    def fail_times(self, n, *, username="pat", address="10.0.0.1", gap=61):
        for _ in range(n):
            response = self.attempt(username=username, address=address)
            self.assertEqual(response.status_code, 200)
            self.clock.advance(gap)
        return response

    def test_first_failures_show_the_plain_message(self):
        response = self.attempt()
        self.assertContains(response, "did not match")
        self.assertNotContains(response, SLOWED)

    def test_after_three_failures_the_next_attempt_must_wait(self):
        for _ in range(3):
            response = self.attempt()
        self.assertContains(response, "wait 5 seconds")
        # Too soon: refused without checking the password, even the right one.
        self.clock.advance(4)
        response = self.attempt(password=PASSWORD)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "wait 1 second ")
        self.assertEqual(SignInEvent.objects.filter(kind="refused").count(), 1)
        # Once the wait is over the right password works.
        self.clock.advance(1)
        response = self.attempt(password=PASSWORD)
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_the_wait_grows_with_each_failure(self):
        for _ in range(3):
            self.attempt()
        self.clock.advance(5)
        response = self.attempt()  # fourth failure
        self.assertContains(response, "wait 10 seconds")

    def test_limit_locks_the_username_for_the_lockout_period(self):
        response = self.fail_times(5)
        self.assertContains(response, LOCKED)
        self.clock.advance(800)
        response = self.attempt(password=PASSWORD)
        self.assertContains(response, LOCKED)
        self.assertFalse(response.wsgi_request.user.is_authenticated)
        self.clock.advance(200)  # 900 s after the lock-out began
        response = self.attempt(password=PASSWORD)
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_lock_applies_from_any_address_and_ignores_case(self):
        self.fail_times(5)
        response = self.attempt(username="PAT", password=PASSWORD, address="10.9.9.9")
        self.assertContains(response, LOCKED)

    def test_unknown_and_known_usernames_get_the_same_messages(self):
        known = self.fail_times(5, username="pat", address="10.0.0.1")
        unknown = self.fail_times(5, username="nobody-here", address="10.0.0.2")
        self.assertEqual(_error_text(known.content.decode()), _error_text(unknown.content.decode()))
        make_user("pat3")
        first_existing = self.attempt(username="pat3", address="10.0.0.3")
        first_unknown = self.attempt(username="no-such-user", address="10.0.0.4")
        self.assertEqual(
            _error_text(first_existing.content.decode()),
            _error_text(first_unknown.content.decode()),
        )

    def test_inactive_user_gets_the_same_message_as_a_wrong_password(self):
        make_user("gone", is_active=False)
        inactive = self.attempt(username="gone", password=PASSWORD, address="10.0.0.5")
        wrong = self.attempt(username="pat", address="10.0.0.6")
        self.assertEqual(
            _error_text(inactive.content.decode()), _error_text(wrong.content.decode())
        )

    def test_many_usernames_from_one_address_lock_the_address(self):
        for i in range(20):
            response = self.attempt(username=f"guess{i}", address="10.0.0.66")
            self.clock.advance(61)
        self.assertContains(response, LOCKED)
        response = self.attempt(password=PASSWORD, address="10.0.0.66")
        self.assertContains(response, LOCKED)
        # Another address is not affected.
        response = self.attempt(password=PASSWORD, address="10.0.0.67")
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_a_few_failures_from_one_address_do_not_slow_the_whole_clinic(self):
        for name in ["amy", "bob", "cat", "dan"]:
            self.attempt(username=name, address="10.0.0.77")
        response = self.attempt(password=PASSWORD, address="10.0.0.77")
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_an_address_is_slowed_from_half_its_limit(self):
        for i in range(10):
            response = self.attempt(username=f"guess{i}", address="10.0.0.78")
        self.assertContains(response, "wait 5 seconds")

    def test_old_failures_are_forgotten(self):
        self.fail_times(4)
        self.clock.advance(901)
        response = self.attempt()
        self.assertNotContains(response, SLOWED)
        self.assertEqual(SignInThrottle.objects.get(scope="username").failures, 1)

    def test_success_clears_the_username_counter(self):
        self.fail_times(4)
        self.attempt(password=PASSWORD)
        self.assertFalse(SignInThrottle.objects.filter(scope="username").exists())
        self.client.post(reverse("logout"))
        self.assertContains(self.attempt(), "did not match")

    def test_each_failure_and_lockout_is_logged_at_warning_without_the_password(self):
        with self.assertLogs("portal.signin", level="WARNING") as logs:
            for _ in range(5):
                self.attempt(password="hunter2-secret")
                self.clock.advance(61)
            self.attempt(password="hunter2-secret")
        text = "\n".join(logs.output)
        self.assertEqual(text.count("Sign-in failed"), 5)
        self.assertEqual(text.count("Sign-in locked out: username"), 1)
        self.assertEqual(text.count("Sign-in refused"), 1)
        self.assertNotIn("hunter2", text)
        kinds = list(SignInEvent.objects.order_by("id").values_list("kind", flat=True))
        self.assertEqual(kinds.count("failure"), 5)
        self.assertEqual(kinds.count("lockout"), 1)
        self.assertEqual(kinds.count("refused"), 1)
        self.assertEqual(set(SignInEvent.objects.values_list("address", flat=True)), {"10.0.0.1"})

    def test_admin_sign_in_is_throttled_too(self):
        make_user("boss", is_staff=True, is_superuser=True)
        self.fail_times(5, username="boss")
        response = self.attempt(username="boss", password=PASSWORD, url="/admin/login/")
        self.assertContains(response, LOCKED)

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_behind_the_proxy_the_last_forwarded_address_counts(self):
        self.client.post(
            reverse("login"),
            {"username": "pat", "password": "nope"},
            REMOTE_ADDR="10.1.1.1",
            HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
        )
        self.assertEqual(SignInEvent.objects.get().address, "203.0.113.9")

    def test_a_success_gives_the_address_its_attempt_back(self):
        # Every attempt is counted before its password is checked; a right
        # password must not leave a failure against the clinic's address.
        for name in ["amy", "bob"]:
            self.attempt(username=name, address="10.0.0.80")
        before = SignInThrottle.objects.get(scope="address", key="10.0.0.80")
        self.clock.advance(30)
        self.assertRedirects(
            self.attempt(password=PASSWORD, address="10.0.0.80"), "/", fetch_redirect_response=False
        )
        after = SignInThrottle.objects.get(scope="address", key="10.0.0.80")
        self.assertEqual(after.failures, 2)
        self.assertEqual(after.last_failure_at, before.last_failure_at)
        self.client.post(reverse("logout"))
        self.attempt(password=PASSWORD, address="10.0.0.81")
        self.assertFalse(SignInThrottle.objects.filter(key="10.0.0.81").exists())

    def test_a_refused_attempt_leaves_no_empty_rows(self):
        self.fail_times(5)
        self.attempt(address="10.0.0.90")
        self.assertFalse(SignInThrottle.objects.filter(key="10.0.0.90").exists())


@override_settings(LOGIN_FAILURE_LIMIT=5, LOGIN_SLOWDOWN_AFTER=10, LOGIN_LOCKOUT_SECONDS=900)
class SignInReservationTests(TestCase):
    """The service steps one by one, as parallel requests interleave them."""

    def reserve(self, username="pat", address="10.0.0.1"):
        return services.signin_attempt_reserve(username=username, address=address, now=T0)

    def test_attempts_in_flight_count_against_the_limit(self):
        attempts = [self.reserve() for _ in range(5)]
        self.assertTrue(all(isinstance(a, services.SignInAttempt) for a in attempts))
        refusal = self.reserve()
        self.assertEqual(refusal, services.SignInRefusal("locked", 900))
        self.assertEqual(SignInEvent.objects.get().kind, "refused")
        for attempt in attempts:
            services.signin_attempt_failed(attempt=attempt, now=T0)
        row = SignInThrottle.objects.get(scope="username")
        self.assertEqual((row.failures, row.locked_until), (5, T0 + datetime.timedelta(minutes=15)))
        self.assertEqual(SignInEvent.objects.filter(kind="lockout").count(), 1)

    def test_a_failure_after_a_parallel_success_is_still_recorded(self):
        wrong, right = self.reserve(), self.reserve()
        services.signin_attempt_succeeded(attempt=right)  # deletes the username's row
        self.assertFalse(SignInThrottle.objects.filter(scope="username").exists())
        services.signin_attempt_failed(attempt=wrong, now=T0)
        self.assertEqual(SignInThrottle.objects.get(scope="username").failures, 1)
        self.assertEqual(SignInThrottle.objects.get(scope="address").failures, 1)
        self.assertEqual(SignInEvent.objects.get().kind, "failure")

    def test_a_success_after_an_admin_lifted_the_lock_is_fine(self):
        attempt = self.reserve()
        SignInThrottle.objects.all().delete()
        services.signin_attempt_succeeded(attempt=attempt)
        self.assertFalse(SignInThrottle.objects.exists())


class SignInAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = make_user("boss", is_staff=True, is_superuser=True)
        SignInEvent.objects.create(
            at=timezone.now(), kind="failure", username="pat", address="10.0.0.1"
        )
        SignInThrottle.objects.create(
            scope="username",
            key="pat",
            failures=5,
            first_failure_at=timezone.now(),
            last_failure_at=timezone.now(),
            locked_until=timezone.now() + datetime.timedelta(minutes=15),
        )

    def setUp(self):
        self.client.force_login(self.admin)

    def test_admins_see_the_events_read_only(self):
        listing = self.client.get(reverse("admin:portal_signinevent_changelist"))
        self.assertContains(listing, "10.0.0.1")
        event = SignInEvent.objects.get()
        self.assertEqual(self.client.get(reverse("admin:portal_signinevent_add")).status_code, 403)
        change = self.client.post(
            reverse("admin:portal_signinevent_change", args=[event.pk]), {"username": "x"}
        )
        self.assertEqual(change.status_code, 403)
        delete = self.client.post(
            reverse("admin:portal_signinevent_delete", args=[event.pk]), {"post": "yes"}
        )
        self.assertEqual(delete.status_code, 403)
        self.assertEqual(SignInEvent.objects.get().username, "pat")

    def test_admins_can_lift_a_lock_by_deleting_the_throttle(self):
        row = SignInThrottle.objects.get()
        self.assertContains(
            self.client.get(reverse("admin:portal_signinthrottle_changelist")), "pat"
        )
        self.client.post(
            reverse("admin:portal_signinthrottle_delete", args=[row.pk]), {"post": "yes"}
        )
        self.assertFalse(SignInThrottle.objects.exists())

    def test_str_shows_no_secret(self):
        self.assertIn("pat", str(SignInEvent.objects.get()))
        self.assertIn("5 failure", str(SignInThrottle.objects.get()))


class UnthrottledCallersTests(TestCase):
    def test_client_login_without_a_request_still_works(self):
        make_user("pat")
        self.assertTrue(self.client.login(username="pat", password=PASSWORD))
        self.assertFalse(self.client.login(username="pat", password="nope"))
        self.assertFalse(SignInEvent.objects.exists())
        self.assertTrue(get_user_model().objects.filter(username="pat").exists())


def _error_text(html: str) -> str:
    start = html.index('class="message message-error"')
    return html[start : html.index("</div>", start)]
