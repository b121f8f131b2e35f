"""The authentication backend's permission read: the same answer as ModelBackend, one query."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.test import TestCase

from portal.backends import ThrottledModelBackend
from tests.factories import make_user
from tests.helpers import ensure_groups


class PermissionReadTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.backend = ThrottledModelBackend()
        cls.own = Permission.objects.get(codename="view_group")
        cls.shared = Permission.objects.get(codename="sign_note")

    def reference(self, user):
        """ModelBackend's answer on a fresh copy of the user (no cache)."""
        return ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))

    def test_own_and_group_permissions_in_one_query(self):
        user = make_user("both", groups=("Providers",))
        user.user_permissions.add(self.own, self.shared)  # also a group's: counted once
        user = type(user).objects.get(pk=user.pk)
        with self.assertNumQueries(1):
            perms = self.backend.get_all_permissions(user)
        self.assertIn("auth.view_group", perms)
        self.assertIn("notes.sign_note", perms)
        self.assertEqual(perms, self.reference(user))
        with self.assertNumQueries(0):  # cached on the user for the request
            self.assertTrue(self.backend.has_perm(user, "notes.sign_note"))

    def test_each_of_several_groups_counts(self):
        extra = Group.objects.create(name="Extra")
        extra.permissions.add(self.own)
        user = make_user("groups", groups=("Front desk", "Extra"))
        perms = self.backend.get_all_permissions(user)
        self.assertEqual(perms, self.reference(user))
        self.assertIn("auth.view_group", perms)
        self.assertNotIn("notes.sign_note", perms)

    def test_another_users_permissions_do_not_leak(self):
        make_user("other", groups=("Providers",)).user_permissions.add(self.own)
        user = make_user("nobody")
        self.assertEqual(self.backend.get_all_permissions(user), set())

    def test_superuser_has_every_permission(self):
        user = make_user("root", is_superuser=True)
        perms = self.backend.get_all_permissions(user)
        self.assertEqual(len(perms), Permission.objects.count())
        self.assertEqual(perms, self.reference(user))

    def test_inactive_user_has_none(self):
        user = make_user("gone", groups=("Providers",), is_active=False)
        self.assertEqual(self.backend.get_all_permissions(user), set())
