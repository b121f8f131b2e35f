"""Sign-in failures, refusals and lock-outs are counted for the metrics scrape."""

from django.test import TestCase, override_settings
from django.urls import reverse
from prometheus_client import REGISTRY

from tests.factories import make_user


def _value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


@override_settings(LOGIN_FAILURE_LIMIT=2, LOGIN_SLOWDOWN_AFTER=10, LOGIN_ADDRESS_FAILURE_LIMIT=100)
class SignInMetricsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_user("pat")

    def fail(self):
        return self.client.post(reverse("login"), {"username": "pat", "password": "nope"})

    def test_failures_lockouts_and_refusals_are_counted_without_the_username(self):
        failures = _value("portal_signin_failures_total", reason="wrong_password")
        refused = _value("portal_signin_failures_total", reason="refused")
        lockouts = _value("portal_signin_lockouts_total", scope="username")
        self.fail()
        self.fail()  # the second failure locks the username out
        self.fail()  # refused without checking the password
        self.assertEqual(
            _value("portal_signin_failures_total", reason="wrong_password"), failures + 2
        )
        self.assertEqual(_value("portal_signin_lockouts_total", scope="username"), lockouts + 1)
        self.assertEqual(_value("portal_signin_failures_total", reason="refused"), refused + 1)
