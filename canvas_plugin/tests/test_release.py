"""scripts/plugin_release.py: the prefix rule and the renaming (the full release runs in make)."""

import importlib.util
import json
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

from .helpers import PLUGIN_ROOT

SCRIPT = PLUGIN_ROOT.parent / "scripts" / "plugin_release.py"


def release_module():
    spec = importlib.util.spec_from_file_location("plugin_release", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ReleaseScriptTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.release = release_module()

    def test_prefix_must_be_a_lowercase_identifier(self):
        self.assertEqual(self.release.plugin_name("acme"), "acme__note_sign_api")
        self.assertEqual(self.release.plugin_name("acme_health2"), "acme_health2__note_sign_api")
        for prefix in ("", "Acme", "1acme", "ac-me", "acme_", "ac__me", "a b", "acme;rm"):
            with self.subTest(prefix=prefix), self.assertRaises(self.release.ReleaseError):
                self.release.plugin_name(prefix)

    def test_rename_leaves_prefixed_names_alone(self):
        rename = self.release.rename
        name = "acme__note_sign_api"
        self.assertEqual(
            rename("from note_sign_api.handlers import api", name),
            "from acme__note_sign_api.handlers import api",
        )
        self.assertEqual(
            rename("/plugin-io/api/note_sign_api/app", name),
            "/plugin-io/api/acme__note_sign_api/app",
        )
        self.assertEqual(rename('"note_sign_api.handlers.api:NoteApi"', name).count(name), 1)
        self.assertEqual(rename("acme__note_sign_api", name), "acme__note_sign_api")
        self.assertEqual(rename("<prefix>__note_sign_api", name), "<prefix>__note_sign_api")

    def test_check_finds_what_is_left_unrenamed(self):
        name = "acme__note_sign_api"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            (out / name).mkdir()
            (out / "tests").mkdir()
            (out / "pyproject.toml").write_text("")
            (out / ".gitignore").write_text("")
            manifest = {
                "name": name,
                "components": {"handlers": [{"class": f"{name}.handlers.api:NoteApi"}]},
            }
            (out / name / "CANVAS_MANIFEST.json").write_text(json.dumps(manifest))
            (out / "tests" / "test_x.py").write_text(f"from {name} import transitions\n")
            self.assertEqual(self.release.check_release(out, name), [])
            (out / name / "api.py").write_text("from note_sign_api import transitions\n")
            problems = self.release.check_release(out, name)
            self.assertEqual(len(problems), 1)
            self.assertIn("api.py:1: un-prefixed", problems[0])
