"""Settings for the Canvas sandbox (a separate project from the portal).

Every setting is an environment variable with the SANDBOX_ prefix, read with
django-environ; see docs/sandbox.md for the table. The sandbox is a
development tool, so DEBUG is on unless SANDBOX_DEBUG=false, and the
development secret key below is fine for it: nothing real is protected here.
"""

import re
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = PACKAGE_DIR.parent

env = environ.Env()

DEBUG = env.bool("SANDBOX_DEBUG", default=True)
SECRET_KEY = env.str("SANDBOX_SECRET_KEY", default="canvas-sandbox-development-only-not-a-secret")
ALLOWED_HOSTS = env.list(
    "SANDBOX_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"]
)

INSTALLED_APPS = [
    # First, so its `runserver` (TCP_NODELAY) wins over staticfiles' one.
    "canvas_sandbox.clinic",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "oauth2_provider",
]

MIDDLEWARE = [
    "canvas_sandbox.clinic.middleware.FriendlyErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "canvas_sandbox.clinic.middleware.FaultInjectionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "canvas_sandbox.urls"
WSGI_APPLICATION = "canvas_sandbox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the app directories, so DOT's authorize template is overridden.
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite file under var/ by default; PostgreSQL through SANDBOX_DATABASE_URL.
_default_sqlite = BASE_DIR / "var" / "sandbox.sqlite3"
DATABASES = {"default": env.db("SANDBOX_DATABASE_URL", default=f"sqlite:///{_default_sqlite}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take the write lock up front, so concurrent
    # writers (threads of runserver) wait instead of failing mid-way.
    # WAL lets readers run beside the one writer, and synchronous=NORMAL
    # skips an fsync per commit: every API call writes a request counter.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("SANDBOX_CONN_MAX_AGE", default=0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Demo passwords are short on purpose ("canvas-demo"): no validators here.
AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
# A fast hasher keeps sign-in, confidential-client calls and start-up quick
# (the bench refreshes a lot); nothing real is protected by these passwords.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
if env.bool("SANDBOX_FAST_HASHER", default=True):
    PASSWORD_HASHERS.reverse()

LOGIN_URL = "sandbox:login"
LOGIN_REDIRECT_URL = "sandbox:home"
LOGOUT_REDIRECT_URL = "sandbox:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# No collectstatic for the sandbox: WhiteNoise serves straight from the finders.
STATIC_ROOT = None
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# Served from the app's static folder by WhiteNoise, with or without DEBUG
# and under runserver or gunicorn alike: the sandbox never runs collectstatic.
WHITENOISE_USE_FINDERS = True
# Autorefresh rescans the static folder on every request: too slow for the bench.
WHITENOISE_AUTOREFRESH = False

# Same host as the portal in development, another port: distinct cookie names.
SESSION_COOKIE_NAME = "sandbox_session"
CSRF_COOKIE_NAME = "sandbox_csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Not "no-referrer": browsers then send `Origin: null` with form posts, which
# CSRF checking refuses. same-origin still keeps the code's redirect clean.
SECURE_REFERRER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "canvas_sandbox.clinic.pages.csrf_failure"
X_FRAME_OPTIONS = "DENY"
# A catch-all URL answers unknown paths with a friendly 404, so there is
# nothing for APPEND_SLASH to redirect to.
APPEND_SLASH = False

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        # The consent form posts here, then the browser follows the redirect
        # to the client's callback on another origin.
        "form-action": [SELF, "http:", "https:"],
    },
}

# --- OAuth server (django-oauth-toolkit) ---------------------------------
OAUTH2_PROVIDER = {
    "SCOPES": {"offline_access": "Stay connected while you are away (refresh tokens)"},
    "DEFAULT_SCOPES": ["offline_access"],
    "PKCE_REQUIRED": True,
    # oauthlib accepts "plain" (and treats a missing method as plain): this
    # server class only knows S256, so both are refused at /auth/authorize/.
    "OAUTH2_SERVER_CLASS": "canvas_sandbox.oauth.S256OnlyServer",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("SANDBOX_ACCESS_TOKEN_LIFETIME", default=36000),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "REFRESH_TOKEN_REUSE_PROTECTION": env.bool("SANDBOX_REUSE_PROTECTION", default=True),
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    # Tokens are stored as checksums only, unless a test harness asks for
    # plaintext so it can scan pages and logs for leaked tokens.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": env.bool("SANDBOX_HASH_TOKENS", default=True),
}

# --- Sandbox behaviour (read through canvas_sandbox.clinic.conf) ----------
SANDBOX_REDIRECT_URIS = [
    "http://127.0.0.1:8000/canvas/callback/",
    "http://localhost:8000/canvas/callback/",
    *env.str("SANDBOX_REDIRECT_URIS", default="").replace(",", " ").split(),
]
# The demo clinic's zone: today's appointments are seeded in its day
# (`make run` passes the portal's CLINIC_TIME_ZONE).
SANDBOX_CLINIC_TIME_ZONE = env.str("SANDBOX_CLINIC_TIME_ZONE", default="UTC")
SANDBOX_PORTAL_URL = env.str("SANDBOX_PORTAL_URL", default="http://127.0.0.1:8000/")
# The control API mints tokens for anyone: on only with DEBUG, unless turned
# on explicitly (the bench runs the sandbox without DEBUG and sets it).
SANDBOX_CONTROL = env.bool("SANDBOX_CONTROL", default=DEBUG)
SANDBOX_FAULT_DEFAULTS = {
    "latency_ms": env.int("SANDBOX_FAULT_LATENCY_MS", default=0),
    "error_rate": env.float("SANDBOX_FAULT_ERROR_RATE", default=0.0),
    "error_status": env.int("SANDBOX_FAULT_ERROR_STATUS", default=503),
    "token_endpoint_down": env.bool("SANDBOX_FAULT_TOKEN_DOWN", default=False),
    "html_instead_of_json": env.bool("SANDBOX_FAULT_HTML", default=False),
    "seed": env.int("SANDBOX_FAULT_SEED", default=1),
    "effect_reject_rate": env.float("SANDBOX_FAULT_EFFECT_REJECT_RATE", default=0.0),
    # Not a fault but shared the same way: how long after the 202 effects land.
    "effect_delay_ms": env.int("SANDBOX_EFFECT_DELAY_MS", default=0),
}
# The plugin variable `signing_policy`: "provider" (default) or "any_staff".
SANDBOX_SIGNING_POLICY = env.str("SANDBOX_SIGNING_POLICY", default="provider")
# Unlike Canvas in one respect, for `make contract`'s variants: check-in leaves
# the note an appointment note (false), or /auth/revoke_token/ answers 404 (false).
SANDBOX_CHECKIN_CONVERTS = env.bool("SANDBOX_CHECKIN_CONVERTS", default=True)
# The name the plugin is installed under: its API is /plugin-io/api/<name>/ (Canvas
# prefixes a namespaced plugin, e.g. acme__note_sign_api; the portal's CANVAS_PLUGIN_NAME).
SANDBOX_PLUGIN_NAME = env.str("SANDBOX_PLUGIN_NAME", default="note_sign_api")
if not re.fullmatch(r"[a-z][a-z0-9_]{0,99}", SANDBOX_PLUGIN_NAME):
    raise ImproperlyConfigured("SANDBOX_PLUGIN_NAME: lower-case letters, digits and _ only.")
SANDBOX_REVOCATION_ENDPOINT = env.bool("SANDBOX_REVOCATION_ENDPOINT", default=True)
# The plugin's other variables as the sandbox's installed plugin has them
# (the control API's /plugin-variables overrides them at run time).
SANDBOX_PLUGIN_VARIABLES = {
    "visibility": env.str("SANDBOX_PLUGIN_VISIBILITY", default="related"),
    "restrict_signing_to_provider": env.str(
        "SANDBOX_PLUGIN_RESTRICT_SIGNING_TO_PROVIDER", default="false"
    ),
}
# Canvas's own instance setting "restrict note signing to the provider": the
# sandbox's Canvas refuses other staff's lock, sign and unlock effects when it
# applies them, whatever the plugin variable says (control API: /canvas-settings).
SANDBOX_RESTRICT_SIGNING_TO_PROVIDER = env.bool(
    "SANDBOX_RESTRICT_SIGNING_TO_PROVIDER", default=False
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name} {message}", "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("SANDBOX_LOG_LEVEL", default="INFO")},
    "loggers": {
        # oauthlib's debug output can include request bodies (codes, verifiers).
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
    },
}
