#!/usr/bin/env python
"""What the idle-timeout policy costs per signed-in request: session writes and CPU, three ways.

    .venv/bin/python bench/session_cost.py                    # SQLite (a throw-away test database)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mars_sessions .venv/bin/python bench/session_cost.py

Sends N step-page heartbeats (the most frequent signed-in request: step.js
sends them while a learner works) through the Django test client and counts
the writes to ``learners_session`` and the process CPU per request, for:

* ``no refresh``: Django's default (a session is saved only when it changes;
  it expires SESSION_COOKIE_AGE after login however active the learner is);
* ``idle middleware``: learners/sessions.py (saved at most once per
  SESSION_REFRESH_SECONDS: an idle timeout);
* ``SAVE_EVERY_REQUEST``: Django's SESSION_SAVE_EVERY_REQUEST (an idle
  timeout, one write per request).

Counts are exact; CPU times depend on what else the machine runs (compare them
with each other, within one run).
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mars_labs.settings_test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

N = int(os.environ.get("N", "300"))
MIDDLEWARE = "learners.sessions.IdleSessionMiddleware"


def modes():
    from django.conf import settings

    without = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    return {
        "no refresh": {"MIDDLEWARE": without},
        "idle middleware": {},
        "SAVE_EVERY_REQUEST": {"MIDDLEWARE": without, "SESSION_SAVE_EVERY_REQUEST": True},
    }


def run(step, learner, overrides):
    with override_settings(**overrides):
        client = Client()
        client.force_login(learner)
        client.get(step.get_absolute_url())
        url = f"/steps/{step.pk}/heartbeat"
        for _ in range(20):  # warm-up
            assert client.post(url, {"seconds": 1}).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            started = time.process_time()
            for _ in range(N):
                assert client.post(url, {"seconds": 1}).status_code == 200
            cpu = time.process_time() - started
    writes = sum(1 for q in queries if "learners_session" in q["sql"] and not q["sql"].lstrip().startswith("SELECT"))
    return writes, cpu / N * 1000


def main():
    setup_test_environment()
    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    try:
        from tests.factories import StepFactory, UserFactory

        learner = UserFactory(username="bench-learner", grade=12)
        step = StepFactory(required_completion_criteria={"type": "time", "value": 10**6})
        print(f"{N} heartbeats per mode, {connection.vendor}")
        print(f"{'mode':<20} {'session writes':>15} {'CPU ms/request':>15}")
        for name, overrides in modes().items():
            writes, cpu_ms = run(step, learner, overrides)
            print(f"{name:<20} {writes:>15} {cpu_ms:>15.2f}")
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    main()
