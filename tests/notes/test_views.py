"""The notes pages over Django's test client, with Canvas mocked at HTTP (`responses`)."""

import json
import uuid
from datetime import datetime, timedelta

from django.db import connection
from django.test import Client, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from responses import matchers

from canvas_oauth.models import CanvasConnection
from notes.models import NoteActionAttempt
from tests.factories import PASSWORD, make_attempt, make_connection, make_user
from tests.helpers import (
    API,
    SETTINGS,
    TOKEN_URL,
    CanvasMockMixin,
    accepted,
    ensure_groups,
    error,
    installation_zone_warm,
    summary,
    token_body,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def toast(response):
    return json.loads(response["HX-Trigger"])["toast"]


@override_settings(**SETTINGS, NOTES_PAGE_SIZE=25)
class WorklistTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        cls.frontdesk = make_user("frontdesk", groups=("Front desk",))
        make_connection(cls.provider, access_token="at-p")
        make_connection(cls.frontdesk, access_token="at-f")

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def list_mock(self, params, notes=None, next_cursor=None):
        """Mock the list, and the counts a page with a list asks for too."""
        self.counts_mock()
        return self.rsps.get(
            API + "notes",
            json={"notes": notes if notes is not None else [summary()], "next_cursor": next_cursor},
            match=[matchers.query_param_matcher(params)],
        )

    def counts_mock(self):
        body = {"to_sign": 1, "overdue": 0, "open": 2, "today": 3}
        return self.rsps.get(API + "notes/counts", json=body)

    def test_default_tab_is_the_signing_queue(self):
        note = summary(state="LKD", allowed=["sign", "lock_sign", "unlock"])
        self.list_mock({"queue": "to_sign", "order": "oldest", "limit": "25"}, [note])
        response = self.client.get(reverse("notes:worklist"))
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "notes/worklist.html")
        html = response.content.decode()
        self.assertIn("Ada Lovelace", html)
        self.assertIn('class="badge badge-LKD"', html)
        self.assertIn("Fri 27 Nov 2026, 15:30", html)
        self.assertIn(f'id="note-{note["id"]}"', html)
        # One Sign on a locked signature-required note (as Canvas shows it), and Unlock.
        for action in ["sign", "unlock"]:
            self.assertIn(f"/notes/{note['id']}/{action}/", html)
        for action in ["lock", "lock_sign"]:
            self.assertNotIn(f"/notes/{note['id']}/{action}/", html)
        self.assertIn('hx-confirm="Sign this note?', html)
        self.assertIn('hx-disabled-elt="find button"', html)
        self.assertIn('method="post"', html)
        self.assertIn("HX-Request", response["Vary"])

    def test_tabs_send_their_filters(self):
        queue = {"queue": "to_sign", "order": "oldest"}
        cases = [
            ("to_sign", queue),
            ("signature", queue),  # the tab's old name, in old links
            ("open", {"state": "NEW,ULK", "provider": "me"}),
            ("all", {}),
            ("nonsense", queue),
        ]
        for tab, params in cases:
            with self.subTest(tab=tab):
                self.rsps.reset()
                self.list_mock({**params, "limit": "25"})
                self.assertEqual(self.client.get(f"/notes/?tab={tab}").status_code, 200)

    @override_settings(CLINIC_TIME_ZONE="America/Los_Angeles")
    def test_today_tab_asks_for_the_clinics_day(self):
        def check(request):
            query = request.params
            self.assertEqual(query["state"], "BKD,RVT")
            start, end = (datetime.fromisoformat(query[k]) for k in ("from", "to"))
            self.assertEqual((start.hour, start.minute), (0, 0))
            self.assertIn(start.utcoffset(), (timedelta(hours=-8), timedelta(hours=-7)))
            self.assertIn(end - start, (timedelta(hours=h) for h in (23, 24, 25)))
            self.assertNotIn("date", query)
            return (200, {}, json.dumps({"notes": [], "next_cursor": None}))

        self.counts_mock()
        self.rsps.add_callback("GET", API + "notes", callback=check)
        response = self.client.get("/notes/?tab=today")
        self.assertContains(response, "No booked appointments today.")

    def test_patient_search_and_cursor_pagination(self):
        self.list_mock(
            {"patient": "ada", "limit": "25", "cursor": "c1"},
            [summary()],
            next_cursor="c2",
        )
        response = self.client.get("/notes/?tab=all&patient=ada&cursor=c1")
        self.assertContains(response, 'href="/notes/?tab=all&amp;patient=ada&amp;cursor=c2"')
        self.assertContains(response, 'href="/notes/?tab=all&amp;patient=ada"')
        self.assertContains(response, "First page")

    def test_htmx_request_gets_only_the_list(self):
        self.list_mock({"queue": "to_sign", "order": "oldest", "limit": "25", "patient": "ada"})
        response = self.client.get(reverse("notes:worklist") + "?patient=ada", **HTMX)
        self.assertTemplateUsed(response, "notes/partials/worklist.html")
        self.assertTemplateNotUsed(response, "notes/worklist.html")
        self.assertNotContains(response, "<html")
        self.assertIn("HX-Request", response["Vary"])
        # The tabs follow the search (out of band), so switching keeps it.
        self.assertContains(response, 'id="worklist-tabs" hx-swap-oob="true"')

    def test_front_desk_sees_only_permitted_actions(self):
        self.client.login(username="frontdesk", password=PASSWORD)
        appointment = summary(state="BKD", allowed=["checkin", "noshow"])
        locked = summary(state="LKD", allowed=["sign", "unlock"])
        self.list_mock({"limit": "25"}, [appointment, locked])
        html = self.client.get("/notes/?tab=all").content.decode()
        self.assertIn(f"/notes/{appointment['id']}/checkin/", html)
        self.assertIn(f"/notes/{appointment['id']}/noshow/", html)
        self.assertNotIn(f"/notes/{locked['id']}/sign/", html)
        self.assertNotIn(f"/notes/{locked['id']}/unlock/", html)

    def test_canvas_unavailable_shows_a_message(self):
        self.rsps.get(API + "notes", status=502, body="<html>bad gateway</html>")
        response = self.client.get("/notes/")
        self.assertContains(response, "Canvas is unavailable right now")

    def test_401_on_the_list_refreshes_once(self):
        self.rsps.get(API + "notes", status=401, json=error("unauthenticated"))
        self.rsps.post(TOKEN_URL, json=token_body(access="at-2", refresh="rt-2"))
        self.rsps.get(API + "notes", json={"notes": [], "next_cursor": None})
        response = self.client.get("/notes/")
        self.assertContains(response, "Nothing is waiting for your signature.")

    def test_link_refused_during_the_request_shows_the_reconnect_banner(self):
        # The row came with the user; the refresh that finds it refused
        # rewrites it, and the same page already says so.
        self.rsps.get(API + "notes", status=401, json=error("unauthenticated"))
        self.rsps.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
        response = self.client.get("/notes/")
        self.assertContains(response, 'id="canvas-reconnect-banner"')
        self.assertContains(response, "Reconnect to Canvas")

    def test_not_linked_sees_the_connect_card(self):
        make_user("newbie", groups=("Providers",))
        self.client.login(username="newbie", password=PASSWORD)
        response = self.client.get("/notes/?tab=open")
        self.assertContains(response, "Connect your Canvas account")
        self.assertContains(response, 'href="/canvas/connect/?next=%2Fnotes%2F%3Ftab%3Dopen"')
        self.assertNotContains(response, "<table")

    def test_reconnect_needed_sees_the_reconnect_card(self):
        stale = make_user("stale", groups=("Providers",))
        make_connection(stale, status="reconnect_needed")
        self.client.login(username="stale", password=PASSWORD)
        response = self.client.get("/notes/")
        self.assertContains(response, "Reconnect to Canvas")
        self.assertContains(response, "/canvas/connect/?next=%2Fnotes%2F")

    def test_token_decryption_failure_is_a_503(self):
        # Store the token under another key than the portal has.
        from cryptography.fernet import Fernet

        other = make_user("other", groups=("Providers",))
        with override_settings(TOKEN_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
            make_connection(other)
        self.client.login(username="other", password=PASSWORD)
        response = self.client.get("/notes/")
        self.assertEqual(response.status_code, 503)
        self.assertContains(response, "stored Canvas credentials", status_code=503)

    def test_open_by_id(self):
        note_id = str(uuid.uuid4())
        response = self.client.get(f"/notes/?id=++{note_id.upper()}+")
        self.assertRedirects(response, f"/notes/{note_id}/", fetch_redirect_response=False)

    def test_open_by_id_with_a_bad_id_says_so(self):
        self.list_mock({"queue": "to_sign", "order": "oldest", "limit": "25"})
        response = self.client.get("/notes/?id=hello")
        self.assertContains(response, "That is not a note ID.")
        self.assertContains(response, 'aria-invalid="true"')

    def test_nav_links(self):
        self.list_mock({"queue": "to_sign", "order": "oldest", "limit": "25"})
        response = self.client.get("/notes/")
        self.assertContains(response, 'href="/notes/" aria-current="page">Worklist</a>', html=False)
        self.assertContains(response, 'href="/notes/activity/"')


@override_settings(**SETTINGS)
class DetailTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider)

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def test_shows_the_note_its_actions_and_my_activity(self):
        note_id = uuid.uuid4()
        self.rsps.get(f"{API}notes/{note_id}", json=summary(note_id, state="LKD"))
        self.rsps.get(
            f"{API}notes/{note_id}/content",
            json={"note_id": str(note_id), "commands": [], "staged": 0},
        )
        from django.utils import timezone

        make_attempt(
            self.provider,
            note_id=note_id,
            action="lock",
            outcome="confirmed",
            upstream_status=202,
            started_at=timezone.now(),
            finished_at=timezone.now(),
            resolved_at=timezone.now(),
            duration_ms=40,
        )
        response = self.client.get(f"/notes/{note_id}/")
        self.assertContains(response, "Office visit")
        self.assertContains(response, "Ada Lovelace")
        self.assertContains(response, f"/notes/{note_id}/sign/")
        self.assertContains(response, 'name="view" value="detail"')
        self.assertContains(response, "Confirmed in Canvas")

    def test_bad_ids_are_refused_without_calling_canvas(self):
        for bad in ["hello", "1" * 2000, "3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6ф", "%00"]:
            with self.subTest(bad=bad[:40]):
                response = self.client.get(f"/notes/{bad}/")
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, "That is not a note ID.", status_code=400)
        self.assertEqual(len(self.rsps.calls), 0)

    def test_unknown_note_is_a_404_with_words(self):
        note_id = uuid.uuid4()
        self.rsps.get(f"{API}notes/{note_id}", status=404, json=error("note_not_found"))
        response = self.client.get(f"/notes/{note_id}/")
        self.assertContains(response, "Canvas has no note with that ID.", status_code=404)


@override_settings(**SETTINGS)
class NoteActionViewTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        cls.frontdesk = make_user("frontdesk", groups=("Front desk",))
        make_connection(cls.provider, access_token="at-p")
        make_connection(cls.frontdesk, access_token="at-f")

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)
        self.note_id = uuid.uuid4()
        self.url = f"/notes/{self.note_id}/sign/"

    def mock_success(self, action="sign"):
        self.rsps.post(
            f"{API}notes/{self.note_id}/{action}",
            status=202,
            json=accepted(self.note_id, action),
        )

    def test_htmx_accepted_shows_the_action_in_flight_and_never_says_done(self):
        self.mock_success()
        response = self.client.post(self.url, {"view": "row"}, **HTMX, REMOTE_ADDR="10.0.0.9")
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "notes/partials/in_flight.html")
        attempt = NoteActionAttempt.objects.get()
        # The note's buttons become one disabled "Signing..." that polls the attempt.
        self.assertContains(response, 'class="btn btn-small btn-busy" disabled')
        self.assertContains(response, "Signing…")
        self.assertContains(response, f'hx-get="/notes/attempts/{attempt.pk}/?view=row"')
        self.assertContains(response, 'hx-trigger="every 1s"')
        self.assertContains(response, f'hx-target="#note-actions-{self.note_id}"')
        self.assertNotContains(response, "Note signed")
        self.assertNotIn("HX-Trigger", response)  # no toast: nothing is done yet
        self.assertEqual(len(self.rsps.calls), 1)  # the POST alone
        self.assertIn("HX-Request", response["Vary"])
        self.assertEqual(attempt.outcome, "accepted")
        self.assertEqual(attempt.client_ip, "10.0.0.9")
        self.assertEqual(attempt.request_id, response["X-Request-ID"])

    def test_an_action_reads_each_row_once(self):
        # The connection row comes with the user, permissions in one query, the
        # audit row is one insert and one update; the summary rides on the 202.
        # The confirmation is queued with one more insert.
        self.mock_success()
        installation_zone_warm()
        with CaptureQueriesContext(connection) as captured:
            response = self.client.post(self.url, {"view": "row"}, **HTMX)
        self.assertContains(response, "Signing…")
        statements = [q["sql"] for q in captured.captured_queries]
        data = [sql for sql in statements if sql.split()[0] in ("SELECT", "INSERT", "UPDATE")]
        self.assertEqual(len(data), 6, data)
        self.assertEqual(sum('"django_tasks_database_dbtaskresult"' in sql for sql in data), 1)
        for table in ("django_session", "canvas_oauth_canvasconnection", "auth_permission"):
            with self.subTest(table=table):
                self.assertEqual(sum(f'"{table}"' in sql.split(" WHERE ")[0] for sql in data), 1)

    def test_htmx_accepted_on_the_detail_page_follows_it_there(self):
        self.mock_success()
        response = self.client.post(self.url, {"view": "detail"}, **HTMX)
        attempt = NoteActionAttempt.objects.get()
        self.assertContains(response, f'hx-get="/notes/attempts/{attempt.pk}/?view=detail"')

    def test_without_javascript_the_page_says_requested_and_a_reload_shows_it(self):
        self.mock_success()
        response = self.client.post(self.url, {"next": "/notes/?tab=open"}, follow=False)
        self.assertRedirects(response, "/notes/?tab=open", fetch_redirect_response=False)
        self.rsps.get(
            API + "notes",
            json={"notes": [summary(self.note_id, state="LKD")], "next_cursor": None},
        )
        page = self.client.get("/notes/?tab=open")
        self.assertContains(page, "Sign requested: Canvas accepted it.")
        self.assertNotContains(page, "Note signed.")
        # The row shows the action in flight, and says "requested" without JavaScript.
        self.assertContains(page, "Signing…")
        self.assertContains(page, "Sign requested. Reload to see the outcome.")

    def test_next_cannot_leave_the_site(self):
        for evil in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
        ]:
            with self.subTest(evil=evil):
                self.rsps.reset()
                self.mock_success()
                response = self.client.post(self.url, {"next": evil})
                self.assertEqual(response["Location"], "/notes/")

    def test_get_is_405_and_calls_nothing(self):
        for method in ["get", "put", "delete"]:
            with self.subTest(method=method):
                response = getattr(self.client, method)(self.url)
                self.assertEqual(response.status_code, 405)
        self.assertFalse(NoteActionAttempt.objects.exists())

    def test_csrf_is_required(self):
        client = Client(enforce_csrf_checks=True)
        client.login(username="provider", password=PASSWORD)
        response = client.post(self.url, **HTMX)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(len(self.rsps.calls), 0)
        # With the token (as the page's hx-headers sends it) it goes through.
        self.rsps.get(API + "notes", json={"notes": [], "next_cursor": None})
        client.get("/notes/")
        token = client.cookies["portal_csrftoken"].value
        self.mock_success()
        response = client.post(self.url, HTTP_X_CSRFTOKEN=token, **HTMX)
        self.assertEqual(response.status_code, 200)

    def test_front_desk_cannot_sign(self):
        self.client.login(username="frontdesk", password=PASSWORD)
        response = self.client.post(self.url, **HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(toast(response)["level"], "error")
        self.assertIn("not permitted", toast(response)["message"])
        self.assertEqual(response["HX-Retarget"], f"#note-error-{self.note_id}")
        self.assertEqual(len(self.rsps.calls), 0)

    def test_someone_elses_note_and_a_second_signature_are_explained(self):
        cases = [
            (403, "not_note_provider", "Only the note's provider or its supervising provider"),
            (409, "already_signed", "You have already signed this note."),
        ]
        for status, code, words in cases:
            with self.subTest(code=code):
                self.rsps.reset()
                self.rsps.post(
                    f"{API}notes/{self.note_id}/sign",
                    status=status,
                    json=error(code, state="SGN"),
                )
                # Drawn again as Canvas shows it: without the refused button.
                self.rsps.get(
                    f"{API}notes/{self.note_id}",
                    json=summary(self.note_id, state="SGN", allowed=[]),
                )
                response = self.client.post(self.url, {"view": "row"}, **HTMX)
                self.assertIn(words, toast(response)["message"])
                self.assertEqual(toast(response)["level"], "error")
                self.assertNotContains(response, f"/notes/{self.note_id}/sign/")
                self.assertEqual(
                    NoteActionAttempt.objects.filter(error_code=code).get().upstream_status,
                    status,
                )

    def test_409_shows_the_current_state_and_says_why(self):
        self.rsps.post(
            f"{API}notes/{self.note_id}/lock",
            status=409,
            json=error("action_not_allowed", state="SGN"),
        )
        self.rsps.get(f"{API}notes/{self.note_id}", json=summary(self.note_id, state="SGN"))
        response = self.client.post(f"/notes/{self.note_id}/lock/", **HTMX)
        self.assertEqual(response.status_code, 200)
        message = "This note is Signed; it can&#x27;t be locked."
        self.assertContains(response, f'<div class="row-error" id="note-error-{self.note_id}"')
        self.assertContains(response, message)
        self.assertContains(response, "badge-SGN")
        self.assertEqual(toast(response)["message"], "This note is Signed; it can't be locked.")

    def test_handled_errors_answer_200_with_words(self):
        cases = [
            (404, error("note_not_found"), "Canvas has no note with that ID."),
            (503, "<html>oops</html>", "Canvas is unavailable right now"),
            (429, error("rate_limited"), "too many requests"),
        ]
        for status, body, words in cases:
            with self.subTest(status=status):
                self.rsps.reset()
                kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
                self.rsps.post(f"{API}notes/{self.note_id}/sign", status=status, **kwargs)
                response = self.client.post(self.url, **HTMX)
                self.assertEqual(response.status_code, 200)
                self.assertIn(words, toast(response)["message"])
                self.assertContains(response, words)
                self.assertEqual(response["HX-Retarget"], f"#note-error-{self.note_id}")
                self.assertEqual(response["HX-Reswap"], "innerHTML")

    def test_outcome_unknown_is_followed_like_an_accepted_one(self):
        import requests

        self.rsps.post(f"{API}notes/{self.note_id}/sign", body=requests.ReadTimeout())
        response = self.client.post(self.url, **HTMX)
        attempt = NoteActionAttempt.objects.get()
        self.assertEqual(attempt.outcome, "unknown")
        self.assertContains(response, f'hx-get="/notes/attempts/{attempt.pk}/?view=row"')
        self.assertEqual(
            toast(response),
            {
                "message": "Sign requested, but Canvas did not answer in time. The portal is "
                "checking whether it applied; reload in a moment to see.",
                "level": "warning",
            },
        )

    def test_bad_ids_and_actions_are_refused_before_any_call(self):
        cases = [
            "/notes/not-a-uuid/sign/",
            f"/notes/{'a' * 5000}/sign/",
            "/notes/3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6%D1%84/sign/",
            f"/notes/{self.note_id}/delete/",
            f"/notes/{self.note_id}/%E2%9C%93/",
        ]
        for url in cases:
            with self.subTest(url=url[:60]):
                response = self.client.post(url, **HTMX)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(toast(response)["level"], "error")
                plain = self.client.post(url)
                self.assertEqual(plain.status_code, 302)
        self.assertEqual(len(self.rsps.calls), 0)
        self.assertFalse(NoteActionAttempt.objects.exists())

    def test_not_linked_is_told_to_connect(self):
        make_user("newbie", groups=("Providers",))
        self.client.login(username="newbie", password=PASSWORD)
        response = self.client.post(self.url, **HTMX)
        self.assertIn("connect your Canvas account", toast(response)["message"])

    def test_link_revoked_by_an_admin_mid_request(self):
        def revoke_then_401(request):
            CanvasConnection.objects.filter(user=self.provider).update(
                status=CanvasConnection.Status.DISCONNECTED
            )
            return (401, {}, json.dumps(error("unauthenticated")))

        self.rsps.add_callback("POST", f"{API}notes/{self.note_id}/sign", callback=revoke_then_401)
        response = self.client.post(self.url, **HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertIn("not connected to Canvas", toast(response)["message"])
        self.assertEqual(NoteActionAttempt.objects.get().error_code, "not_linked")

    def test_session_expired_during_an_htmx_action(self):
        self.client.logout()
        response = self.client.post(
            self.url, **HTMX, HTTP_HX_CURRENT_URL="http://testserver/notes/"
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["HX-Redirect"].startswith("/accounts/login/"))
        self.assertEqual(len(self.rsps.calls), 0)
        self.assertFalse(NoteActionAttempt.objects.exists())

    def test_double_submit_already_in_progress(self):
        from django.utils import timezone

        make_attempt(
            self.provider,
            note_id=self.note_id,
            action="sign",
            outcome="pending",
            started_at=timezone.now(),
        )
        self.rsps.get(f"{API}notes/{self.note_id}", json=summary(self.note_id, state="LKD"))
        response = self.client.post(self.url, **HTMX)
        self.assertEqual(toast(response)["level"], "warning")
        self.assertIn("already in progress", toast(response)["message"])
        posts = [c for c in self.rsps.calls if c.request.method == "POST"]
        self.assertEqual(posts, [])


class ActivityTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        from django.utils import timezone

        cls.me = make_user("me")
        cls.other = make_user("other")
        now = timezone.now()
        for i in range(30):
            make_attempt(
                cls.me,
                note_id=uuid.uuid4(),
                action="lock",
                outcome="accepted",
                started_at=now - timezone.timedelta(minutes=i),
                finished_at=now,
            )
        make_attempt(
            cls.other,
            note_id=uuid.UUID(int=7),
            action="sign",
            outcome="failed",
            started_at=now,
            finished_at=now,
        )

    def test_shows_only_my_rows_newest_first_paginated(self):
        self.client.login(username="me", password=PASSWORD)
        response = self.client.get("/notes/activity/")
        self.assertEqual(response.status_code, 200)
        page = response.context["page"]
        self.assertEqual(len(page.object_list), 25)
        self.assertEqual({row.user_id for row in page.object_list}, {self.me.pk})
        times = [row.started_at for row in page.object_list]
        self.assertEqual(times, sorted(times, reverse=True))
        self.assertNotContains(response, str(uuid.UUID(int=7))[:13])
        self.assertContains(response, "Page 1 of 2")
        second = self.client.get("/notes/activity/?page=2")
        self.assertEqual(len(second.context["page"].object_list), 5)
        self.assertEqual(self.client.get("/notes/activity/?page=zzz").status_code, 200)

    def test_requires_sign_in(self):
        response = self.client.get("/notes/activity/")
        self.assertEqual(response.status_code, 302)
