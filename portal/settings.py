"""Settings for the Canvas Note Portal.

One module for every environment: each difference between development,
tests and production is an environment variable (or a line in `.env`),
read with django-environ. See README.md for the table of variables.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# `.env` is optional; the real environment always wins over it. Point
# DJANGO_ENV_FILE elsewhere (or at an empty string) to skip it, as the
# settings tests do.
_env_file = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    env.read_env(_env_file)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set the DJANGO_SECRET_KEY environment variable (required unless DJANGO_DEBUG is on)."
        )
    SECRET_KEY = "django-insecure-development-only-key"

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Canvas connection tokens are encrypted with these Fernet keys (first one
# encrypts, all decrypt). canvas_oauth's system check validates their format.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])
if not TOKEN_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "Set the TOKEN_ENCRYPTION_KEYS environment variable (a comma list of Fernet keys)."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "portal",
    "canvas_oauth",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.ResponseMetricsMiddleware",
    "portal.middleware.ClientIPMiddleware",
    "portal.middleware.RequestIDMiddleware",
    # Early, so every later middleware and the CSRF failure view read request.htmx.
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.HtmxErrorToastMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.NoStoreWhenSignedInMiddleware",
    "portal.middleware.HtmxLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.SessionTimeoutMiddleware",
    "portal.middleware.LogUserMiddleware",
    "portal.middleware.ClinicTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so it maps an error a view raised before any other middleware sees it.
    "portal.middleware.PortalErrorMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "canvas_oauth.context_processors.canvas_connection",
                "portal.context_processors.session_timeouts",
            ],
        },
    },
]

# Database: SQLite under var/ by default; PostgreSQL through DATABASE_URL.
_default_sqlite = BASE_DIR / "var" / "portal.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{_default_sqlite}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take the write lock up front, so concurrent
    # writers wait (up to `timeout` seconds) instead of failing mid-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds counters only (the bulk plan limit), never patient data. The
# default is per process; several processes share a limit only through a shared
# cache, e.g. CACHE_URL=dbcache://portal_cache after `manage.py createcachetable`
# (check --deploy warns, portal.W002).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in goes through throttling (portal.services): failures per username
# and per client address are slowed, then refused for a while.
AUTHENTICATION_BACKENDS = ["portal.backends.ThrottledModelBackend"]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
LOGIN_SLOWDOWN_AFTER = env.int("LOGIN_SLOWDOWN_AFTER", default=3)
LOGIN_SLOWDOWN_SECONDS = env.int("LOGIN_SLOWDOWN_SECONDS", default=5)
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
# Error reports mask the OAuth callback's code and state (portal.reporting).
DEFAULT_EXCEPTION_REPORTER = "portal.reporting.PortalExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.reporting.PortalExceptionReporterFilter"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
# The clinic's own day: "today", ages and every time shown are in this zone
# (an IANA name, checked at start-up), unless a user picks another one in
# their profile. Times are stored in UTC either way. Unset: the Canvas
# installation's zone (GET /me, seen when a user connects), else TIME_ZONE.
CLINIC_TIME_ZONE = env.str("CLINIC_TIME_ZONE", default=None)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Development serves static files straight from the finders; production
# serves what `collectstatic` wrote, with hashed names.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "DJANGO_STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

# Cookies: named so the portal and the sandbox (another port on the same
# host in development) never overwrite each other's.
SESSION_ENGINE = "portal.sessions"  # database sessions, read in plain SQL
SESSION_COOKIE_NAME = "portal_session"
CSRF_COOKIE_NAME = "portal_csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Automatic logoff (portal.middleware.SessionTimeoutMiddleware): after
# SESSION_IDLE_TIMEOUT seconds without a request, and SESSION_ABSOLUTE_TIMEOUT
# seconds after sign-in whatever happens. The cookie dies with the browser.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=900)
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=43_200)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# HTTPS-only behaviour (secure cookies, HSTS, redirect). On by default in
# production; DJANGO_HTTPS=false for a local production-like run over HTTP.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
_behind_tls_proxy = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
if _behind_tls_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies in front of the portal append to X-Forwarded-For
# (portal.proxy): the client address is the entry the outermost of them
# wrote, and X-Request-ID is believed only from them. 0 (the default without
# DJANGO_BEHIND_TLS_PROXY): the socket's address is the client's and both
# headers, which any client can send, are ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if _behind_tls_proxy else 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp 4): every script and style is a local
# static file, so nothing inline and nothing evaluated is allowed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# The operator's endpoints: /healthz shows its details, and /metrics answers
# a Prometheus scrape, only to these client addresses or networks (default:
# loopback) or to a request carrying the token as `Authorization: Bearer`.
HEALTHZ_ALLOWED_IPS = env.list("HEALTHZ_ALLOWED_IPS", default=["127.0.0.1", "::1"])
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=HEALTHZ_ALLOWED_IPS)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Canvas (see README's configuration table). Unset variables are None here:
# the defaults and the validation live in one place,
# integrations.canvas.settings.DEFAULTS, read lazily so override_settings works.
CANVAS_BASE_URL = env.str("CANVAS_BASE_URL", default=None)
CANVAS_CLIENT_ID = env.str("CANVAS_CLIENT_ID", default=None)
CANVAS_CLIENT_SECRET = env.str("CANVAS_CLIENT_SECRET", default=None)
CANVAS_SCOPES = env.str("CANVAS_SCOPES", default=None)
CANVAS_PLUGIN_NAME = env.str("CANVAS_PLUGIN_NAME", default=None)
CANVAS_REDIRECT_URI = env.str("CANVAS_REDIRECT_URI", default=None)
CANVAS_REVOKE_ON_UNLINK = env.bool("CANVAS_REVOKE_ON_UNLINK", default=None)
CANVAS_CONNECT_TIMEOUT = env.float("CANVAS_CONNECT_TIMEOUT", default=None)
CANVAS_READ_TIMEOUT = env.float("CANVAS_READ_TIMEOUT", default=None)
# NOTES_HTTP_POOL_SIZE is the older name of CANVAS_HTTP_POOL_SIZE, still read.
CANVAS_HTTP_POOL_SIZE = env.int(
    "CANVAS_HTTP_POOL_SIZE", default=env.int("NOTES_HTTP_POOL_SIZE", default=None)
)

# Notes (read through notes.conf).
NOTES_PAGE_SIZE = env.int("NOTES_PAGE_SIZE", default=25)
# How long a pending action blocks an identical one (the double-submit guard);
# unset: three times the connect + read timeouts, plus 10 s.
NOTES_PENDING_WINDOW_SECONDS = env.float("NOTES_PENDING_WINDOW_SECONDS", default=None)
# How long after Canvas accepts an action the portal keeps reading the note's
# history for the change before it records "not applied".
NOTES_CONFIRM_SECONDS = env.float("NOTES_CONFIRM_SECONDS", default=30)
# How many users' confirmation reads one task run makes at once (threads, each
# with its own database connection: max_connections must cover them).
NOTES_CONFIRM_CONCURRENCY = env.int("NOTES_CONFIRM_CONCURRENCY", default=8)
# Close my day: an unsigned note is overdue after this many days; a bulk run
# makes at most this many Canvas calls at once.
NOTES_OVERDUE_DAYS = env.int("NOTES_OVERDUE_DAYS", default=3)
NOTES_BULK_CONCURRENCY = env.int("NOTES_BULK_CONCURRENCY", default=4)
# Bulk plans (each reads the whole queue) a user may ask for a minute; past it,
# refused before any Canvas read.
NOTES_BULK_PLANS_PER_MINUTE = env.int("NOTES_BULK_PLANS_PER_MINUTE", default=10)
# Bulk runs leave out notes with commands not yet committed in Canvas (said on the run page).
NOTES_BULK_SKIP_STAGED = env.bool("NOTES_BULK_SKIP_STAGED", default=True)

# Background work on Django's tasks API, stored in the database, in two lanes:
# "default" (confirming actions: `db_worker --queue-name default`) and "bulk"
# (bulk runs: `db_worker --queue-name bulk`), each with its own worker(s), so
# a click's confirmation never waits behind a run (README, Deployment).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "bulk"],
    }
}
# A bulk run no worker has started within this many seconds expires (its
# notes are not signed hours after the person asked).
NOTES_BULK_START_WITHIN = env.float("NOTES_BULK_START_WITHIN", default=600)

# Logs: plain lines for development; DJANGO_LOG_FORMAT=json writes one JSON
# object a line (portal.logging.JsonFormatter) with the request id and the
# user id (observability.context) for a log collector.
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be plain or json (got {LOG_FORMAT!r}).")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # An OAuth callback's query string holds the authorization code:
        # request lines reach the log without their query strings.
        "strip_query_strings": {"()": "portal.logging.StripQueryStringFilter"},
        "log_context": {"()": "observability.context.LogContextFilter"},
    },
    "formatters": {
        "plain": {"format": "{asctime} {levelname} {name} {message}", "style": "{"},
        "json": {"()": "portal.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["strip_query_strings", "log_context"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # runserver's request lines: Django's default config gives this
        # logger its own handler, without our filter, so a callback's
        # ?code=... reached the log (found by the e2e secrets scan).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
