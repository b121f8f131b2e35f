"""Token encryption at rest: MultiFernet, row binding, keys check and rotation."""

import io
import logging

from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, TestCase, override_settings

from canvas_oauth.crypto import token_decrypt, token_encrypt
from canvas_oauth.exceptions import TokenDecryptionFailed
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from canvas_oauth.tokens import access_token_get
from tests.factories import make_connection, make_user
from tests.helpers import KEY_A, KEY_B, oauth_settings


@oauth_settings
class TokenCryptoTests(SimpleTestCase):
    def test_round_trip_and_no_plaintext_in_ciphertext(self):
        ciphertext = token_encrypt(user_id=7, kind="access", token="at-secret-value")
        self.assertNotIn("at-secret-value", ciphertext)
        self.assertEqual(
            token_decrypt(user_id=7, kind="access", ciphertext=ciphertext), "at-secret-value"
        )

    def test_ciphertext_bound_to_user_and_kind(self):
        ciphertext = token_encrypt(user_id=7, kind="refresh", token="rt-x")
        for user_id, kind in [(8, "refresh"), (7, "access")]:
            with (
                self.subTest(user_id=user_id, kind=kind),
                self.assertLogs("canvas_oauth.crypto", "ERROR"),
                self.assertRaises(TokenDecryptionFailed),
            ):
                token_decrypt(user_id=user_id, kind=kind, ciphertext=ciphertext)

    def test_wrong_key_fails_and_logs_an_alert_without_the_key(self):
        ciphertext = token_encrypt(user_id=1, kind="access", token="at-x")
        with (
            override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B]),
            self.assertLogs("canvas_oauth.crypto", "ERROR") as logs,
            self.assertRaises(TokenDecryptionFailed),
        ):
            token_decrypt(user_id=1, kind="access", ciphertext=ciphertext)
        text = "\n".join(logs.output)
        self.assertIn("ALERT", text)
        self.assertNotIn(KEY_A, text)
        self.assertNotIn(KEY_B, text)

    def test_old_keys_still_decrypt(self):
        ciphertext = token_encrypt(user_id=1, kind="access", token="at-x")
        with override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
            self.assertEqual(token_decrypt(user_id=1, kind="access", ciphertext=ciphertext), "at-x")


class TokenKeysCheckTests(SimpleTestCase):
    def _errors(self):
        return [e for e in run_checks() if e.id.startswith("canvas_oauth.")]

    def test_missing_key_fails_naming_the_variable(self):
        for value in ([], [""], ""):
            with self.subTest(value=value), override_settings(TOKEN_ENCRYPTION_KEYS=value):
                errors = self._errors()
                self.assertEqual([e.id for e in errors], ["canvas_oauth.E001"])
                self.assertIn("TOKEN_ENCRYPTION_KEYS", errors[0].msg)

    def test_malformed_key_fails_without_printing_it(self):
        bad = "not-a-fernet-key-but-secret"
        with override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_A, bad]):
            errors = self._errors()
        self.assertEqual([e.id for e in errors], ["canvas_oauth.E002"])
        self.assertIn("TOKEN_ENCRYPTION_KEYS", errors[0].msg)
        self.assertIn("#2", errors[0].msg)
        self.assertNotIn(bad, errors[0].msg + (errors[0].hint or ""))

    def test_good_keys_pass(self):
        with override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_A, KEY_B]):
            self.assertEqual(self._errors(), [])


@oauth_settings
class SwappedCiphertextTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alice = make_user("alice")
        cls.bob = make_user("bob")
        make_connection(cls.alice, access_token="at-alice")
        make_connection(cls.bob, access_token="at-bob")

    def test_swapped_rows_fail_to_decrypt_and_change_nothing(self):
        a = CanvasConnection.objects.get(user=self.alice)
        b = CanvasConnection.objects.get(user=self.bob)
        CanvasConnection.objects.filter(pk=a.pk).update(
            access_token_encrypted=b.access_token_encrypted
        )
        with (
            self.assertLogs("canvas_oauth.crypto", "ERROR"),
            self.assertRaises(TokenDecryptionFailed),
        ):
            access_token_get(user=self.alice)
        a.refresh_from_db()
        self.assertEqual(a.status, "active")
        self.assertEqual(a.access_token_encrypted, b.access_token_encrypted)

    def test_access_and_refresh_columns_cannot_be_swapped(self):
        a = CanvasConnection.objects.get(user=self.alice)
        CanvasConnection.objects.filter(pk=a.pk).update(
            access_token_encrypted=a.refresh_token_encrypted
        )
        with (
            self.assertLogs("canvas_oauth.crypto", "ERROR"),
            self.assertRaises(TokenDecryptionFailed),
        ):
            access_token_get(user=self.alice)


@oauth_settings
class RotateTokenKeysCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alice = make_user("alice")
        cls.bob = make_user("bob")
        cls.carol = make_user("carol")
        make_connection(cls.alice, access_token="at-alice", refresh_token="rt-alice")
        make_connection(cls.bob, access_token="at-bob", refresh_token="rt-bob")
        make_connection(cls.carol)
        CanvasConnection.objects.filter(user=cls.carol).update(
            status=CanvasConnection.Status.DISCONNECTED,
            access_token_encrypted="",
            refresh_token_encrypted="",
        )

    def test_rotation_reencrypts_under_the_first_key_and_reports_counts(self):
        before = dict(CanvasConnection.objects.values_list("user_id", "access_token_encrypted"))
        out = io.StringIO()
        with override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
            call_command("rotate_token_keys", stdout=out)
            self.assertIn("rotated 2", out.getvalue())
            self.assertIn("already current 0", out.getvalue())
            self.assertIn("without tokens 1", out.getvalue())
            again = io.StringIO()
            call_command("rotate_token_keys", stdout=again)
            self.assertIn("rotated 0", again.getvalue())
            self.assertIn("already current 2", again.getvalue())
        # Only the new key now: the rows still decrypt, to the same tokens.
        with override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B]):
            self.assertEqual(access_token_get(user=self.alice), "at-alice")
            self.assertEqual(access_token_get(user=self.bob), "at-bob")
        after = dict(CanvasConnection.objects.values_list("user_id", "access_token_encrypted"))
        self.assertNotEqual(before[self.alice.pk], after[self.alice.pk])
        # One event per rewritten row, in its user's connection log; none the second time.
        events = ConnectionEvent.objects.filter(kind=ConnectionEvent.Kind.KEY_ROTATION)
        self.assertEqual(sorted(e.username for e in events), ["alice", "bob"])
        self.assertEqual({e.actor_id for e in events}, {None})

    def test_rows_no_key_decrypts_are_reported_and_left_alone(self):
        before = CanvasConnection.objects.get(user=self.alice).refresh_token_encrypted
        out, err = io.StringIO(), io.StringIO()
        logging.disable(logging.CRITICAL)
        try:
            with (
                override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B]),
                self.assertRaises(CommandError) as caught,
            ):
                call_command("rotate_token_keys", stdout=out, stderr=err)
        finally:
            logging.disable(logging.NOTSET)
        self.assertIn("failed 2", str(caught.exception))
        self.assertIn("keep the old keys", str(caught.exception))
        self.assertFalse(ConnectionEvent.objects.filter(kind=ConnectionEvent.Kind.KEY_ROTATION))
        after = CanvasConnection.objects.get(user=self.alice).refresh_token_encrypted
        self.assertEqual(before, after)
