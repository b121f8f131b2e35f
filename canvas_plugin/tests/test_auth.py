"""Who gets past NoteApi's authentication pass, and what everyone else is told.

The authentication pass only says yes (a bearer token Canvas resolved to a user) or
no (401): a user who is not active staff gets past it and is refused with a 403 in
the request pass, before any route runs.
"""

from canvas_sdk.test_utils.factories import CanvasUserFactory, PatientFactory
from django.test import TestCase
from note_sign_api.handlers.api import NoteApi

from .helpers import call, make_note, make_staff

UNAUTHENTICATED = {
    "error": {
        "code": "unauthenticated",
        "message": "Sign in to Canvas again: the access token is missing or invalid.",
    }
}
FORBIDDEN = {
    "error": {
        "code": "forbidden",
        "message": "Only active Canvas staff members can use this API.",
    }
}
ROUTES = [
    ("GET", "/me"),
    ("GET", "/notes"),
    ("GET", "/notes/{id}"),
    ("POST", "/notes/{id}/lock"),
    ("POST", "/notes/{id}/sign"),
    ("POST", "/notes/{id}/lock_sign"),
    ("POST", "/notes/{id}/unlock"),
    ("POST", "/notes/{id}/checkin"),
    ("POST", "/notes/{id}/noshow"),
    ("GET", "/notes/{id}/history"),
    ("GET", "/notes/counts"),
]


class NoteApiAuthenticationTests(TestCase):
    """Only a bearer token whose user is active staff reaches a route."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff()
        cls.inactive = make_staff(active=False)
        cls.patient_user = PatientFactory().user
        cls.staff_flag_without_record = CanvasUserFactory(is_staff=True)
        cls.note = make_note(state="NEW", provider=cls.staff)

    def check(self, *, headers, actor, status, body, passes=1):
        for method, path in ROUTES:
            with self.subTest(method=method, path=path):
                reply = call(
                    self.api,
                    method=method,
                    path=path.format(id=self.note.id),
                    headers=headers,
                    actor=actor,
                )
                self.assertEqual(reply.passes, passes)
                self.assertEqual(reply.status, status)
                self.assertEqual(reply.json(), body)
                self.assertEqual(reply.effects, [])

    def test_no_authorization_header(self):
        self.check(headers={}, actor=str(self.staff.user.dbid), status=401, body=UNAUTHENTICATED)

    def test_other_schemes(self):
        for value in ("Basic dXNlcjpwYXNz", "Token abc", "Bearer", "Bearer ", "bearerabc"):
            with self.subTest(value=value):
                self.check(
                    headers={"Authorization": value},
                    actor=str(self.staff.user.dbid),
                    status=401,
                    body=UNAUTHENTICATED,
                )

    def test_no_actor(self):
        self.check(
            headers={"Authorization": "Bearer t"}, actor="", status=401, body=UNAUTHENTICATED
        )

    def test_unknown_actor(self):
        self.check(
            headers={"Authorization": "Bearer t"}, actor="987654", status=401, body=UNAUTHENTICATED
        )

    def test_patient_user_is_forbidden(self):
        self.check(
            headers={"Authorization": "Bearer t"},
            actor=str(self.patient_user.dbid),
            status=403,
            body=FORBIDDEN,
            passes=2,
        )

    def test_inactive_staff_is_forbidden(self):
        self.check(
            headers={"Authorization": "Bearer t"},
            actor=str(self.inactive.user.dbid),
            status=403,
            body=FORBIDDEN,
            passes=2,
        )

    def test_staff_flag_without_staff_record_is_forbidden(self):
        self.check(
            headers={"Authorization": "Bearer t"},
            actor=str(self.staff_flag_without_record.dbid),
            status=403,
            body=FORBIDDEN,
            passes=2,
        )

    def test_scheme_is_case_insensitive_and_active_staff_passes(self):
        reply = call(
            self.api,
            path="/me",
            headers={"authorization": "bearer t"},
            actor=str(self.staff.user.dbid),
        )
        self.assertEqual(reply.passes, 2)
        self.assertEqual(reply.status, 200)

    def test_authenticate_only_says_whether_canvas_knows_the_user(self):
        # authenticate() is what SimpleAPI itself calls: yes for any Canvas user, no otherwise.
        from canvas_sdk.events import EventType
        from canvas_sdk.handlers.simple_api import BearerCredentials

        from .helpers import event

        for actor, accepted in (
            ("", False),
            ("987654", False),
            (str(self.patient_user.dbid), True),
            (str(self.inactive.user.dbid), True),
            (str(self.staff.user.dbid), True),
        ):
            with self.subTest(actor=actor):
                handler = self.api(
                    event(
                        EventType.SIMPLE_API_AUTHENTICATE,
                        path="/me",
                        headers={"Authorization": "Bearer t"},
                        actor=actor,
                    )
                )
                self.assertIs(handler.authenticate(BearerCredentials(handler.request)), accepted)

    def test_request_pass_refuses_on_its_own(self):
        from canvas_sdk.events import EventType

        from .helpers import Reply, event

        cases = [
            ({}, str(self.staff.user.dbid), 401, UNAUTHENTICATED),
            ({"Authorization": "Bearer t"}, "", 401, UNAUTHENTICATED),
            ({"Authorization": "Bearer t"}, str(self.inactive.user.dbid), 403, FORBIDDEN),
            ({"Authorization": "Bearer t"}, str(self.patient_user.dbid), 403, FORBIDDEN),
        ]
        for headers, actor, status, body in cases:
            for method, path in ROUTES:
                with self.subTest(actor=actor, path=path):
                    request = event(
                        EventType.SIMPLE_API_REQUEST,
                        method=method,
                        path=path.format(id=self.note.id),
                        headers=headers,
                        actor=actor,
                    )
                    reply = Reply(self.api(request).compute(), passes=2)
                    self.assertEqual(reply.status, status)
                    self.assertEqual(reply.json(), body)
                    self.assertEqual(reply.effects, [])
