"""The one HTTP session policy: shared across threads, no cookies, no redirects, timeouts."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.test import SimpleTestCase, override_settings

from integrations.canvas import http
from integrations.canvas.auth import AuthClient
from integrations.canvas.exceptions import AuthorizationServerUnavailable


class _EchoHandler(BaseHTTPRequestHandler):
    """Echo the path and bearer token; set a cookie; redirect /redirect and revocations."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connections are pooled and shared

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self):
        self.server.hits.append(self.path)
        if self.path.startswith("/redirect") or self.path.endswith("/revoke_token/"):
            self.send_response(307)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(
            {"path": self.path, "auth": self.headers.get("Authorization", "")}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "tracking=1; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, *args):
        pass


def _serve():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    server.hits, server.connections, server.lock = [], 0, threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class SessionPolicyTests(SimpleTestCase):
    def setUp(self):
        self.server = _serve()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        settings = override_settings(CANVAS_BASE_URL=self.base, CANVAS_HTTP_POOL_SIZE=8)
        settings.enable()
        self.addCleanup(settings.disable)
        self.addCleanup(http.session_reset)

    def test_one_session_shared_by_many_threads_keeps_every_answer_with_its_call(self):
        threads, calls = 16, 25
        sessions = set()

        def worker(n: int) -> list[tuple[dict, str, str]]:
            sessions.add(id(http.session_get()))
            out = []
            for i in range(calls):
                token, path = f"token-{n}-{i}", f"/echo/{n}/{i}"
                response = http.request("GET", self.base + path, auth=http.BearerAuth(token))
                out.append((response.json(), path, token))
                response.close()
            return out

        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = [r for batch in pool.map(worker, range(threads)) for r in batch]
        self.assertEqual(len(results), threads * calls)
        for body, path, token in results:
            self.assertEqual(body, {"path": path, "auth": f"Bearer {token}"})
        self.assertEqual(len(sessions), 1)
        # Cookies are refused: nothing one call got travels with another's.
        self.assertEqual(len(http.session_get().cookies), 0)
        # Connections were pooled and reused, not one per call.
        self.assertLess(self.server.connections, threads * calls // 4)

    def test_timeouts_and_no_redirects_on_every_call(self):
        seen = {}
        session = http.session_get()
        original = session.request

        def spy(method, url, **kwargs):
            seen.update(kwargs)
            return original(method, url, **kwargs)

        session.request = spy
        response = http.request("POST", self.base + "/redirect", data={"token": "rt-secret"})
        self.assertEqual(response.status_code, 307)
        self.assertEqual(self.server.hits, ["/redirect"])  # /elsewhere never asked
        self.assertEqual(seen["timeout"], (3.05, 15.0))
        self.assertIs(seen["allow_redirects"], False)

    def test_revocation_does_not_follow_a_redirect_with_the_token(self):
        with (
            override_settings(CANVAS_CLIENT_ID="c"),
            self.assertRaises(AuthorizationServerUnavailable),
        ):
            AuthClient().token_revoke(token="rt-secret")
        self.assertEqual(self.server.hits, ["/auth/revoke_token/"])

    def test_a_settings_change_rebuilds_the_session(self):
        first = http.session_get()
        self.assertEqual(first.get_adapter(self.base)._pool_maxsize, 8)
        with override_settings(CANVAS_HTTP_POOL_SIZE=3):
            second = http.session_get()
            self.assertIsNot(second, first)
            self.assertEqual(second.get_adapter(self.base)._pool_maxsize, 3)

    def test_nothing_is_resent_after_a_refused_connection(self):
        self.server.shutdown()
        self.server.server_close()
        with self.assertRaises(http.TransportError) as caught:
            http.request("POST", self.base + "/x")
        self.assertFalse(caught.exception.sent)


class EnvironmentReadOnceTests(SimpleTestCase):
    def tearDown(self):
        http.session_reset()

    def test_proxy_and_ca_bundle_come_from_the_environment_once(self):
        from unittest import mock

        env = {
            "HTTPS_PROXY": "http://egress.clinic.internal:3128",
            "NO_PROXY": "",
            "REQUESTS_CA_BUNDLE": "/etc/ssl/clinic.pem",
        }
        with (
            mock.patch.dict("os.environ", env),
            override_settings(CANVAS_BASE_URL="https://x.canvasmedical.com"),
        ):
            session = http.session_build()
        self.assertFalse(session.trust_env)  # no per-call scan, no ~/.netrc credentials
        self.assertEqual(session.proxies["https"], "http://egress.clinic.internal:3128")
        self.assertEqual(session.verify, "/etc/ssl/clinic.pem")

    def test_no_proxy_for_the_canvas_host_is_honoured(self):
        from unittest import mock

        env = {"HTTPS_PROXY": "http://egress:3128", "NO_PROXY": "x.canvasmedical.com"}
        with (
            mock.patch.dict("os.environ", env),
            override_settings(CANVAS_BASE_URL="https://x.canvasmedical.com"),
        ):
            self.assertNotIn("https", http.session_build().proxies)
