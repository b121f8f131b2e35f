"""`python -m contract`'s configuration: environment variables only, tokens never shown."""

from django.test import SimpleTestCase

from contract.config import ContractConfigError, TargetKind, target_from_env


class TargetFromEnvTests(SimpleTestCase):
    def test_without_a_base_url_the_run_uses_a_sandbox(self):
        self.assertIsNone(target_from_env({"CONTRACT_TOKEN": "t"}))

    def test_an_instance_from_the_environment(self):
        target = target_from_env(
            {
                "CONTRACT_BASE_URL": "https://clinic.canvasmedical.com/",
                "CONTRACT_PLUGIN_NAME": "acme__note_sign_api",
                "CONTRACT_TOKEN": "first-token-value",
                "CONTRACT_TOKEN_2": "second-token-value",
                "CONTRACT_WRITE": "yes",
                "CONTRACT_NOTE_IDS": " a , b ,",
                "CONTRACT_APPOINTMENT_ID": "c",
                "NOTES_CONFIRM_SECONDS": "12",
                "CANVAS_REVOKE_ON_UNLINK": "false",
                "CLINIC_TIME_ZONE": "America/Denver",
            }
        )

        self.assertEqual(target.kind, TargetKind.INSTANCE)
        self.assertEqual(target.base_url, "https://clinic.canvasmedical.com")
        self.assertEqual(target.plugin_name, "acme__note_sign_api")
        self.assertEqual(target.note_ids, ("a", "b"))
        self.assertTrue(target.write)
        self.assertEqual(target.portal.confirm_seconds, 12.0)
        self.assertFalse(target.portal.revoke_on_unlink)
        self.assertEqual(target.portal.clinic_time_zone, "America/Denver")
        self.assertNotIn("token-value", repr(target))
        self.assertEqual(target.secrets, ("first-token-value", "second-token-value"))

    def test_the_write_phase_needs_test_notes(self):
        with self.assertRaisesMessage(ContractConfigError, "CONTRACT_NOTE_IDS"):
            target_from_env(
                {
                    "CONTRACT_BASE_URL": "https://x.test",
                    "CONTRACT_TOKEN": "t",
                    "CONTRACT_WRITE": "yes",
                }
            )

    def test_a_token_is_required(self):
        with self.assertRaisesMessage(ContractConfigError, "CONTRACT_TOKEN"):
            target_from_env({"CONTRACT_BASE_URL": "https://x.test"})
