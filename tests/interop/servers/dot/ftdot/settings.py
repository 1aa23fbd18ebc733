"""Settings for the django-oauth-toolkit interop server. Everything tunable comes from the environment.

FT_DOT_DB             sqlite database path (required; the fixture creates one per session)
FT_DOT_AT_TTL         ACCESS_TOKEN_EXPIRE_SECONDS (default 60)
FT_DOT_RT_TTL         REFRESH_TOKEN_EXPIRE_SECONDS (default unset: refresh tokens do not age out)
FT_DOT_GRACE          REFRESH_TOKEN_GRACE_PERIOD_SECONDS (default 0: no grace window)
FT_DOT_REUSE_PROTECTION  REFRESH_TOKEN_REUSE_PROTECTION, "1"/"0" (default 1)
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


SECRET_KEY = "freshtoken-interop-not-a-secret"
DEBUG = os.environ.get("FT_DOT_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "ftdot",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "ftdot.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
STATIC_URL = "/static/"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("FT_DOT_DB", str(BASE_DIR.parent / "ftdot.db")),
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# PBKDF2 costs ~0.5 s per hashed client secret check; MD5 keeps token requests fast. Test-only.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"

OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": _int("FT_DOT_AT_TTL", 60),
    "REFRESH_TOKEN_EXPIRE_SECONDS": _int("FT_DOT_RT_TTL", None),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": os.environ.get("FT_DOT_REUSE_PROTECTION", "1") == "1",
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": _int("FT_DOT_GRACE", 0),
    "PKCE_REQUIRED": True,
    "SCOPES": {"read": "Reading scope", "write": "Writing scope"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR"},
        "oauth2_provider": {"handlers": ["console"], "level": os.environ.get("FT_DOT_LOG_LEVEL", "WARNING")},
    },
}
