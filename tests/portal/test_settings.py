"""The settings refuse to start without what production needs."""

import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]
VALID_FERNET_KEY = "kQ5ZbVQ0Cw5k2cFh0d2mWb1Yt3y6bq2xvYJpN3dE0oU="


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py with a clean, production-like environment plus `env`."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_ENV_FILE": "",  # ignore the developer's .env
        "DATABASE_URL": "sqlite:///:memory:",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


class ProductionSettingsTests(SimpleTestCase):
    def test_missing_secret_key_names_the_variable(self):
        result = run_manage("check", TOKEN_ENCRYPTION_KEYS=VALID_FERNET_KEY)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DJANGO_SECRET_KEY", result.stderr)

    def test_missing_encryption_keys_names_the_variable(self):
        result = run_manage("check", DJANGO_SECRET_KEY="x" * 60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("TOKEN_ENCRYPTION_KEYS", result.stderr)

    def test_debug_defaults_to_off_and_deploy_check_is_clean(self):
        result = run_manage(
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            DJANGO_SECRET_KEY="s3cr3t-" + "k" * 60,
            TOKEN_ENCRYPTION_KEYS=VALID_FERNET_KEY,
            DJANGO_ALLOWED_HOSTS="portal.example.com",
            CACHE_URL="dbcache://portal_cache",
        )
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        self.assertIn("no issues", result.stdout)

    def test_deploy_check_warns_when_the_cache_is_per_process(self):
        result = run_manage(
            "check",
            "--deploy",
            DJANGO_SECRET_KEY="s3cr3t-" + "k" * 60,
            TOKEN_ENCRYPTION_KEYS=VALID_FERNET_KEY,
            DJANGO_ALLOWED_HOSTS="portal.example.com",
            CACHE_URL="locmemcache://",
        )
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        self.assertIn("portal.W002", result.stderr + result.stdout)
        self.assertIn("CACHE_URL", result.stderr + result.stdout)
