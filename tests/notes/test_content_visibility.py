"""A note the user may not see, on the portal's content read: the same page as no such note.

Against the real sandbox over HTTP (tests/live.py): Canvas answers its 404
for another provider's note, and the portal must not tell it apart from
an id no note has (issue 24).
"""

import re
import uuid

from django.test import TestCase

from tests.factories import PASSWORD
from tests.helpers import ensure_groups
from tests.notes.test_live import LiveSandboxMixin

HTMX = {"HTTP_HX_REQUEST": "true"}


def page_text(response, note_id) -> str:
    """Return the page with the note id asked for and the per-request CSRF token blanked."""
    text = response.content.decode().replace(str(note_id), "<note id>")
    text = re.sub(r'("x-csrftoken": ")[^"]+', r"\1<token>", text)
    return re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+', r"\1<token>", text)


class ContentOfAnotherProvidersNoteTests(LiveSandboxMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = cls.link("provider", "Providers")
        # A physician with no tie to the provider's patients.
        cls.locum = cls.link("locum", "Providers")

    def setUp(self):
        super().setUp()
        self.note = self.sandbox.create_note(state="LKD", kind="encounter")  # the provider's
        self.narrative = f"Chest tightness after the marathon {uuid.uuid4().hex[:8]}"
        self.sandbox.add_command(self.note["id"], "hpi", data={"narrative": self.narrative})

    def test_its_owner_reads_the_content(self):
        self.client.login(username="provider", password=PASSWORD)
        response = self.client.get(f"/notes/{self.note['id']}/content/", **HTMX)
        self.assertContains(response, self.narrative)

    def test_anyone_else_gets_what_an_unknown_id_gets(self):
        self.client.login(username="locum", password=PASSWORD)
        unknown = uuid.uuid4()
        for path, headers in (("/notes/{}/content/", HTMX), ("/notes/{}/", {})):
            with self.subTest(path=path):
                theirs = self.client.get(path.format(self.note["id"]), **headers)
                absent = self.client.get(path.format(unknown), **headers)
                self.assertNotContains(theirs, self.narrative, status_code=theirs.status_code)
                self.assertContains(
                    theirs, "Canvas has no note with that ID.", status_code=absent.status_code
                )
                self.assertEqual(
                    page_text(theirs, self.note["id"]), page_text(absent, unknown), path
                )
