"""Test settings: the real settings, with a fast password hasher.

DATABASE_URL still comes from the environment, so the same suite runs on
SQLite (default) and PostgreSQL (.ci/run sets DATABASE_URL).
"""

import os
import tempfile
from pathlib import Path

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405

if DATABASES["default"]["ENGINE"] == "mars_labs.sqlite3":  # noqa: F405
    # A file, not Django's default in-memory database: the concurrency tests
    # need real SQLite locking (WAL + IMMEDIATE) between threads. One file per
    # process, so two test runs on one machine never share (and break) it.
    DATABASES["default"]["TEST"]["NAME"] = str(Path(tempfile.gettempdir()) / f"mars-labs-test-{os.getpid()}.sqlite3")  # noqa: F405
