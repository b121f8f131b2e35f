"""The one Canvas settings object: defaults, validation once, reload on setting_changed."""

from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase, override_settings

from integrations.canvas.settings import DEFAULTS, canvas_settings


class CanvasSettingsTests(SimpleTestCase):
    def test_defaults_apply_and_overrides_are_seen(self):
        with override_settings(CANVAS_BASE_URL="https://x.canvasmedical.com/"):
            self.assertEqual(canvas_settings.BASE_URL, "https://x.canvasmedical.com")
            self.assertEqual(
                canvas_settings.plugin_api_url,
                "https://x.canvasmedical.com/plugin-io/api/note_sign_api/",
            )
            with override_settings(CANVAS_PLUGIN_NAME="acme__note_sign_api"):
                self.assertIn("/acme__note_sign_api/", canvas_settings.plugin_api_url)
            self.assertIn("/note_sign_api/", canvas_settings.plugin_api_url)

    def test_every_default_has_a_valid_value(self):
        with override_settings(CANVAS_BASE_URL="https://x.test", CANVAS_CLIENT_ID="c"):
            for name in DEFAULTS:
                with self.subTest(name=name):
                    getattr(canvas_settings, name)

    def test_scopes_are_split_on_spaces_and_commas(self):
        with override_settings(CANVAS_SCOPES="offline_access, launch  user/*.read"):
            self.assertEqual(canvas_settings.SCOPES, ("offline_access", "launch", "user/*.read"))

    def test_missing_required_values_name_the_variable(self):
        for name in ("CANVAS_BASE_URL", "CANVAS_CLIENT_ID"):
            with (
                self.subTest(name=name),
                override_settings(**{name: ""}),
                self.assertRaisesMessage(ImproperlyConfigured, f"Set the {name} environment"),
            ):
                getattr(canvas_settings, name.removeprefix("CANVAS_"))

    def test_bad_values_are_refused_clearly(self):
        cases = [
            ("CANVAS_READ_TIMEOUT", 0, "READ_TIMEOUT", "positive number"),
            ("CANVAS_CONNECT_TIMEOUT", "soon", "CONNECT_TIMEOUT", "positive number"),
            ("CANVAS_HTTP_POOL_SIZE", -1, "HTTP_POOL_SIZE", "positive number"),
            ("CANVAS_BASE_URL", "canvas.example", "BASE_URL", "http(s) URL"),
            ("CANVAS_BASE_URL", "ftp://canvas.example", "BASE_URL", "http(s) URL"),
        ]
        for setting, value, attr, text in cases:
            with (
                self.subTest(setting=setting, value=value),
                override_settings(**{setting: value}),
                self.assertRaisesMessage(ImproperlyConfigured, text),
            ):
                getattr(canvas_settings, attr)

    def test_unknown_names_are_attribute_errors(self):
        with self.assertRaises(AttributeError):
            canvas_settings.NOT_A_SETTING  # noqa: B018
