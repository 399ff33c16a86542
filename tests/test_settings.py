"""Production settings refuse insecure or malformed configuration, with one readable line.

Settings are read once per process, so each case starts a fresh Python in a
subprocess with a clean copy of the environment (none of the variables
mars_labs/settings.py reads, and no DJANGO_SETTINGS_MODULE from pytest-django).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SETUP = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mars_labs.settings'); django.setup()"
)
# Every variable settings.py reads, plus the settings module pytest-django exported.
CONFIG_VARIABLES = {
    "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CACHE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS", "CONN_MAX_AGE", "SESSION_COOKIE_AGE", "SESSION_REFRESH_SECONDS", "TIME_ZONE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "BEHIND_TLS_PROXY",
    "HEARTBEAT_MAX_SECONDS", "LOG_LEVEL", "API_RATE_LIMIT", "SIMULATION_FRAME_SOURCES", "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_MINUTES", "REMEDIAL_AFTER_FAILED_ATTEMPTS", "DATABASE_PREPARED_STATEMENTS",
    "DATABASE_POOL", "DATABASE_POOL_MIN_SIZE", "DATABASE_POOL_MAX_SIZE", "DATABASE_POOL_TIMEOUT",
    "CURRICULUM_CACHE_SECONDS", "SQLITE_WAL_AUTOCHECKPOINT", "SQLITE_CHECKPOINT_MS",
    # The browser tests set this for Playwright; a deployment never has it (check --deploy warns).
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}
STRONG_KEY = secrets.token_urlsafe(50)
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "labs.example.org"}


def run(*args, **variables):
    """Run ``python *args`` from the repository root with only ``variables`` configured."""
    env = {name: value for name, value in os.environ.items() if name not in CONFIG_VARIABLES}
    env.update(variables)
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def start(**variables):
    """Start Django the way a server does."""
    return run("-c", SETUP, **variables)


def settings_after_start(*names, **variables):
    """Start Django and return the named settings, as JSON from the subprocess."""
    code = f"{SETUP}; import json; from django.conf import settings; " + (
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = run("-c", code, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_refused_with_one_line(result, *words):
    """Start-up stopped, saying why in one line that names ``words``, with no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("MARS Labs configuration error:"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]


# --- refused ------------------------------------------------------------------------------


def test_settings_production_without_secret_key_refused():
    result = start(DEBUG="false", ALLOWED_HOSTS="labs.example.org")

    assert_refused_with_one_line(result, "SECRET_KEY")


def test_settings_production_with_empty_secret_key_refused():
    result = start(DEBUG="false", SECRET_KEY="", ALLOWED_HOSTS="labs.example.org")

    assert_refused_with_one_line(result, "SECRET_KEY")


@pytest.mark.parametrize("value", ["yes-ish", "maybe", "2", "tru"])
def test_settings_debug_unknown_spelling_refused(value):
    result = start(DEBUG=value)

    assert_refused_with_one_line(result, "DEBUG", repr(value))


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("short-key", id="short"),
        pytest.param("django-insecure-" + secrets.token_urlsafe(50), id="django-insecure prefix"),
        pytest.param("x" * 60, id="one repeated character"),
    ],
)
def test_settings_production_weak_secret_key_refused(key):
    result = start(DEBUG="false", SECRET_KEY=key, ALLOWED_HOSTS="labs.example.org")

    assert_refused_with_one_line(result, "SECRET_KEY")


def test_settings_production_without_allowed_hosts_refused():
    result = start(DEBUG="false", SECRET_KEY=STRONG_KEY)

    assert_refused_with_one_line(result, "ALLOWED_HOSTS")


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgres://mars@db.example:notaport/mars_labs", id="port not a number"),
        pytest.param("nonsense://db.example/mars_labs", id="unknown scheme"),
        pytest.param("not a url", id="not a url"),
        pytest.param("", id="empty"),
    ],
)
def test_settings_bad_database_url_refused(url):
    result = start(DATABASE_URL=url)

    assert_refused_with_one_line(result, "DATABASE_URL")


def test_settings_bad_whole_number_refused():
    result = start(SESSION_COOKIE_AGE="eight hours")

    assert_refused_with_one_line(result, "SESSION_COOKIE_AGE")


def test_settings_production_bad_boolean_refused():
    result = start(**PRODUCTION, SECURE_SSL_REDIRECT="sometimes")

    assert_refused_with_one_line(result, "SECURE_SSL_REDIRECT")


# --- accepted -------------------------------------------------------------------------------


def test_settings_no_configuration_starts_for_local_development():
    values = settings_after_start("DEBUG", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE")

    assert values == {"DEBUG": True, "ALLOWED_HOSTS": ["127.0.0.1", "localhost", "[::1]"],
                      "SESSION_COOKIE_SECURE": False}


@pytest.mark.parametrize("spelling", ["false", "False", "0", "no", "off", " FALSE "])
def test_settings_debug_off_spellings_accepted(spelling):
    values = settings_after_start("DEBUG", **{**PRODUCTION, "DEBUG": spelling})

    assert values["DEBUG"] is False


def test_settings_production_starts_with_secure_cookies_and_hsts():
    values = settings_after_start(
        "DEBUG", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT", **PRODUCTION,
    )

    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["labs.example.org"]
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] > 0
    assert values["SECURE_SSL_REDIRECT"] is True


def test_settings_production_passes_deploy_checklist():
    result = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("value", ["0", "-1", "99", "lots"])
def test_settings_sqlite_wal_autocheckpoint_out_of_range_refused(value):
    result = start(SQLITE_WAL_AUTOCHECKPOINT=value)

    assert_refused_with_one_line(result, "SQLITE_WAL_AUTOCHECKPOINT")


@pytest.mark.parametrize("value", ["-1", "60001", "0.5", "soon"])
def test_settings_sqlite_checkpoint_ms_out_of_range_refused(value):
    result = start(SQLITE_CHECKPOINT_MS=value)

    assert_refused_with_one_line(result, "SQLITE_CHECKPOINT_MS")


def test_settings_sqlite_checkpoint_ms_becomes_seconds_and_zero_turns_it_off():
    code = f"{SETUP}; from django.conf import settings; print(settings.SQLITE_CHECKPOINT_SECONDS)"
    default = run("-c", code, DATABASE_URL="sqlite:////tmp/mars-settings-wal.sqlite3")
    off = run("-c", code, DATABASE_URL="sqlite:////tmp/mars-settings-wal.sqlite3", SQLITE_CHECKPOINT_MS="0")

    assert default.stdout.split() == ["0.2"], default.stderr
    assert off.stdout.split() == ["0.0"], off.stderr


def test_settings_sqlite_wal_autocheckpoint_reaches_the_connection():
    code = (f"{SETUP}; from django.db import connection; "
            "print(connection.cursor().execute('PRAGMA wal_autocheckpoint').fetchone()[0])")
    default = run("-c", code, DATABASE_URL="sqlite:////tmp/mars-settings-wal.sqlite3")
    chosen = run("-c", code, DATABASE_URL="sqlite:////tmp/mars-settings-wal.sqlite3", SQLITE_WAL_AUTOCHECKPOINT="2500")

    assert default.stdout.split() == ["10000"], default.stderr
    assert chosen.stdout.split() == ["2500"], chosen.stderr


def test_settings_sqlite_default_uses_wal_and_immediate_transactions():
    database = settings_after_start("DATABASES")["DATABASES"]["default"]

    assert database["ENGINE"] == "mars_labs.sqlite3"  # Django's, with writers queued on a file lock
    assert database["NAME"] == str(REPO_ROOT / "db.sqlite3")
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert database["OPTIONS"]["timeout"] > 0


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_settings_postgres_database_url_uses_postgresql_engine(scheme):
    url = f"{scheme}://mars:secret@db.example:5432/mars_labs"

    database = settings_after_start("DATABASES", DATABASE_URL=url)["DATABASES"]["default"]

    # Django's backend with a cheaper per-request health check (mars_labs/postgresql/base.py).
    assert database["ENGINE"] == "mars_labs.postgresql"
    assert (database["NAME"], database["HOST"], database["PORT"]) == ("mars_labs", "db.example", 5432)
    assert database["CONN_HEALTH_CHECKS"] is True
    # The SQLite-only options would make psycopg refuse to connect.
    assert "transaction_mode" not in database.get("OPTIONS", {})


PG_URL = "postgres://mars:secret@db.example:5432/mars_labs"


@pytest.mark.parametrize("variables", [{}, {"DATABASE_PREPARED_STATEMENTS": "true"}, {"DATABASE_POOL": "true"}])
def test_settings_postgres_prepares_statements_by_default(variables):
    """Server-side binding: psycopg prepares a statement the fifth time it runs (with Django's pool too)."""
    options = settings_after_start("DATABASES", DATABASE_URL=PG_URL, **variables)["DATABASES"]["default"]["OPTIONS"]

    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 5


def test_settings_postgres_prepared_statements_can_be_turned_off():
    """The opt-out for a pooler in transaction mode that does not track prepared statements."""
    database = settings_after_start("DATABASES", DATABASE_URL=PG_URL, DATABASE_PREPARED_STATEMENTS="false")[
        "DATABASES"]["default"]

    assert "server_side_binding" not in database.get("OPTIONS", {})
    assert "prepare_threshold" not in database.get("OPTIONS", {})


def test_settings_sqlite_has_no_prepared_statement_options():
    options = settings_after_start("DATABASES", DATABASE_PREPARED_STATEMENTS="true")["DATABASES"]["default"]["OPTIONS"]

    assert "server_side_binding" not in options
