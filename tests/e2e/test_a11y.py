"""The accessibility audit itself (a11y.py, through the Browser), on pages made here.

The walk's pages are clean, so these show that the audit still finds
serious and critical violations, reports each once, ignores the moderate
ones and keeps to the portal's Content-Security-Policy. No servers: the
browser answers for http://a11y.test/ itself, with the portal's CSP.
"""

from django.test import SimpleTestCase

from tests.e2e.harness import Browser
from tests.e2e.test_walk import _require_chromium

ORIGIN = "http://a11y.test"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'"
)
PAGE = """<!doctype html><html lang="en"><head><title>Test page</title>
<link rel="stylesheet" href="/{css}"></head>
<body><div>Outside any landmark</div><main><h1>Page</h1>
<p class="faint">Faint text</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<button></button>
</main></body></html>"""
FILES = {
    "/bad": ("text/html", PAGE.format(css="faint.css")),
    "/imports": ("text/html", PAGE.format(css="imports.css")),
    "/faint.css": ("text/css", ".faint { color: #c8c8c8; }"),
    "/imports.css": ("text/css", '@import url("/faint.css");'),
}


class AccessibilityAuditTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _require_chromium()
        cls.browser = Browser()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        super().tearDownClass()

    def setUp(self):
        self.browser.problems.clear()
        self.page = self.browser.new_page()
        self.page.route(f"{ORIGIN}/**", self._serve)
        self.addCleanup(self.page.context.close)

    @staticmethod
    def _serve(route):
        path = "/" + route.request.url.split("/", 3)[3].split("?")[0]
        content_type, body = FILES[path]
        route.fulfill(
            status=200,
            content_type=content_type,
            body=body,
            headers={"Content-Security-Policy": CSP},
        )

    def problems(self) -> list[str]:
        found = list(self.browser.problems)
        self.browser.problems.clear()
        return found

    def test_serious_and_critical_violations_are_reported_once_per_url(self):
        self.page.goto(f"{ORIGIN}/bad")  # audited on its own
        problems = self.problems()
        text = "\n".join(problems)
        self.assertEqual(len(problems), 3, text)
        self.assertIn(f"axe serious color-contrast on {ORIGIN}/bad (after goto)", text)
        # Each element: axe's shortest unique selector, and what is wrong with it.
        self.assertIn("    p: Fix any of the following: Element has insufficient", text)
        self.assertIn(f"axe critical image-alt on {ORIGIN}/bad (after goto)", text)
        self.assertIn("    img: Fix any of the following: Element does not have an alt", text)
        self.assertIn(f"axe critical button-name on {ORIGIN}/bad (after goto)", text)
        self.assertIn("dequeuniversity.com/rules/axe/", text)
        # A moderate one (text outside any landmark) is only in the report file.
        self.assertNotIn("region", text)
        audit = self.browser.a11y.audited[-1]
        self.assertEqual(audit["url"], f"{ORIGIN}/bad")
        self.assertIn(("region", "moderate"), [(v["id"], v["impact"]) for v in audit["violations"]])

        # The same document again, and a new one at the same URL: nothing new.
        self.browser.shot(self.page, "zz-a11y-self-test")
        self.page.reload()
        self.assertEqual(self.problems(), [])

        # An htmx-like change adds a violation: the next shot reports just that one.
        self.page.evaluate(
            "document.querySelector('main').insertAdjacentHTML('beforeend',"
            " '<button class=\"also-empty\"></button>')"
        )
        self.browser.shot(self.page, "zz-a11y-self-test")
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("button-name", problems[0])
        self.assertIn("(shot zz-a11y-self-test)", problems[0])
        self.assertRegex(problems[0], r"\n    \S*also-empty\S*: Fix any")
        self.assertNotIn("\n    button: ", problems[0])

    def test_axe_causes_no_csp_violation_even_with_css_imports(self):
        # (Not /bad itself: the audit reports a violation once per URL, across tests.)
        for path in ["/bad?csp", "/imports"]:
            with self.subTest(path=path):
                self.page.goto(f"{ORIGIN}{path}")
                self.page.wait_for_timeout(200)  # a violation report is an event
                problems = self.problems()
                self.assertEqual([p for p in problems if not p.startswith("axe ")], [])
                self.assertTrue(any("color-contrast" in p for p in problems), problems)
