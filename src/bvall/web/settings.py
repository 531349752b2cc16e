"""Django settings of the bvall web app, resolved from :mod:`bvall.settings` (nothing else).

Security choices (see docs/webapp.md): Argon2 password hashing; django-axes login throttling;
HttpOnly, SameSite=Lax session and CSRF cookies (Secure with ``BVALL_SECURE_COOKIES=1`` behind
HTTPS); sessions end after ``BVALL_SESSION_HOURS`` and when the browser closes; a Content Security
Policy that allows only the app's own scripts and styles; no CDN, every asset from the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url

from bvall.errors import ConfigurationError
from bvall.settings import active_settings

_cfg = active_settings()
_HERE = Path(__file__).resolve().parent


def _database(url: str) -> dict[str, Any]:
    try:
        db = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except Exception as exc:
        raise ConfigurationError(
            f"Database URL {url!r} is not understood ({exc}); expected sqlite:///path/to/bvall.db "
            "or postgres://user@host:port/name."
        ) from exc
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["CONN_MAX_AGE"] = 0
        db["CONN_HEALTH_CHECKS"] = False
        db["OPTIONS"] = {
            # WAL lets readers run beside the one writer; synchronous=FULL makes an acknowledged
            # commit survive a power loss, not only a process crash.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
            ),
            # BEGIN IMMEDIATE takes the write lock up front, so two writers queue (busy timeout)
            # instead of failing with "database is locked" when a read upgrades to a write.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    elif db["ENGINE"] not in ("django.db.backends.postgresql",):
        raise ConfigurationError(
            f"Database URL {url!r} names an unsupported database; bvall supports SQLite "
            "(sqlite:///path) and PostgreSQL (postgres://...)."
        )
    db["ATOMIC_REQUESTS"] = False
    db["TEST"] = {"NAME": None}
    return db


SECRET_KEY = _cfg.secret_key
DEBUG = _cfg.debug
ALLOWED_HOSTS = list(_cfg.allowed_hosts)
DATABASES = {"default": _database(_cfg.database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "axes",
    "ninja",  # serves /api/docs (Swagger UI) from the package's own static files, not a CDN
    "bvall.store",
    "bvall.web",
]

MIDDLEWARE = [
    "bvall.web.middleware.request_size_limit",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bvall.web.middleware.security_headers",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "bvall.web.results.share_after_answer",
]

ROOT_URLCONF = "bvall.web.urls"
WSGI_APPLICATION = "bvall.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bvall.web.context.study",
            ],
        },
    },
    # The patient page's body (bvall.web.jinja): compiled templates, three times faster there.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "bvall.web.jinja.environment", "autoescape": True},
    },
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cohort"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (bvall.web.throttle): 5 failures for one user name from one address lock that
# pair, 20 failures from one address whatever the user names (password spraying) lock the
# address; both for 15 minutes. The order of the parameter sets matters to the throttle.
BVALL_LOGIN_FAILURES_PER_USER = 5
BVALL_LOGIN_FAILURES_PER_ADDRESS = 20
AXES_FAILURE_LIMIT = "bvall.web.throttle.failure_limit"
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "bvall/locked_out.html"
AXES_VERBOSE = False

# Sessions live in the database (revocable, survive restarts) and are cached per worker.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _cfg.secure_cookies
SESSION_COOKIE_AGE = _cfg.session_hours * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_NAME = "bvall_session"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = _cfg.secure_cookies
CSRF_COOKIE_NAME = "bvall_csrftoken"
CSRF_FAILURE_VIEW = "bvall.web.views.errors.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _cfg.secure_cookies:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000

# Imports: at most BVALL_IMPORT_MAX_MB per file and per request (with a little room for the form
# fields), refused from the Content-Length before the body is read (bvall.web.middleware); form
# fields are held in memory up to Django's default 2.5 MB, uploaded files go to disk above it.
BVALL_IMPORT_MAX_BYTES = _cfg.import_max_bytes
BVALL_IMPORT_MAX_REQUEST_BYTES = _cfg.import_max_bytes + 256 * 1024
BVALL_IMPORT_MAX_ROWS = _cfg.import_max_rows
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "bvall.web.middleware.LimitedUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

STATIC_URL = "/static/"
STATIC_ROOT = None
# Assets ship inside the package; WhiteNoise serves them straight from the app folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
WHITENOISE_MAX_AGE = 3600

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_REVERT_DISABLED = True

NINJA_PAGINATION_PER_PAGE = 200

HOME = _cfg.home

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "filters": {"refusals": {"()": "bvall.web.logs.RefusalFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # a refused request (401/403) is one line: user, path, reason (no traceback)
        "requests": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["refusals"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "axes": {"level": "WARNING"},
        "bvall": {"level": "INFO"},
        "django.request": {"handlers": ["requests"], "level": "WARNING", "propagate": False},
    },
}
