"""Pages for a signed-in user are never cached: Cache-Control: no-store, private."""

import uuid

from django.test import TestCase, override_settings
from django.urls import reverse

from notes.models import NoteActionAttempt
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import API, SETTINGS, CanvasMockMixin, accepted, ensure_groups, summary


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@override_settings(**SETTINGS)
class NoStoreWhenSignedInTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-p")

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def assertNotStored(self, response):
        self.assertLessEqual({"no-store", "private"}, directives(response))
        self.assertNotIn("public", directives(response))

    def test_every_page_with_patient_data(self):
        note_id = uuid.uuid4()
        self.rsps.get(API + "notes", json={"notes": [summary()], "next_cursor": None})
        self.rsps.get(f"{API}notes/{note_id}", json=summary(note_id))
        for path in ["/", "/notes/", f"/notes/{note_id}/", "/notes/activity/"]:
            with self.subTest(path=path):
                response = self.client.get(path)
                self.assertEqual(response.status_code, 200)
                self.assertNotStored(response)
                if path == "/":
                    self.assertEqual(response["Cache-Control"], "no-store, private")

    def test_htmx_fragments_and_action_answers(self):
        self.rsps.get(API + "notes", json={"notes": [summary()], "next_cursor": None})
        fragment = self.client.get("/notes/?tab=all", HTTP_HX_REQUEST="true")
        self.assertEqual(fragment.status_code, 200)
        self.assertNotStored(fragment)
        note_id = uuid.uuid4()
        self.rsps.post(f"{API}notes/{note_id}/sign", status=202, json=accepted(note_id, "sign"))
        action = self.client.post(
            f"/notes/{note_id}/sign/", {"view": "row"}, HTTP_HX_REQUEST="true"
        )
        self.assertEqual(action.status_code, 200)
        self.assertNotStored(action)
        # The poll that follows the attempt carries the outcome: never stored either.
        attempt = NoteActionAttempt.objects.get(note_id=note_id)
        poll = self.client.get(f"/notes/attempts/{attempt.pk}/", HTTP_HX_REQUEST="true")
        self.assertEqual(poll.status_code, 204)
        self.assertNotStored(poll)

    def test_errors_and_the_admin(self):
        self.assertNotStored(self.client.get("/no/such/page/"))
        self.assertNotStored(self.client.get("/admin/"))

    def test_a_public_answer_becomes_private_for_a_signed_in_user(self):
        self.assertNotStored(self.client.get(reverse("favicon")))

    def test_the_sign_in_and_sign_out_answers(self):
        self.client.logout()
        signed_in = self.client.post(
            reverse("login"), {"username": "provider", "password": PASSWORD}
        )
        self.assertRedirects(signed_in, "/", fetch_redirect_response=False)
        self.assertNotStored(signed_in)
        signed_out = self.client.post(reverse("logout"))
        self.assertNotStored(signed_out)
