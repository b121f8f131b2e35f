"""The plugin client against `responses` at the HTTP boundary, plus real sockets for faults."""

import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from django.test import SimpleTestCase, override_settings
from responses import matchers

from integrations.canvas import exceptions
from integrations.canvas.exceptions import InvalidNoteId
from integrations.canvas.plugin import PluginClient, note_id_parse
from tests.helpers import API, SETTINGS, CanvasMockMixin, error, free_port, summary
from tests.live import sandbox

BASE = "https://canvas.test/plugin-io/api/note_sign_api/"
NOTE_ID = "3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f"


@override_settings(
    CANVAS_BASE_URL="https://canvas.test/",
    CANVAS_PLUGIN_NAME="note_sign_api",
    CANVAS_CONNECT_TIMEOUT=1.5,
    CANVAS_READ_TIMEOUT=4.0,
)
class PluginClientTests(CanvasMockMixin, SimpleTestCase):
    def setUp(self):
        super().setUp()
        self.client_ = PluginClient()

    def test_me_sends_bearer_token_and_timeouts(self):
        call = self.rsps.get(
            BASE + "me",
            json={"user_id": 7, "staff": {"id": "s1", "name": "Dr. Pat"}},
            match=[matchers.header_matcher({"Authorization": "Bearer at-1"})],
        )
        me = self.client_.me(access_token="at-1")
        # A contract v2 /me: no zones, read as unknown ("").
        self.assertEqual(
            me,
            {
                "user_id": "7",
                "staff": {"id": "s1", "name": "Dr. Pat", "time_zone": ""},
                "installation_time_zone": "",
            },
        )
        self.assertEqual(call.call_count, 1)
        self.assertEqual(self.rsps.calls[0].request.req_kwargs["timeout"], (1.5, 4.0))

    def test_me_reads_the_zones_and_ignores_bad_ones(self):
        cases = [
            ("America/Chicago", "Europe/Berlin", "America/Chicago", "Europe/Berlin"),
            ("UTC", None, "UTC", ""),
            ("Mars/Base", "../etc/passwd", "", ""),
            ("America", "/etc/localtime", "", ""),  # a folder, a path
            (5, ["UTC"], "", ""),
            ("America/Chicago\nforged", "", "", ""),
        ]
        for installation, staff_zone, expected, expected_staff in cases:
            with self.subTest(installation=installation, staff=staff_zone):
                self.rsps.get(
                    BASE + "me",
                    json={
                        "user_id": 7,
                        "installation_time_zone": installation,
                        "staff": {"id": "s1", "name": "Dr. Pat", "time_zone": staff_zone},
                    },
                )
                me = self.client_.me(access_token="at-1")
                self.assertEqual(me["installation_time_zone"], expected)
                self.assertEqual(me["staff"]["time_zone"], expected_staff)
                self.assertEqual(me["staff"]["id"], "s1")  # a bad zone is never fatal

    def test_me_refuses_a_staff_id_that_is_not_a_plain_code(self):
        for staff_id in ["", "s1\nforged log line", "<b>s1</b>", "x" * 65, " s1", "s1;drop"]:
            with self.subTest(staff_id=staff_id):
                self.rsps.get(BASE + "me", json={"user_id": 7, "staff": {"id": staff_id}})
                with self.assertRaises(exceptions.CanvasUnavailable):
                    self.client_.me(access_token="at-1")
        self.rsps.get(BASE + "me", json={"staff": {"id": "4150cd20de8a470aa570a852859ac87e"}})
        self.assertEqual(
            self.client_.me(access_token="at-1")["staff"]["id"], "4150cd20de8a470aa570a852859ac87e"
        )

    def test_note_list_passes_filters_and_parses(self):
        self.rsps.get(
            BASE + "notes",
            json={"notes": [summary()], "next_cursor": "c2"},
            match=[
                matchers.query_param_matcher(
                    {
                        "state": "LKD,NEW",
                        "provider": "me",
                        "patient": "ada",
                        "date": "2026-11-28",
                        "limit": "25",
                        "cursor": "c1",
                    }
                )
            ],
        )
        page = self.client_.note_list(
            access_token="t",
            state=["LKD", "NEW"],
            provider="me",
            patient="ada",
            date="2026-11-28",
            limit=25,
            cursor="c1",
        )
        self.assertEqual(page["next_cursor"], "c2")
        note = page["notes"][0]
        self.assertEqual(note["state"]["code"], "LKD")
        self.assertEqual(note["datetime_of_service"].isoformat(), "2026-11-27T15:30:00+00:00")
        self.assertEqual(note["allowed_actions"], ["sign", "lock_sign", "unlock"])

    def test_allowed_actions_keep_only_names(self):
        # Which of them the portal offers is the notes app's business (notes/actions.py).
        self.rsps.get(BASE + f"notes/{NOTE_ID}", json=summary(allowed=["sign", "delete", 5]))
        self.assertEqual(
            self.client_.note_get(access_token="t", note_id=NOTE_ID)["allowed_actions"],
            ["sign", "delete"],
        )

    def test_note_action_posts(self):
        self.rsps.post(
            BASE + f"notes/{NOTE_ID}/lock_sign",
            status=202,
            json={
                "note_id": NOTE_ID,
                "action": "lock_sign",
                "effects": ["LOCK_NOTE", "SIGN_NOTE"],
                "from_state": "NEW",
            },
        )
        result = self.client_.note_action(access_token="t", note_id=NOTE_ID, action="lock_sign")
        self.assertEqual(result["effects"], ["LOCK_NOTE", "SIGN_NOTE"])
        self.assertEqual(result["from_state"], "NEW")

    def test_a_note_id_that_is_not_a_uuid_never_leaves_the_portal(self):
        for note_id in ["a/b?", "../me", NOTE_ID + "/sign"]:
            with self.subTest(note_id=note_id), self.assertRaises(exceptions.InvalidNoteId):
                self.client_.note_get(access_token="t", note_id=note_id)
            with self.subTest(note_id=note_id), self.assertRaises(exceptions.InvalidNoteId):
                self.client_.note_action(access_token="t", note_id=note_id, action="sign")
        self.assertEqual(len(self.rsps.calls), 0)

    def test_every_contract_error_maps_to_its_exception(self):
        cases = [
            (400, "invalid_note_id", exceptions.InvalidNoteId),
            (401, "unauthenticated", exceptions.Unauthenticated),
            (403, "forbidden", exceptions.Forbidden),
            (404, "note_not_found", exceptions.NoteNotFound),
            (409, "action_not_allowed", exceptions.ActionNotAllowed),
            (422, "action_rejected", exceptions.ActionRejected),
            (429, "rate_limited", exceptions.RateLimited),
            (500, "server_error", exceptions.CanvasUnavailable),
            (502, "bad_gateway", exceptions.CanvasUnavailable),
            (503, "unavailable", exceptions.CanvasUnavailable),
        ]
        for status, code, exc_class in cases:
            with self.subTest(status=status):
                self.rsps.reset()
                self.rsps.post(
                    BASE + f"notes/{NOTE_ID}/lock",
                    status=status,
                    json=error(code, state="SGN") if status == 409 else error(code),
                )
                with self.assertRaises(exc_class) as caught:
                    self.client_.note_action(access_token="t", note_id=NOTE_ID, action="lock")
                self.assertEqual(caught.exception.status, status)
                self.assertEqual(caught.exception.code, code)
                self.assertTrue(caught.exception.message)

    def test_409_names_the_state(self):
        self.rsps.post(
            BASE + f"notes/{NOTE_ID}/lock",
            status=409,
            json=error("action_not_allowed", state="SGN"),
        )
        with self.assertRaises(exceptions.ActionNotAllowed) as caught:
            self.client_.note_action(access_token="t", note_id=NOTE_ID, action="lock")
        self.assertEqual(caught.exception.state, "SGN")
        self.assertEqual(
            caught.exception.message, "This note is Signed; that action isn't allowed."
        )

    def test_the_signer_rule_and_a_second_signature_have_their_own_errors(self):
        cases = [
            (403, "not_note_provider", exceptions.NotNoteProvider, exceptions.Forbidden),
            (409, "already_signed", exceptions.AlreadySigned, exceptions.ActionNotAllowed),
        ]
        for status, code, error_class, base in cases:
            with self.subTest(code=code):
                self.rsps.reset()
                self.rsps.post(
                    BASE + f"notes/{NOTE_ID}/sign", status=status, json=error(code, state="SGN")
                )
                with self.assertRaises(error_class) as caught:
                    self.client_.note_action(access_token="t", note_id=NOTE_ID, action="sign")
                self.assertIsInstance(caught.exception, base)
                self.assertEqual((caught.exception.code, caught.exception.status), (code, status))

    def test_a_202_is_what_canvas_accepted(self):
        self.rsps.post(
            BASE + f"notes/{NOTE_ID}/lock_sign",
            status=202,
            json={
                "note_id": NOTE_ID,
                "action": "lock_sign",
                "effects": ["LOCK_NOTE", "SIGN_NOTE"],
                "from_state": "NEW",
                "expected_state": {"code": "SGN", "label": "Signed"},
                "accepted_at": "2026-11-30T10:00:00.123456+00:00",
            },
        )
        result = self.client_.note_action(access_token="t", note_id=NOTE_ID, action="lock_sign")
        self.assertEqual(result["expected_state"], {"code": "SGN", "label": "Signed"})
        self.assertEqual(result["effects"], ["LOCK_NOTE", "SIGN_NOTE"])
        self.assertEqual(result["accepted_at"].isoformat(), "2026-11-30T10:00:00.123456+00:00")
        self.assertNotIn("note", result)

    def test_history_and_v2_summary_fields(self):
        self.rsps.get(
            BASE + f"notes/{NOTE_ID}/history",
            match=[matchers.query_param_matcher({"since": "2026-11-30T09:00:00+00:00"})],
            json={
                "history": [
                    {"state": "LKD", "at": "2026-11-30T09:01:00+00:00", "by": "s1"},
                    {"state": "SGN", "at": "2026-11-30T09:02:00+00:00", "by": None},
                ],
                "as_of": "2026-11-30T09:05:00+00:00",
            },
        )
        since = datetime(2026, 11, 30, 9, tzinfo=UTC)
        history = self.client_.note_history(access_token="t", note_id=NOTE_ID, since=since)
        self.assertEqual(
            [(h["state"], h["at"].minute, h["by"]) for h in history["history"]],
            [("LKD", 1, "s1"), ("SGN", 2, "")],
        )
        body = summary(NOTE_ID, supervising_provider={"id": "s9", "name": "Riley Chen"})
        body["state"].update(changed_at="2026-11-30T09:02:00+00:00", changed_by="s1")
        self.rsps.get(BASE + f"notes/{NOTE_ID}", json=body)
        note = self.client_.note_get(access_token="t", note_id=NOTE_ID)
        self.assertEqual(note["state"]["changed_by"], "s1")
        self.assertEqual(note["state"]["changed_at"].hour, 9)
        self.assertEqual(note["supervising_provider"], {"id": "s9", "name": "Riley Chen"})

    def test_unreadable_history_is_unavailable(self):
        for body in [{"history": "x"}, {"history": [{"state": "LKD", "at": "yesterday"}]}]:
            with self.subTest(body=body):
                self.rsps.reset()
                self.rsps.get(BASE + f"notes/{NOTE_ID}/history", json=body)
                with self.assertRaises(exceptions.CanvasUnavailable):
                    self.client_.note_history(access_token="t", note_id=NOTE_ID)

    def test_notes_history_reads_many_notes_in_one_call(self):
        other = "8a1a3a0e-5a40-4f6e-9a39-3b2f4f6f0c11"
        since = datetime(2026, 11, 30, 9, tzinfo=UTC)
        self.rsps.get(
            BASE + "notes/history",
            match=[
                matchers.query_param_matcher(
                    {"ids": f"{NOTE_ID},{other}", "since": since.isoformat()}
                )
            ],
            json={
                "notes": {
                    NOTE_ID.upper(): {
                        "state": {"code": "SGN", "label": "Signed",
                                  "changed_at": "2026-11-30T09:02:00+00:00", "changed_by": "s1"},
                        "allowed_actions": ["unlock", 7],
                        "history": [{"state": "SGN", "at": "2026-11-30T09:02:00Z", "by": "s1"}],
                    }
                },
                "as_of": "2026-11-30T09:03:00Z",
            },
        )  # fmt: skip
        body = self.client_.notes_history(
            access_token="t", ids=[NOTE_ID, other, NOTE_ID.upper()], since=since
        )
        self.assertEqual(len(self.rsps.calls), 1)
        note = body["notes"][str(NOTE_ID).lower()]
        self.assertEqual((note["state"]["code"], note["state"]["changed_by"]), ("SGN", "s1"))
        self.assertEqual(note["allowed_actions"], ["unlock"])
        self.assertEqual([(h["state"], h["at"].minute) for h in note["history"]], [("SGN", 2)])
        with self.assertRaises(ValueError):
            self.client_.notes_history(access_token="t", ids=[uuid.uuid4() for _ in range(101)])

    def test_unreadable_notes_history_is_unavailable(self):
        for body in [{"notes": []}, {"notes": {"x": {"state": {"code": "SGN"}}}},
                     {"notes": {NOTE_ID: {"state": {"code": "SGN"}, "history": "x"}}}]:  # fmt: skip
            with self.subTest(body=body):
                self.rsps.reset()
                self.rsps.get(BASE + "notes/history", json=body)
                with self.assertRaises(exceptions.CanvasUnavailable):
                    self.client_.notes_history(access_token="t", ids=[NOTE_ID])

    def test_only_plain_codes_and_states_are_taken_from_canvas(self):
        # A code or state with a newline or markup would forge a log line or
        # land in the audit table: anything but [a-z0-9_] is upstream_error.
        for code, state in [("bad\ncode", "LKD\nX"), ("<b>x</b>", "lkd"), ("a" * 65, "TOOLONG")]:
            with self.subTest(code=code):
                self.rsps.reset()
                self.rsps.post(
                    BASE + f"notes/{NOTE_ID}/lock", status=409, json=error(code, state=state)
                )
                with self.assertRaises(exceptions.ActionNotAllowed) as caught:
                    self.client_.note_action(access_token="t", note_id=NOTE_ID, action="lock")
                self.assertEqual(
                    (caught.exception.code, caught.exception.state),
                    (
                        "upstream_error",
                        "",
                    ),
                )

    def test_422_keeps_the_upstream_sentence(self):
        self.rsps.post(
            BASE + f"notes/{NOTE_ID}/sign",
            status=422,
            json=error("action_rejected", "This note type does not require a signature."),
        )
        with self.assertRaises(exceptions.ActionRejected) as caught:
            self.client_.note_action(access_token="t", note_id=NOTE_ID, action="sign")
        self.assertEqual(caught.exception.message, "This note type does not require a signature.")

    def test_error_bodies_that_are_not_the_contract_are_tolerated(self):
        bodies = [
            ("<html><body>Bad Gateway</body></html>", "text/html"),
            ("not json {", "application/json"),
            ('["a list"]', "application/json"),
            ('{"error": "a string"}', "application/json"),
            ("", "text/plain"),
        ]
        for body, content_type in bodies:
            for status, exc_class in [
                (404, exceptions.NoteNotFound),
                (409, exceptions.ActionNotAllowed),
                (502, exceptions.CanvasUnavailable),
            ]:
                with self.subTest(body=body, status=status):
                    self.rsps.reset()
                    self.rsps.post(
                        BASE + f"notes/{NOTE_ID}/lock",
                        status=status,
                        body=body,
                        content_type=content_type,
                    )
                    with self.assertRaises(exc_class):
                        self.client_.note_action(access_token="t", note_id=NOTE_ID, action="lock")

    def test_success_with_html_or_invalid_json_is_unavailable(self):
        for body in ["<html>Sign in</html>", "{broken", ""]:
            with self.subTest(body=body):
                self.rsps.reset()
                self.rsps.get(BASE + "notes", status=200, body=body)
                with self.assertRaises(exceptions.CanvasUnavailable):
                    self.client_.note_list(access_token="t")

    def test_unexpected_shapes_are_unavailable(self):
        cases = [
            ("notes", {"notes": "x"}),
            ("notes", {"notes": [{"id": NOTE_ID}]}),
            ("notes", {"notes": [], "next_cursor": 5}),
            (f"notes/{NOTE_ID}", summary(note_id="../../admin")),
            (f"notes/{NOTE_ID}", summary(id=None)),
            (f"notes/{NOTE_ID}", ["list"]),
            (f"notes/{NOTE_ID}", summary(state="LKD", allowed_actions="sign")),
            ("me", {"user_id": 1}),
            ("me", {"user_id": 1, "staff": {"name": "no id"}}),
        ]
        for path, body in cases:
            with self.subTest(path=path, body=body):
                self.rsps.reset()
                self.rsps.get(BASE + path, json=body)
                with self.assertRaises(exceptions.CanvasUnavailable):
                    if path == "notes":
                        self.client_.note_list(access_token="t")
                    elif path == "me":
                        self.client_.me(access_token="t")
                    else:
                        self.client_.note_get(access_token="t", note_id=NOTE_ID)

    def test_redirects_are_not_followed(self):
        self.rsps.get(BASE + "me", status=302, headers={"Location": "https://canvas.test/login"})
        with self.assertRaises(exceptions.CanvasUnavailable):
            self.client_.me(access_token="t")
        self.assertEqual(len(self.rsps.calls), 1)

    def test_read_timeout_on_post_is_outcome_unknown(self):
        self.rsps.post(BASE + f"notes/{NOTE_ID}/sign", body=requests.ReadTimeout("slow"))
        with self.assertRaises(exceptions.OutcomeUnknown):
            self.client_.note_action(access_token="t", note_id=NOTE_ID, action="sign")
        self.assertEqual(len(self.rsps.calls), 1)

    def test_504_on_post_is_outcome_unknown(self):
        self.rsps.post(BASE + f"notes/{NOTE_ID}/sign", status=504, body="gateway timeout")
        with self.assertRaises(exceptions.OutcomeUnknown):
            self.client_.note_action(access_token="t", note_id=NOTE_ID, action="sign")

    def test_read_timeout_on_get_is_unavailable(self):
        self.rsps.get(BASE + f"notes/{NOTE_ID}", body=requests.ReadTimeout("slow"))
        with self.assertRaises(exceptions.CanvasUnavailable):
            self.client_.note_get(access_token="t", note_id=NOTE_ID)

    def test_connect_timeout_is_unavailable_even_on_post(self):
        self.rsps.post(BASE + f"notes/{NOTE_ID}/lock", body=requests.ConnectTimeout("no route"))
        with self.assertRaises(exceptions.CanvasUnavailable):
            self.client_.note_action(access_token="t", note_id=NOTE_ID, action="lock")

    def test_token_never_in_exception_text(self):
        self.rsps.get(BASE + "me", body=requests.ConnectionError("boom"))
        with self.assertRaises(exceptions.CanvasError) as caught:
            self.client_.me(access_token="secret-token-value")
        self.assertNotIn("secret-token-value", str(caught.exception))
        self.assertNotIn("secret-token-value", repr(caught.exception.__dict__))

    def test_what_is_not_an_action_name_is_refused_before_any_call(self):
        for action in ["../admin", "", "LOCK", "lock?x=1", None]:
            with self.subTest(action=action), self.assertRaises(ValueError):
                self.client_.note_action(access_token="t", note_id=NOTE_ID, action=action)
        self.assertEqual(len(self.rsps.calls), 0)
        self.rsps.assert_all_requests_are_fired = False


COUNTS_URL = API + "notes/counts"
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@override_settings(**SETTINGS)
class PluginClientWorklistTests(CanvasMockMixin, SimpleTestCase):
    """`order` on the list and GET /notes/counts, at the HTTP boundary."""

    def setUp(self):
        super().setUp()
        self.client_ = PluginClient()

    def test_note_list_sends_order(self):
        for order in ("oldest", "newest"):
            with self.subTest(order=order):
                self.rsps.reset()
                self.rsps.get(
                    API + "notes",
                    json={"notes": [summary()], "next_cursor": "c2", "count": 3},
                    match=[
                        matchers.query_param_matcher(
                            {"queue": "to_sign", "limit": "2", "cursor": "c1", "order": order}
                        )
                    ],
                )
                page = self.client_.note_list(
                    access_token="t", queue="to_sign", limit=2, cursor="c1", order=order
                )
                self.assertEqual((page["next_cursor"], page["count"]), ("c2", 3))

    def test_note_list_without_order_sends_none(self):
        self.rsps.get(
            API + "notes",
            json={"notes": [], "next_cursor": None, "count": 0},
            match=[matchers.query_param_matcher({"limit": "50"})],
        )
        self.assertEqual(
            self.client_.note_list(access_token="t"),
            {"notes": [], "next_cursor": None, "count": 0},
        )

    def test_note_counts_sends_the_bounds_and_parses(self):
        day_start = datetime(2026, 11, 30, tzinfo=LOS_ANGELES)
        self.rsps.get(
            COUNTS_URL,
            json={"to_sign": 7, "overdue": 2, "open": 3, "today": 0, "later": "ignored"},
            match=[
                matchers.header_matcher({"Authorization": "Bearer at-1"}),
                matchers.query_param_matcher(
                    {
                        "overdue_before": "2026-11-30T00:00:00-08:00",
                        "day_start": "2026-11-30T00:00:00-08:00",
                        "day_end": "2026-12-01T00:00:00-08:00",
                    }
                ),
            ],
        )
        counts = self.client_.note_counts(
            access_token="at-1",
            overdue_before=day_start,
            day_start=day_start,
            day_end=day_start + timedelta(days=1),
        )
        self.assertEqual(counts, {"to_sign": 7, "overdue": 2, "open": 3, "today": 0})

    def test_note_counts_leaves_missing_bounds_out(self):
        cases = [
            ({}, {}),
            (
                {"overdue_before": datetime(2026, 11, 30, 8, tzinfo=UTC)},
                {"overdue_before": "2026-11-30T08:00:00+00:00"},
            ),
            (
                {"day_start": datetime(2026, 11, 30, 8, tzinfo=UTC)},
                {"day_start": "2026-11-30T08:00:00+00:00"},
            ),
        ]
        for given, sent in cases:
            with self.subTest(given=given):
                self.rsps.reset()
                self.rsps.get(
                    COUNTS_URL,
                    json={"to_sign": 1, "overdue": 0, "open": 0, "today": 0},
                    match=[matchers.query_param_matcher(sent)],
                )
                bounds = {"overdue_before": None, "day_start": None, "day_end": None, **given}
                counts = self.client_.note_counts(access_token="t", **bounds)
                self.assertEqual(counts, {"to_sign": 1, "overdue": 0, "open": 0, "today": 0})

    def test_unreadable_counts_are_unavailable(self):
        good = {"to_sign": 1, "overdue": 0, "open": 2, "today": 3}
        bodies = [
            ["a list"],
            {},
            "7",
            {key: value for key, value in good.items() if key != "today"},
            {**good, "overdue": -1},
            {**good, "open": "2"},
            {**good, "today": 3.0},
            {**good, "to_sign": True},
            {**good, "to_sign": None},
        ]
        for body in bodies:
            with self.subTest(body=body):
                self.rsps.reset()
                self.rsps.get(COUNTS_URL, json=body)
                with self.assertRaises(exceptions.CanvasUnavailable):
                    self.client_.note_counts(
                        access_token="t", overdue_before=None, day_start=None, day_end=None
                    )
        self.rsps.reset()
        self.rsps.get(COUNTS_URL, body="<html>Maintenance</html>", content_type="text/html")
        with self.assertRaises(exceptions.CanvasUnavailable):
            self.client_.note_counts(
                access_token="t", overdue_before=None, day_start=None, day_end=None
            )

    def test_note_counts_errors_map_as_every_call(self):
        for status, code, exc_class in (
            (401, "unauthenticated", exceptions.Unauthenticated),
            (403, "forbidden", exceptions.Forbidden),
            (503, "unavailable", exceptions.CanvasUnavailable),
        ):
            with self.subTest(status=status):
                self.rsps.reset()
                self.rsps.get(COUNTS_URL, status=status, json=error(code))
                with self.assertRaises(exc_class) as caught:
                    self.client_.note_counts(
                        access_token="t", overdue_before=None, day_start=None, day_end=None
                    )
                self.assertEqual((caught.exception.status, caught.exception.code), (status, code))


class PluginClientSandboxTests(SimpleTestCase):
    """`order` and the counts through the client against the sandbox: the same names."""

    PATIENT = "Olive Counts"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.settings_override = override_settings(
            CANVAS_BASE_URL=cls.sandbox.base_url, CANVAS_PLUGIN_NAME="note_sign_api"
        )
        cls.settings_override.enable()
        cls.addClassCleanup(cls.settings_override.disable)
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        day = datetime(2024, 3, 4, 9, tzinfo=UTC)
        cls.notes = [
            cls.sandbox.create_note(
                state="LKD",
                kind="encounter",
                patient=cls.PATIENT,
                date=(day + timedelta(hours=hours)).isoformat(),
            )
            for hours in (2, 0, 1, 1)
        ]

    def test_note_list_oldest_first_across_pages(self):
        client = PluginClient()
        seen, cursor = [], None
        while True:
            page = client.note_list(
                access_token=self.token,
                patient=self.PATIENT,
                limit=1,
                cursor=cursor,
                order="oldest",
            )
            self.assertEqual(page["count"], len(self.notes))
            seen += [note["id"] for note in page["notes"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        expected = sorted(self.notes, key=lambda note: note["id"])
        expected = sorted(expected, key=lambda note: note["datetime_of_service"])
        self.assertEqual(seen, [note["id"] for note in expected])
        newest = client.note_list(access_token=self.token, patient=self.PATIENT, limit=1)
        # A cursor of the other order: 400 invalid_cursor (raised as the client's 400 error).
        with self.assertRaises(exceptions.CanvasError) as caught:
            client.note_list(
                access_token=self.token,
                patient=self.PATIENT,
                cursor=newest["next_cursor"],
                order="oldest",
            )
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "invalid_cursor"))

    def test_note_counts(self):
        client = PluginClient()
        queue = client.note_list(access_token=self.token, queue="to_sign", limit=1)["count"]
        day_start = datetime(2024, 3, 4, tzinfo=UTC)
        counts = client.note_counts(
            access_token=self.token,
            overdue_before=datetime.now(UTC),
            day_start=day_start,
            day_end=day_start + timedelta(days=1),
        )
        self.assertEqual(set(counts), {"to_sign", "overdue", "open", "today"})
        self.assertEqual(counts["to_sign"], queue)
        self.assertGreaterEqual(counts["overdue"], len(self.notes))
        self.assertGreaterEqual(counts["today"], len(self.notes))
        none = client.note_counts(
            access_token=self.token, overdue_before=None, day_start=day_start, day_end=None
        )
        self.assertEqual((none["overdue"], none["today"]), (0, 0))
        self.assertEqual((none["to_sign"], none["open"]), (counts["to_sign"], counts["open"]))


class _HangUpServer:
    """A real TCP server that reads a request and closes without answering."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.requests += 1

    def close(self):
        self.sock.close()


class _KeepAliveThenDropServer:
    """A real HTTP/1.1 server whose first connection answers once, then is dropped.

    The second request on that kept-alive connection is read and met with a
    close, as when a server times out an idle connection just as it is reused.
    Later connections answer every request.
    """

    BODY = b'{"user_id": "u1", "staff": {"id": "s1", "name": "Dr. One"}}'

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.answered = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, conn):
        self.answered += 1  # counted before sending, so the client never sees it lag
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Connection: keep-alive\r\nContent-Length: "
            + str(len(self.BODY)).encode()
            + b"\r\n\r\n"
            + self.BODY
        )

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            first = self.connections == 1
            with conn:
                while conn.recv(65536):
                    if first and self.answered:
                        break  # drop the reused connection unanswered
                    self._answer(conn)

    def close(self):
        self.sock.close()


class PluginClientRealSocketTests(SimpleTestCase):
    """Faults from real sockets, not mocks: refused connections and hang-ups."""

    def test_connection_refused_is_unavailable_for_post(self):
        port = free_port()  # nothing listens there now
        with (
            override_settings(CANVAS_BASE_URL=f"http://127.0.0.1:{port}"),
            self.assertRaises(exceptions.CanvasUnavailable),
        ):
            PluginClient().note_action(access_token="t", note_id=NOTE_ID, action="lock")

    def test_hang_up_after_sending_a_post_is_outcome_unknown(self):
        server = _HangUpServer()
        self.addCleanup(server.close)
        with override_settings(CANVAS_BASE_URL=f"http://127.0.0.1:{server.port}"):
            with self.assertRaises(exceptions.OutcomeUnknown):
                PluginClient().note_action(access_token="t", note_id=NOTE_ID, action="lock")
            with self.assertRaises(exceptions.CanvasUnavailable):
                PluginClient().note_get(access_token="t", note_id=str(uuid.uuid4()))

    def test_get_on_a_dropped_keep_alive_connection_is_retried_once(self):
        server = _KeepAliveThenDropServer()
        self.addCleanup(server.close)
        with override_settings(CANVAS_BASE_URL=f"http://127.0.0.1:{server.port}"):
            client = PluginClient()
            self.assertEqual(client.me(access_token="t")["staff"]["name"], "Dr. One")
            # Same pooled connection: the server drops it; one retry on a new one.
            self.assertEqual(client.me(access_token="t")["staff"]["name"], "Dr. One")
        self.assertEqual(server.connections, 2)
        self.assertEqual(server.answered, 2)

    def test_post_on_a_dropped_keep_alive_connection_is_not_retried(self):
        server = _KeepAliveThenDropServer()
        self.addCleanup(server.close)
        with override_settings(CANVAS_BASE_URL=f"http://127.0.0.1:{server.port}"):
            client = PluginClient()
            client.me(access_token="t")
            with self.assertRaises(exceptions.OutcomeUnknown):
                client.note_action(access_token="t", note_id=NOTE_ID, action="lock")
        self.assertEqual(server.connections, 1)

    def test_read_timeout_from_a_silent_server(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)  # accepts (kernel backlog) but never answers
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        with override_settings(CANVAS_BASE_URL=f"http://127.0.0.1:{port}", CANVAS_READ_TIMEOUT=0.2):
            with self.assertRaises(exceptions.OutcomeUnknown):
                PluginClient().note_action(access_token="t", note_id=NOTE_ID, action="sign")
            with self.assertRaises(exceptions.CanvasUnavailable):
                PluginClient().me(access_token="t")


class NoteIdParseTests(SimpleTestCase):
    def test_accepts_canonical_uuids_in_any_case_with_spaces(self):
        value = uuid.uuid4()
        for text in [str(value), str(value).upper(), f"  {value}\n", value]:
            with self.subTest(text=text):
                self.assertEqual(note_id_parse(value=text), value)

    def test_refuses_everything_else(self):
        bad = [
            "",
            "hello",
            "1" * 5000,
            uuid.uuid4().hex,  # no hyphens
            "{" + str(uuid.uuid4()) + "}",
            "urn:uuid:" + str(uuid.uuid4()),
            str(uuid.uuid4())[:-1] + "\u0444",
            "\uff13" + str(uuid.uuid4())[1:],  # a full-width digit
            str(uuid.uuid4()) + "/../me",
            None,
            42,
            b"bytes",
        ]
        for value in bad:
            with self.subTest(value=repr(value)[:40]), self.assertRaises(InvalidNoteId):
                note_id_parse(value=value)
