"""Django's error reports (admin e-mails, the debug page) never show the callback's code."""

import sys

from django.test import RequestFactory, SimpleTestCase
from django.views.debug import get_exception_reporter_class

SECRETS = ["SECRET-CODE-123", "STATE-VALUE-456", "described-failure"]


def _callback_view(request):
    raise ValueError("the callback failed")


class CallbackErrorReportTests(SimpleTestCase):
    def report(self):
        request = RequestFactory().get(
            "/canvas/callback/",
            {
                "code": SECRETS[0],
                "state": SECRETS[1],
                "error_description": SECRETS[2],
                "page": "2",
            },
            REQUEST_URI="/canvas/callback/?code=SECRET-CODE-123",
        )
        try:
            _callback_view(request)
        except ValueError:
            exc_info = sys.exc_info()
        reporter = get_exception_reporter_class(request)(request, *exc_info, is_email=True)
        return reporter.get_traceback_html(), reporter.get_traceback_text()

    def test_the_query_parameters_of_the_callback_are_masked(self):
        html, text = self.report()
        for rendered in (html, text):
            for secret in SECRETS:
                with self.subTest(secret=secret):
                    self.assertNotIn(secret, rendered)
            self.assertIn("the callback failed", rendered)
            self.assertIn("/canvas/callback/", rendered)
        # An ordinary parameter stays readable.
        self.assertIn("page", text)
        self.assertIn("'2'", text)
