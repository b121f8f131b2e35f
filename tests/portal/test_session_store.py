"""The session store reads like Django's database store, in one plain query."""

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import TestCase
from django.utils import timezone

from portal.sessions import SessionStore


class SessionStoreTests(TestCase):
    def saved(self, **data):
        store = SessionStore()
        store.update(data)
        store.save()
        return store.session_key

    def test_the_engine_is_the_portals(self):
        self.assertEqual(settings.SESSION_ENGINE, "portal.sessions")

    def test_a_stored_session_loads_in_one_query(self):
        key = self.saved(answer=42)
        store = SessionStore(key)
        with self.assertNumQueries(1):
            self.assertEqual(store["answer"], 42)
        self.assertEqual(store.session_key, key)

    def test_an_expired_session_is_empty_and_gets_a_new_key(self):
        key = self.saved(answer=42)
        Session.objects.filter(session_key=key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
        store = SessionStore(key)
        self.assertNotIn("answer", store)
        self.assertIsNone(store.session_key)
        store["fresh"] = True
        store.save()
        self.assertNotEqual(store.session_key, key)

    def test_an_unknown_or_missing_key_is_empty(self):
        for key in ("x" * 32, None):
            with self.subTest(key=key):
                store = SessionStore(key)
                self.assertEqual(store.load(), {})
                self.assertIsNone(store.session_key)

    def test_tampered_data_is_empty(self):
        key = self.saved(answer=42)
        Session.objects.filter(session_key=key).update(session_data="not-signed")
        self.assertEqual(SessionStore(key).load(), {})
