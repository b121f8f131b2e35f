"""The audit model, its permissions, the default groups and the admin."""

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from notes.groups import groups_ensure
from notes.models import NoteActionAttempt
from tests.factories import PASSWORD, make_attempt, make_user

ALL = ["checkin_note", "lock_note", "lock_sign_note", "noshow_note", "sign_note", "unlock_note"]


class DefaultGroupsTests(TestCase):
    def test_data_migration_created_groups_with_their_permissions(self):
        expected = {"Providers": ALL, "Front desk": ["checkin_note", "noshow_note"]}
        for name, codenames in expected.items():
            with self.subTest(group=name):
                group = Group.objects.get(name=name)
                self.assertEqual(
                    sorted(group.permissions.values_list("codename", flat=True)), codenames
                )

    def test_groups_ensure_is_idempotent_and_keeps_extra_permissions(self):
        extra = Permission.objects.get(codename="view_noteactionattempt")
        Group.objects.get(name="Front desk").permissions.add(extra)
        groups_ensure(group_model=Group, permission_model=Permission)
        perms = Group.objects.get(name="Front desk").permissions.values_list("codename", flat=True)
        self.assertEqual(sorted(perms), ["checkin_note", "noshow_note", "view_noteactionattempt"])

    def test_group_members_get_the_permissions(self):
        provider = make_user("provider", groups=("Providers",))
        frontdesk = make_user("frontdesk", groups=("Front desk",))
        self.assertTrue(provider.has_perm("notes.sign_note"))
        self.assertTrue(frontdesk.has_perm("notes.checkin_note"))
        self.assertFalse(frontdesk.has_perm("notes.sign_note"))

    def test_no_add_change_delete_permissions_exist(self):
        codenames = set(
            Permission.objects.filter(content_type__app_label="notes").values_list(
                "codename", flat=True
            )
        )
        self.assertEqual(codenames, {*ALL, "view_noteactionattempt"})


class NoteActionAttemptTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def test_rows_cannot_be_deleted(self):
        attempt = make_attempt(self.user)
        with self.assertRaises(TypeError):
            attempt.delete()
        with self.assertRaises(TypeError):
            NoteActionAttempt.objects.all().delete()
        self.assertTrue(NoteActionAttempt.objects.filter(pk=attempt.pk).exists())

    def test_one_pending_row_per_user_note_and_action(self):
        note_id = uuid.uuid4()
        make_attempt(self.user, note_id=note_id, outcome="pending", finished_at=None)
        with self.assertRaises(IntegrityError), transaction.atomic():
            make_attempt(self.user, note_id=note_id, outcome="pending", finished_at=None)
        # Another action, or completed rows, are fine.
        make_attempt(self.user, note_id=note_id, action="sign", outcome="pending", finished_at=None)
        make_attempt(self.user, note_id=note_id)
        make_attempt(self.user, note_id=note_id)

    def test_pending_rows_have_no_finish_time_and_complete_rows_do(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            make_attempt(self.user, outcome="pending", finished_at=timezone.now())
        with self.assertRaises(IntegrityError), transaction.atomic():
            make_attempt(self.user, outcome="failed", finished_at=None)

    def test_action_choices_are_the_table_actions_with_their_labels(self):
        from notes.actions import ACTIONS

        self.assertEqual(
            NoteActionAttempt.Action.choices, [(a, spec.label) for a, spec in ACTIONS.items()]
        )
        self.assertEqual(
            make_attempt(self.user, action="lock_sign").get_action_display(), "Lock & sign"
        )

    def test_str_holds_no_secret(self):
        attempt = make_attempt(self.user)
        self.assertIn("pat lock", str(attempt))

    def test_deleting_the_user_keeps_the_trail(self):
        user = make_user("leaver")
        attempt = make_attempt(user)
        user.delete()
        attempt.refresh_from_db()
        self.assertIsNone(attempt.user)
        self.assertEqual(attempt.username, "leaver")


class AuditAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = make_user("root", is_staff=True, is_superuser=True)
        cls.attempt = make_attempt(cls.admin, error_code="=HYPERLINK(1)", outcome="failed")
        make_attempt(
            cls.admin,
            action="sign",
            outcome="unknown",
            started_at=timezone.now() - timedelta(days=3),
        )

    def setUp(self):
        self.client.login(username="root", password=PASSWORD)

    def test_changelist_with_filters(self):
        url = reverse("admin:notes_noteactionattempt_changelist")
        queries = ["", "?outcome__exact=failed", "?action__exact=sign"]
        for query in [
            *queries,
            f"?user__id__exact={self.admin.pk}",
            "?started_at__gte=2020-01-01T00:00:00%2B00:00",
        ]:
            with self.subTest(query=query):
                response = self.client.get(url + query)
                self.assertEqual(response.status_code, 200)
        response = self.client.get(url + "?outcome__exact=unknown")
        self.assertContains(response, "1 note action attempt")

    def test_superuser_cannot_add_change_or_delete(self):
        add = self.client.get(reverse("admin:notes_noteactionattempt_add"))
        self.assertEqual(add.status_code, 403)
        change_url = reverse("admin:notes_noteactionattempt_change", args=[self.attempt.pk])
        response = self.client.get(change_url)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'name="_save"')
        self.client.post(change_url, {"outcome": "accepted"})
        self.attempt.refresh_from_db()
        self.assertEqual(self.attempt.outcome, "failed")
        delete_url = reverse("admin:notes_noteactionattempt_delete", args=[self.attempt.pk])
        self.assertEqual(self.client.post(delete_url, {"post": "yes"}).status_code, 403)
        self.assertTrue(NoteActionAttempt.objects.filter(pk=self.attempt.pk).exists())
        changelist = self.client.get(reverse("admin:notes_noteactionattempt_changelist"))
        self.assertNotContains(changelist, "delete_selected")

    @override_settings(CLINIC_TIME_ZONE="America/Los_Angeles")
    def test_csv_export(self):
        response = self.client.post(
            reverse("admin:notes_noteactionattempt_changelist"),
            {"action": "export_csv", "_selected_action": [self.attempt.pk]},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv")
        body = b"".join(response.streaming_content).decode()
        lines = body.strip().splitlines()
        # Times in the clinic's zone, which the header names; each carries its offset.
        self.assertTrue(
            lines[0].startswith(
                "id,started_at (America/Los_Angeles),finished_at (America/Los_Angeles)"
            )
        )
        local = timezone.localtime(self.attempt.started_at, ZoneInfo("America/Los_Angeles"))
        self.assertIn(local.isoformat(), lines[1])
        self.assertEqual(len(lines), 2)
        self.assertIn(str(self.attempt.note_id), lines[1])
        self.assertIn("'=HYPERLINK(1)", lines[1])  # no formula injection

    def test_every_formula_lead_is_quoted(self):
        from notes.admin import _cell

        for lead in ("=", "+", "-", "@", "\t", "\r", "\n"):
            with self.subTest(lead=repr(lead)):
                self.assertEqual(_cell(f"{lead}cmd|' /C calc'!A0", ZoneInfo("UTC"))[:2], "'" + lead)
        self.assertEqual(_cell("plain", ZoneInfo("UTC")), "plain")

    def test_staff_without_view_permission_sees_nothing(self):
        make_user("clerk", is_staff=True)
        self.client.login(username="clerk", password=PASSWORD)
        response = self.client.get(reverse("admin:notes_noteactionattempt_changelist"))
        self.assertEqual(response.status_code, 403)
