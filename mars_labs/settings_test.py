"""Test settings: the real settings, with a fast password hasher.

DATABASE_URL still comes from the environment, so the same suite runs on
SQLite (default) and PostgreSQL (.ci/run sets DATABASE_URL).
"""

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
