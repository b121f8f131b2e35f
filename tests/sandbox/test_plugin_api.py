"""The sandbox's note_sign_api endpoints over HTTP: the contract's error table, lists, pages."""

import datetime as dt
import uuid

from django.test import SimpleTestCase

from tests.live import sandbox

INVALID_NOTE_ID = {
    "error": {"code": "invalid_note_id", "message": "The note id is not a valid UUID."}
}
UNAUTHENTICATED = {
    "error": {
        "code": "unauthenticated",
        "message": "Sign in to Canvas again: the access token is missing or invalid.",
    }
}
FORBIDDEN = {
    "error": {"code": "forbidden", "message": "Only active Canvas staff members can use this API."}
}
NOT_FOUND = {"error": {"code": "note_not_found", "message": "No note has this id."}}


class PluginErrorTableTests(SimpleTestCase):
    """Every row of DESIGN.md's error table, with the exact JSON body."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        cls.note = cls.sandbox.create_note(state="SGN", kind="encounter")

    def assertError(self, response, status, body):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.headers["Content-Type"], "application/json")
        self.assertEqual(response.json(), body)

    def test_checks_run_in_the_contracts_order(self):
        """401 before 400 (Canvas authenticates first), 403 before 400, 400 before 404."""
        patient = self.sandbox.issue_tokens("patientuser")["access_token"]
        for path in ("/notes/not-a-uuid", "/notes/not-a-uuid/lock"):
            method = "POST" if path.endswith("lock") else "GET"
            with self.subTest(path=path):
                self.assertError(self.sandbox.api(method, path), 401, UNAUTHENTICATED)
                self.assertError(self.sandbox.api(method, path, token=patient), 403, FORBIDDEN)
                self.assertError(
                    self.sandbox.api(method, path, token=self.token), 400, INVALID_NOTE_ID
                )

    def test_400_invalid_note_id_including_huge_and_unicode_ids(self):
        ids = [
            "not-a-uuid",
            "1234",
            "x" * 5000,
            "ñöté-ïd",
            "🙂" * 36,
            "١٢٣٤٥٦٧٨-١٢٣٤-١٢٣٤-١٢٣٤-١٢٣٤٥٦٧٨٩٠١٢",  # Arabic-Indic digits in UUID shape
            str(uuid.uuid4()).replace("-", ""),
            "{" + str(uuid.uuid4()) + "}",
            str(uuid.uuid4())[:-1] + "g",
            str(uuid.uuid4()) + "0",
        ]
        for note_id in ids:
            for method, path in (("GET", f"/notes/{note_id}"), ("POST", f"/notes/{note_id}/lock")):
                with self.subTest(method=method, note_id=note_id[:40]):
                    self.assertError(
                        self.sandbox.api(method, path, token=self.token), 400, INVALID_NOTE_ID
                    )

    def test_upper_case_uuid_is_accepted(self):
        response = self.sandbox.api("GET", f"/notes/{self.note['id'].upper()}", token=self.token)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["id"], self.note["id"])

    def test_401_unauthenticated(self):
        expired = self.sandbox.issue_tokens("provider", expires_in=-5)["access_token"]
        revoked = self.sandbox.issue_tokens("provider2")["access_token"]
        self.sandbox.revoke_user("provider2")
        cases = {
            "no header": {},
            "other scheme": {"Authorization": f"Basic {self.token}"},
            "empty bearer": {"Authorization": "Bearer "},
            "unknown token": {"Authorization": "Bearer not-a-real-token"},
            "expired token": {"Authorization": f"Bearer {expired}"},
            "revoked token": {"Authorization": f"Bearer {revoked}"},
            "huge token": {"Authorization": "Bearer " + "a" * 5000},
        }
        for path in ("/me", "/notes", f"/notes/{self.note['id']}"):
            for name, headers in cases.items():
                with self.subTest(path=path, case=name):
                    response = self.sandbox.api("GET", path, headers=headers)
                    self.assertError(response, 401, UNAUTHENTICATED)
                    self.assertIn("Bearer", response.headers["WWW-Authenticate"])
        with self.subTest("token in the query string is not accepted"):
            response = self.sandbox.api("GET", f"/me?access_token={self.token}")
            self.assertError(response, 401, UNAUTHENTICATED)
        with self.subTest("POST action"):
            response = self.sandbox.api("POST", f"/notes/{self.note['id']}/unlock")
            self.assertError(response, 401, UNAUTHENTICATED)
            self.assertEqual(self.sandbox.note(self.note["id"])["state"]["code"], "SGN")

    def test_notes_without_a_token_is_401_with_the_contract_error(self):
        response = self.sandbox.http.get(self.sandbox.api_url + "/notes", timeout=10)
        self.assertError(response, 401, UNAUTHENTICATED)

    def test_403_inactive_staff_and_non_staff(self):
        for username in ("inactive", "patientuser"):
            token = self.sandbox.issue_tokens(username)["access_token"]
            for method, path in (
                ("GET", "/me"),
                ("GET", "/notes"),
                ("GET", f"/notes/{self.note['id']}"),
                ("POST", f"/notes/{self.note['id']}/unlock"),
            ):
                with self.subTest(username=username, path=path):
                    self.assertError(self.sandbox.api(method, path, token=token), 403, FORBIDDEN)
        self.assertEqual(self.sandbox.note(self.note["id"])["state"]["code"], "SGN")

    def test_404_unknown_note(self):
        missing = str(uuid.uuid4())
        for method, path in (("GET", f"/notes/{missing}"), ("POST", f"/notes/{missing}/lock")):
            with self.subTest(method=method):
                self.assertError(self.sandbox.api(method, path, token=self.token), 404, NOT_FOUND)

    def test_409_action_not_allowed_adds_the_state(self):
        response = self.sandbox.api("POST", f"/notes/{self.note['id']}/lock", token=self.token)
        self.assertError(
            response,
            409,
            {
                "error": {
                    "code": "action_not_allowed",
                    "message": "This note is Signed; it can't be locked.",
                },
                "state": "SGN",
            },
        )

    def test_422_action_rejected(self):
        note = self.sandbox.create_note(state="LKD", kind="encounter_nosig")
        response = self.sandbox.api("POST", f"/notes/{note['id']}/sign", token=self.token)
        message = "This note type does not require a signature."
        self.assertError(response, 422, {"error": {"code": "action_rejected", "message": message}})
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "LKD")

    def test_404_for_a_note_the_caller_may_not_see_is_the_unknown_notes_404(self):
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        unknown = "00000000-0000-4000-8000-000000000000"
        for username in ("frontdesk", "locum"):
            token = self.sandbox.issue_tokens(username)["access_token"]
            absent = self.sandbox.api("GET", f"/notes/{unknown}", token=token)
            for method, path in (
                ("GET", f"/notes/{note['id']}"),
                ("GET", f"/notes/{note['id']}/history"),
                ("POST", f"/notes/{note['id']}/sign"),
                ("POST", f"/notes/{note['id']}/lock"),
            ):
                with self.subTest(username=username, path=path):
                    response = self.sandbox.api(method, path, token=token)
                    self.assertEqual(response.status_code, 404)
                    self.assertEqual(response.content, absent.content)
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "LKD")

    def test_403_not_note_provider_for_someone_elses_note(self):
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        signed = self.sandbox.create_note(state="SGN", kind="encounter")
        # Who sees the note but is not its provider: a provider on the patient's care team.
        self.sandbox.add_to_care_team("Test Patient", "provider2")
        for username in ("provider2",):
            token = self.sandbox.issue_tokens(username)["access_token"]
            for target, action in ((note, "sign"), (note, "lock_sign"), (signed, "unlock")):
                with self.subTest(username=username, action=action):
                    response = self.sandbox.api(
                        "POST", f"/notes/{target['id']}/{action}", token=token
                    )
                    self.assertEqual(response.status_code, 403, response.text)
                    self.assertEqual(response.json()["error"]["code"], "not_note_provider")
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "LKD")
        self.assertEqual(self.sandbox.note(signed["id"])["state"]["code"], "SGN")

    def test_unknown_paths_and_methods_answer_an_empty_404(self):
        for method, path, token in (
            ("POST", f"/notes/{self.note['id']}/explode", self.token),
            ("GET", f"/notes/{self.note['id']}/lock", self.token),
            ("DELETE", "/notes", self.token),
            ("PUT", f"/notes/{self.note['id']}", None),
            ("GET", "/nope", None),
        ):
            with self.subTest(method=method, path=path):
                response = self.sandbox.api(method, path, token=token)
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response.content, b"")
        other_plugin = self.sandbox.http.get(
            self.sandbox.url("/plugin-io/api/acme__other/notes"), timeout=10
        )
        self.assertEqual((other_plugin.status_code, other_plugin.content), (404, b""))

    def test_nothing_echoes_request_headers(self):
        marker = "echo-canary-7d1f"
        headers = {"X-Canary": marker, "User-Agent": marker, "Referer": f"http://{marker}/"}
        for method, path in (
            ("GET", "/me"),
            ("GET", "/notes?limit=1"),
            ("GET", f"/notes/{self.note['id']}"),
            ("POST", f"/notes/{self.note['id']}/lock"),
            ("GET", "/nope"),
        ):
            for token in (self.token, "wrong", None):
                with self.subTest(method=method, path=path, token=token):
                    response = self.sandbox.api(method, path, token=token, headers=headers)
                    self.assertNotIn(marker, response.text)
                    self.assertNotIn(self.token, response.text)


class MeAndSummaryTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]

    def test_me(self):
        body = self.sandbox.api("GET", "/me", token=self.token).json()
        self.assertEqual(set(body), {"user_id", "staff", "installation_time_zone"})
        self.assertEqual(body["installation_time_zone"], "UTC")
        self.assertEqual(set(body["staff"]), {"id", "name", "time_zone"})
        self.assertIsInstance(body["user_id"], str)
        self.assertEqual(body["staff"]["name"], "Riley Chen")
        front = self.sandbox.api(
            "GET", "/me", token=self.sandbox.issue_tokens("frontdesk")["access_token"]
        ).json()
        self.assertNotEqual(front["staff"]["id"], body["staff"]["id"])

    def test_summary_shape(self):
        note = self.sandbox.create_note(
            state="BKD",
            kind="appointment",
            patient="Summary Shape",
            date="2026-01-02T10:30:00+00:00",
        )
        body = self.sandbox.api("GET", f"/notes/{note['id']}", token=self.token).json()
        self.assertEqual(
            set(body),
            {"id", "title", "datetime_of_service", "state", "note_type", "patient", "provider",
             "queue_action", "signed_by", "staged_commands",
             "supervising_provider", "allowed_actions"},
        )  # fmt: skip
        self.assertEqual(
            set(body["state"]), {"code", "label", "changed_at", "changed_by"}, body["state"]
        )
        self.assertEqual((body["state"]["code"], body["state"]["label"]), ("BKD", "Booked"))
        self.assertIsNone(body["state"]["changed_by"])
        self.assertEqual(
            body["note_type"],
            {
                "name": "Office visit appointment",
                "category": "appointment",
                "is_sig_required": True,
            },
        )
        self.assertEqual(body["patient"]["name"], "Summary Shape")
        self.assertEqual(body["provider"]["name"], "Riley Chen")
        self.assertIsNone(body["supervising_provider"])
        self.assertEqual(body["datetime_of_service"], "2026-01-02T10:30:00+00:00")
        self.assertEqual(body["allowed_actions"], ["checkin", "noshow"])


def _walk(sandbox_, token, **params):
    """Return every note id the list yields, page by page, and the page count."""
    ids, pages, cursor = [], 0, None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        response = sandbox_.api("GET", "/notes", token=token, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [note["id"] for note in body["notes"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert pages < 500, "the cursor walk does not end"


class PaginationTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        # Many notes at the same instant (so the list passes 100 and pages
        # split a tie): the id orders them.
        for _ in range(40):
            cls.sandbox.create_note(state="NEW", kind="encounter", date="2025-06-01T09:00:00+00:00")

    def test_cursor_walk_sees_every_note_once_in_order(self):
        small, pages = _walk(self.sandbox, self.token, limit=7)
        self.assertEqual(len(small), len(set(small)))
        self.assertGreaterEqual(len(small), 60)
        self.assertEqual(pages, -(-len(small) // 7))
        large, _ = _walk(self.sandbox, self.token, limit=100)
        self.assertEqual(small, large)

    def test_order_is_date_of_service_descending_then_id(self):
        notes = self.sandbox.api("GET", "/notes?limit=100", token=self.token).json()["notes"]
        keys = [
            (-dt.datetime.fromisoformat(n["datetime_of_service"]).timestamp(), n["id"])
            for n in notes
        ]
        self.assertEqual(keys, sorted(keys))

    def test_limit_default_and_bounds(self):
        total = len(_walk(self.sandbox, self.token, limit=100)[0])
        cases = {"": 50, "abc": 50, "-3": 50, "0": 1, "1": 1, "100": 100, "1000": 100}
        for limit, expected in cases.items():
            expected = min(expected, total)
            with self.subTest(limit=limit):
                body = self.sandbox.api(
                    "GET", "/notes", token=self.token, params={"limit": limit}
                ).json()
                self.assertEqual(len(body["notes"]), expected)
        body = self.sandbox.api("GET", "/notes", token=self.token).json()
        self.assertEqual(len(body["notes"]), 50)
        self.assertIsNotNone(body["next_cursor"])

    def test_last_page_has_null_next_cursor(self):
        body = self.sandbox.api(
            "GET", "/notes", token=self.token, params={"date": "2025-06-01", "limit": 100}
        ).json()
        self.assertGreaterEqual(len(body["notes"]), 5)
        self.assertIsNone(body["next_cursor"])

    def test_order_oldest_is_date_of_service_ascending_then_id(self):
        notes = self.sandbox.api(
            "GET", "/notes", token=self.token, params={"limit": 100, "order": "oldest"}
        ).json()["notes"]
        keys = [
            (dt.datetime.fromisoformat(n["datetime_of_service"]).timestamp(), n["id"])
            for n in notes
        ]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(len(notes), 100)

    def test_cursor_walk_oldest_first_sees_every_note_once_in_order(self):
        newest, _ = _walk(self.sandbox, self.token, limit=100)
        for limit in (7, 100):
            with self.subTest(limit=limit):
                oldest, pages = _walk(self.sandbox, self.token, limit=limit, order="oldest")
                self.assertEqual(pages, -(-len(oldest) // limit))
                self.assertEqual(sorted(oldest), sorted(newest))
                self.assertEqual(len(oldest), len(set(oldest)))
        # The 40 notes that tie on their date of service come in id order, across pages.
        tied = {"date": "2025-06-01", "order": "oldest"}
        ids, pages = _walk(self.sandbox, self.token, limit=3, **tied)
        self.assertGreaterEqual(len(ids), 40)
        self.assertGreater(pages, 10)
        by_date = self.sandbox.api(
            "GET", "/notes", token=self.token, params={**tied, "limit": 100}
        ).json()["notes"]
        self.assertEqual(ids, [note["id"] for note in by_date])
        self.assertEqual(
            [n["id"] for n in by_date],
            [n["id"] for n in sorted(by_date, key=lambda n: (n["datetime_of_service"], n["id"]))],
        )

    def test_count_does_not_depend_on_the_order(self):
        counts = {
            order: self.sandbox.api(
                "GET", "/notes", token=self.token, params={"limit": 1, "order": order}
            ).json()["count"]
            for order in ("newest", "oldest", "sideways")
        }
        self.assertEqual(len(set(counts.values())), 1, counts)

    def test_a_cursor_from_the_other_order_is_400(self):
        first = {
            order: self.sandbox.api(
                "GET", "/notes", token=self.token, params={"limit": 2, "order": order}
            ).json()["next_cursor"]
            for order in ("newest", "oldest")
        }
        for made_with, used_with in (("oldest", None), ("oldest", "newest"), ("newest", "oldest")):
            with self.subTest(made_with=made_with, used_with=used_with):
                params = {"cursor": first[made_with], "limit": 2}
                if used_with:
                    params["order"] = used_with
                response = self.sandbox.api("GET", "/notes", token=self.token, params=params)
                self.assertEqual(response.status_code, 400, response.text)
                self.assertEqual(response.json()["error"]["code"], "invalid_cursor")

    def test_invalid_cursor_is_400(self):
        for cursor in ("garbage!", "eyJ4IjogMX0", "A" * 300):
            with self.subTest(cursor=cursor[:20]):
                response = self.sandbox.api(
                    "GET", "/notes", token=self.token, params={"cursor": cursor}
                )
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["error"]["code"], "invalid_cursor")


class FilterTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        cls.me = cls.sandbox.api("GET", "/me", token=cls.token).json()["staff"]

    def _list(self, **params):
        response = self.sandbox.api(
            "GET", "/notes", token=self.token, params={"limit": 100, **params}
        )
        self.assertEqual(response.status_code, 200)
        return response.json()["notes"]

    def test_state_filter(self):
        notes = self._list(state="LKD,NEW")
        self.assertTrue(notes)
        self.assertEqual({note["state"]["code"] for note in notes}, {"LKD", "NEW"})
        self.assertEqual(self._list(state="lkd"), self._list(state="LKD"))
        self.assertEqual(self._list(state="XYZ"), [])
        self.assertEqual(len(self._list(state="")), len(self._list()))

    def test_provider_filter(self):
        mine = self._list(provider="me")
        self.assertTrue(mine)
        self.assertEqual({note["provider"]["id"] for note in mine}, {self.me["id"]})
        others = self._list(state="NEW,LKD,SGN,BKD,CVD")
        other_id = next(n["provider"]["id"] for n in others if n["provider"]["id"] != self.me["id"])
        theirs = self._list(provider=other_id)
        self.assertTrue(theirs)
        self.assertEqual({note["provider"]["id"] for note in theirs}, {other_id})
        self.assertEqual(self._list(provider="no-such-staff"), [])

    def test_patient_filter_is_a_case_insensitive_name_substring(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter", patient="Zelda Quasimodo")
        found = self._list(patient="quasimo")
        self.assertEqual([n["id"] for n in found], [note["id"]])
        self.assertEqual([n["id"] for n in self._list(patient="ZELDA QUASIMODO")], [note["id"]])
        self.assertEqual([n["id"] for n in self._list(patient="da qua")], [note["id"]])
        # The whole string, as the plugin matches it: not word by word.
        self.assertEqual(self._list(patient="Quasimodo Zelda"), [])

    def test_date_filter_is_the_utc_date_of_service(self):
        today = dt.datetime.now(dt.UTC).date()
        notes = self._list(date=today.isoformat())
        self.assertTrue(notes, "the seed has appointments today")
        for note in notes:
            self.assertEqual(dt.datetime.fromisoformat(note["datetime_of_service"]).date(), today)
        self.assertTrue(
            any(
                n["state"]["code"] in ("BKD", "RVT")
                for n in notes
                if n["note_type"]["category"] == "appointment"
            )
        )

    def test_unknown_or_malformed_filters_are_ignored(self):
        everything = self._list()
        self.assertEqual(self._list(colour="blue"), everything)
        self.assertEqual(self._list(date="yesterday"), everything)
        self.assertEqual(self._list(date="2026-02-30"), everything)
