"""/healthz's details and /metrics: for the operator's addresses or token only."""

import re
import uuid

from django.test import TestCase, override_settings

from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import API, SETTINGS, CanvasMockMixin, accepted, ensure_groups

OUTSIDE = "203.0.113.80"
DETAILS = {"status", "database", "confirmations"}


class HealthzAccessTests(TestCase):
    def test_loopback_sees_the_details_by_default(self):
        response = self.client.get("/healthz", REMOTE_ADDR="127.0.0.1")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(response.json()), DETAILS)

    def test_any_other_address_sees_only_the_status(self):
        response = self.client.get("/healthz", REMOTE_ADDR=OUTSIDE)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    @override_settings(HEALTHZ_ALLOWED_IPS=["203.0.113.0/24"])
    def test_an_allowed_network_sees_the_details(self):
        self.assertEqual(set(self.client.get("/healthz", REMOTE_ADDR=OUTSIDE).json()), DETAILS)
        self.assertEqual(
            self.client.get("/healthz", REMOTE_ADDR="127.0.0.1").json(), {"status": "ok"}
        )

    @override_settings(HEALTHZ_TOKEN="health-token-0123456789")
    def test_the_token_unlocks_the_details_a_wrong_one_does_not(self):
        cases = {
            "Bearer health-token-0123456789": DETAILS,
            "Bearer health-token-012345678": {"status"},
            "health-token-0123456789": {"status"},
        }
        for header, keys in cases.items():
            with self.subTest(header=header):
                response = self.client.get(
                    "/healthz", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=header
                )
                self.assertEqual(set(response.json()), keys)

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_behind_a_proxy_its_loopback_address_is_not_the_clients(self):
        response = self.client.get(
            "/healthz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE
        )
        self.assertEqual(response.json(), {"status": "ok"})


@override_settings(**SETTINGS, METRICS_TOKEN="scrape-token-0123456789")
class MetricsScrapeTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-metrics-secret")

    def scrape(self, **extra):
        return self.client.get("/metrics", REMOTE_ADDR=OUTSIDE, **extra)

    def test_an_unauthenticated_scrape_is_refused(self):
        for extra in [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}]:
            with self.subTest(extra=extra):
                response = self.scrape(**extra)
                self.assertEqual(response.status_code, 403)
                self.assertNotIn(b"portal_", response.content)

    @override_settings(METRICS_TOKEN="")
    def test_without_a_token_only_allowed_addresses_scrape(self):
        self.assertEqual(self.scrape(HTTP_AUTHORIZATION="Bearer ").status_code, 403)
        self.assertEqual(self.client.get("/metrics", REMOTE_ADDR="::1").status_code, 200)

    def test_a_signed_action_shows_in_the_canvas_latency_series(self):
        note_id = uuid.uuid4()
        self.rsps.post(f"{API}notes/{note_id}/sign", status=202, json=accepted(note_id, "sign"))
        self.client.login(username="provider", password=PASSWORD)
        response = self.client.post(
            f"/notes/{note_id}/sign/", {"view": "row"}, HTTP_HX_REQUEST="true"
        )
        self.assertEqual(response.status_code, 200)
        self.client.logout()

        response = self.scrape(HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/plain"))
        text = response.content.decode()
        series = re.search(
            r'^portal_canvas_request_seconds_count\{endpoint="/plugin-io/api/note_sign_api/'
            r'notes/\{id\}/sign",method="POST",status="202"\} (\d+)',
            text,
            re.MULTILINE,
        )
        self.assertIsNotNone(series, text)
        self.assertGreaterEqual(float(series.group(1)), 1)
        self.assertRegex(text, r"(?m)^portal_unconfirmed_actions \d")
        self.assertRegex(text, r"(?m)^portal_unconfirmed_oldest_seconds \d")
        self.assertRegex(text, r'(?m)^portal_http_responses_total\{status_class="2xx"\} \d')
        # No label holds an id, a user or a token.
        self.assertNotIn(str(note_id), text)
        self.assertNotIn("provider", text)
        self.assertNotIn("at-metrics-secret", text)

    def test_a_confirmed_action_shows_in_the_outcome_and_lag_series(self):
        from notes import confirmation
        from notes.models import NoteActionAttempt

        note_id = uuid.uuid4()
        self.rsps.post(f"{API}notes/{note_id}/sign", status=202, json=accepted(note_id, "sign"))
        self.client.login(username="provider", password=PASSWORD)
        self.client.post(f"/notes/{note_id}/sign/", {"view": "row"}, HTTP_HX_REQUEST="true")
        self.client.logout()
        attempt = NoteActionAttempt.objects.get(note_id=note_id)
        shown = {"code": "SGN", "label": "Signed", "by": None}
        at = (attempt.accepted_at or attempt.started_at).isoformat()
        self.rsps.get(
            f"{API}notes/history",
            json={
                "notes": {
                    str(note_id): {
                        "state": {**shown, "changed_at": at, "changed_by": attempt.canvas_staff_id},
                        "allowed_actions": ["unlock"],
                        "history": [{"state": "SGN", "at": at, "by": attempt.canvas_staff_id}],
                    }
                },
                "as_of": at,
            },
        )
        self.assertEqual(confirmation.attempt_check(attempt_id=attempt.pk).outcome, "confirmed")

        text = self.scrape(HTTP_AUTHORIZATION="Bearer scrape-token-0123456789").content.decode()
        self.assertRegex(
            text, r'(?m)^portal_note_actions_total\{action="sign",outcome="confirmed"\} [1-9]'
        )
        self.assertRegex(
            text, r'(?m)^portal_note_actions_total\{action="sign",outcome="accepted"\} [1-9]'
        )
        self.assertRegex(
            text, r'(?m)^portal_confirmation_lag_seconds_count\{outcome="confirmed"\} [1-9]'
        )
        self.assertNotIn(str(note_id), text)
