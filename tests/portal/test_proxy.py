"""The client address and the request id: believed from a trusted proxy only."""

import re
import uuid

from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings
from django.urls import reverse

from notes.models import NoteActionAttempt
from portal import proxy
from portal.models import SignInEvent, SignInThrottle
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import API, SETTINGS, CanvasMockMixin, accepted, ensure_groups

UUID_HEX = re.compile(r"[0-9a-f]{32}")


class ClientIPTests(SimpleTestCase):
    def ip(self, forwarded=None, remote="10.1.1.1"):
        meta = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            meta["HTTP_X_FORWARDED_FOR"] = forwarded
        return proxy.client_ip(RequestFactory().get("/", **meta))

    @override_settings(TRUSTED_PROXY_COUNT=0)
    def test_without_a_proxy_forwarded_headers_are_ignored(self):
        self.assertEqual(self.ip("6.6.6.6"), "10.1.1.1")
        self.assertEqual(self.ip(None, remote="2001:DB8::1"), "2001:db8::1")
        self.assertIsNone(self.ip(None, remote=""))
        self.assertIsNone(self.ip(None, remote="not-an-address"))

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_one_proxy_the_last_entry_counts_in_any_spelling(self):
        cases = {
            "203.0.113.7": "203.0.113.7",
            "203.0.113.7:51234": "203.0.113.7",
            "[2001:db8::7]:443": "2001:db8::7",
            "2001:db8::7": "2001:db8::7",
            "::ffff:203.0.113.7": "203.0.113.7",
            "6.6.6.6, 203.0.113.9": "203.0.113.9",
            "forged, 6.6.6.6,, 203.0.113.9:1": "203.0.113.9",
            "10.20.30.40": "10.20.30.40",  # a clinic on a private network
        }
        for forwarded, expected in cases.items():
            with self.subTest(forwarded=forwarded):
                self.assertEqual(self.ip(forwarded), expected)

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_one_proxy_nothing_usable_falls_back_to_remote_addr(self):
        for forwarded in [None, "", "garbage", "0.0.0.0", "unknown"]:
            with self.subTest(forwarded=forwarded):
                self.assertEqual(self.ip(forwarded), "10.1.1.1")

    @override_settings(TRUSTED_PROXY_COUNT=2)
    def test_two_proxies_the_entry_the_outer_one_wrote_counts(self):
        self.assertEqual(self.ip("6.6.6.6, 203.0.113.9, 10.0.0.2"), "203.0.113.9")
        # One entry short: the request skipped a proxy, nothing in it is trusted.
        self.assertEqual(self.ip("203.0.113.9"), "10.1.1.1")

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_an_unbalanced_quote_from_the_client_cannot_swallow_the_proxys_entry(self):
        # nginx's $proxy_add_x_forwarded_for: what the client sent, then the
        # address nginx saw. Quotes in the client's part are just characters.
        for client_part in ['1.2.3.4, for="', '6.6.6.6, "', 'for="[2001:db8::1]:80, 6.6.6.6']:
            with self.subTest(client_part=client_part):
                self.assertEqual(self.ip(f"{client_part}, 203.0.113.50"), "203.0.113.50")

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_shapes_nginx_and_cloud_load_balancers_write(self):
        cases = {
            # nginx: "client-sent, address nginx saw"
            "6.6.6.6, 198.51.100.23": "198.51.100.23",
            # AWS ALB appends the peer, with a port when so configured
            "6.6.6.6, 198.51.100.23:55123": "198.51.100.23",
            # IPv6 client, bracketed with a port, and bare
            "[2001:db8::23]:55123": "2001:db8::23",
            "6.6.6.6, 2001:db8::23": "2001:db8::23",
        }
        for forwarded, expected in cases.items():
            with self.subTest(forwarded=forwarded):
                self.assertEqual(self.ip(forwarded), expected)

    @override_settings(TRUSTED_PROXY_COUNT=2)
    def test_google_load_balancer_then_nginx(self):
        # GCP's external LB writes "client, lb-ip"; nginx behind it appends
        # the LB's internal address it was connected from: count 2 proxies
        # that append (the LB and nginx) from the right.
        self.assertEqual(self.ip("6.6.6.6, 203.0.113.77, 130.211.0.5"), "203.0.113.77")
        self.assertEqual(self.ip('x, for=", 203.0.113.77, 130.211.0.5'), "203.0.113.77")
        # The entry in the trusted position is no address: the socket's.
        self.assertEqual(self.ip("6.6.6.6, junk, 130.211.0.5"), "10.1.1.1")

    def test_a_negative_count_is_refused(self):
        for value in [-1, "1", True]:
            with (
                self.subTest(value=value),
                override_settings(TRUSTED_PROXY_COUNT=value),
                self.assertRaisesMessage(ImproperlyConfigured, "TRUSTED_PROXY_COUNT"),
            ):
                proxy.client_ip(RequestFactory().get("/"))


class SignInBehindTheProxyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_user("pat")

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_a_forwarded_address_with_a_port_is_counted_not_a_500(self):
        response = self.client.post(
            reverse("login"),
            {"username": "pat", "password": "nope"},
            REMOTE_ADDR="10.1.1.1",
            HTTP_X_FORWARDED_FOR="203.0.113.7:51234",
        )
        self.assertContains(response, "did not match")
        self.assertEqual(SignInEvent.objects.get().address, "203.0.113.7")
        self.assertEqual(
            SignInThrottle.objects.get(scope="address").key, "203.0.113.7", "address counted"
        )

    @override_settings(TRUSTED_PROXY_COUNT=0)
    def test_without_a_proxy_a_client_cannot_pick_its_address(self):
        self.client.post(
            reverse("login"),
            {"username": "pat", "password": "nope"},
            REMOTE_ADDR="10.1.1.1",
            HTTP_X_FORWARDED_FOR="6.6.6.6",
        )
        self.assertEqual(SignInEvent.objects.get().address, "10.1.1.1")


class RequestIDTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_user("pat")

    def setUp(self):
        self.client.login(username="pat", password=PASSWORD)

    def request_id(self, incoming):
        return self.client.get(reverse("healthz"), HTTP_X_REQUEST_ID=incoming)["X-Request-ID"]

    @override_settings(TRUSTED_PROXY_COUNT=0)
    def test_without_a_proxy_a_client_cannot_choose_the_id(self):
        self.assertTrue(UUID_HEX.fullmatch(self.request_id("forged-request-id-1")))

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_the_proxys_well_formed_id_is_kept(self):
        for incoming in ["0f1e2d3c4b5a69788796a5b4c3d2e1f0", str(uuid.uuid4()), "req.1234_ab-CD"]:
            with self.subTest(incoming=incoming):
                self.assertEqual(self.request_id(incoming), incoming)

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_anything_else_is_replaced(self):
        for incoming in [
            "",
            "short",
            "x" * 65,
            "has space in it",
            "-starts-with-dash",
            "abcdefgh\n",
            "abcdefgh\nforged log line",
            "id;drop=1234",
        ]:
            with self.subTest(incoming=incoming):
                self.assertTrue(UUID_HEX.fullmatch(self.request_id(incoming)))


@override_settings(**SETTINGS)
class AuditRowAddressTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-p")

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)
        self.note_id = uuid.uuid4()
        self.rsps.post(
            f"{API}notes/{self.note_id}/sign", status=202, json=accepted(self.note_id, "sign")
        )

    def sign(self, **headers):
        return self.client.post(
            f"/notes/{self.note_id}/sign/", {"view": "row"}, HTTP_HX_REQUEST="true", **headers
        )

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_behind_the_proxy_the_audit_row_holds_the_clients_address_and_the_proxys_id(self):
        response = self.sign(
            REMOTE_ADDR="10.1.1.1",
            HTTP_X_FORWARDED_FOR="198.51.100.4:40000",
            HTTP_X_REQUEST_ID="proxy-id-0123456789",
        )
        self.assertEqual(response.status_code, 200)
        attempt = NoteActionAttempt.objects.get()
        self.assertEqual(attempt.client_ip, "198.51.100.4")
        self.assertEqual(attempt.request_id, "proxy-id-0123456789")

    @override_settings(TRUSTED_PROXY_COUNT=0)
    def test_without_a_proxy_the_audit_row_ignores_the_clients_headers(self):
        response = self.sign(
            REMOTE_ADDR="10.1.1.1",
            HTTP_X_FORWARDED_FOR="198.51.100.4",
            HTTP_X_REQUEST_ID="forged-id-0123456789",
        )
        self.assertEqual(response.status_code, 200)
        attempt = NoteActionAttempt.objects.get()
        self.assertEqual(attempt.client_ip, "10.1.1.1")
        self.assertNotEqual(attempt.request_id, "forged-id-0123456789")
        self.assertEqual(attempt.request_id, response["X-Request-ID"])
