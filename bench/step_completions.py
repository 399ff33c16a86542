#!/usr/bin/env python
"""Throughput bench for the browser's "Mark complete" POST (/steps/<uuid>/complete): gunicorn + wrk.

    .venv/bin/python bench/step_completions.py                    # a fresh SQLite file in /tmp
    .venv/bin/python bench/step_completions.py --database-url postgres://postgres@127.0.0.1:5432/mars_labs_bench
    .venv/bin/python bench/step_completions.py --cache-url redis://127.0.0.1:6379/0   # sessions: cached_db

What it does:

1. Creates the database (as bench/api_events.py does) with LEARNERS learners
   of class 12, each signed in (a session row, as the login page would leave
   it) and each having opened the first step of a chapter whose criterion is
   ``manual``.
2. Starts gunicorn (2 sync workers, DEBUG off, the settings' defaults) and
   drives it with wrk: CLIENTS connections for DURATION seconds, each request
   a session-authenticated, CSRF-checked form POST of "Mark complete" for a
   random learner: the first one completes the step, the later ones answer
   "already completed". Each is a full engine write (the lock check, the
   locked row) and a redirect with a message, as a browser sees it.
3. Checks: every response a 302 back to the step (no 403 from CSRF, no 500
   from "database is locked"), one COMPLETED event per learner who posted,
   never two. Prints completions/s and the CPU the workers and PostgreSQL
   spent per request.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_events  # noqa: E402  (database set-up, gunicorn and CPU helpers)

LUA = textwrap.dedent("""
    local sessions = {}
    local threads = {}
    local n_threads = 0

    function setup(thread)
      n_threads = n_threads + 1
      thread:set("thread_no", n_threads)
      table.insert(threads, thread)
    end

    function init(args)
      for key, csrf in string.gmatch(os.getenv("BENCH_SESSIONS"), "(%w+):(%w+)") do
        table.insert(sessions, {key, csrf})
      end
      math.randomseed(os.time() + thread_no * 7919)
      statuses = {}
    end

    function request()
      local s = sessions[math.random(#sessions)]
      return wrk.format("POST", os.getenv("BENCH_PATH"), {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Cookie"] = "sessionid=" .. s[1] .. "; csrftoken=" .. s[2],
      }, "csrfmiddlewaretoken=" .. s[2])
    end

    function response(status, headers, body)
      local key = status
      local location = headers["Location"] or headers["location"] or ""
      if status == 302 and string.find(location, "login", 1, true) then key = "302-login" end
      statuses[key] = (statuses[key] or 0) + 1
    end

    function done(summary, latency, requests)
      local total = {}
      for _, thread in ipairs(threads) do
        for code, n in pairs(thread:get("statuses")) do total[tostring(code)] = (total[tostring(code)] or 0) + n end
      end
      local parts = {}
      for code, n in pairs(total) do table.insert(parts, string.format('"%s": %d', code, n)) end
      io.write(string.format('BENCH_RESULT {"statuses": {%s}, "p50_ms": %.2f, "p99_ms": %.2f}\\n',
        table.concat(parts, ", "), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
    end
""")


def seed_sessions(learners):
    """Learners signed in, each having opened a manual step: ``(sessions, step path)``.

    ``sessions`` is a list of (session key, CSRF secret) pairs.
    """
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command
    from django.middleware.csrf import _get_new_csrf_string

    from curriculum.models import Chapter, LearningStep, Subject
    from learners.models import User, UserProfile
    from mars_labs.session_store import SessionStore
    from progress import engine

    call_command("migrate", verbosity=0, interactive=False)
    subject = Subject.objects.create(code="phy", name="Physics")
    chapter = Chapter.objects.create(subject=subject, grade=12, title="Ohm's Law", description="Bench", order_index=1)
    step = LearningStep.objects.create(chapter=chapter, title="Safety rules", step_type="reading", order_index=1,
                                       required_completion_criteria={"type": "manual"})
    users = User.objects.bulk_create([User(username=f"bench{n}", password="!") for n in range(learners)])
    UserProfile.objects.bulk_create([UserProfile(user=u, grade=12) for u in users], ignore_conflicts=True)
    sessions = []
    for user in User.objects.filter(pk__in=[u.pk for u in users]):
        engine.open_step(learner=user, step=step)
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "learners.backends.ProfileModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions.append((store.session_key, _get_new_csrf_string()))
    return sessions, f"/steps/{step.pk}/complete"


def completion_request(seeded, n):
    """The ``n``-th request of an in-process run (bench/write_cpu.py): (method, path, body, headers, cookies)."""
    sessions, path = seeded
    key, csrf = sessions[n % len(sessions)]
    return ("POST", path, f"csrfmiddlewaretoken={csrf}".encode(),
            {"Content-Type": "application/x-www-form-urlencoded"}, {"sessionid": key, "csrftoken": csrf})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def warm_up(port, sessions, path, count=40):
    """Sequential POSTs until both workers have loaded the app and opened their connection (each must
    answer 302 back to the step). wrk alone could end its warm-up before a busy machine booted them."""
    opener = urllib.request.build_opener(_NoRedirect)
    for key, csrf in (sessions * 2)[:count]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=f"csrfmiddlewaretoken={csrf}".encode(),
            headers={"Cookie": f"sessionid={key}; csrftoken={csrf}",
                     "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            opener.open(request)
        except urllib.error.HTTPError as error:
            if error.code != 302 or "login" in (error.headers.get("Location") or ""):
                sys.exit(f"warm-up POST answered {error.code} {error.headers.get('Location')}")


def count_completions():
    from progress.models import ProgressEvent

    rows = ProgressEvent.objects.filter(kind="completed").values_list("user_id", flat=True)
    users = list(rows)
    return len(users), len(set(users))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="Default: a fresh SQLite file in /tmp. PostgreSQL: the database is dropped and created.")
    parser.add_argument("--duration", type=int, default=20, help="Seconds of load (default 20).")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent connections (default 8).")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2).")
    parser.add_argument("--learners", type=int, default=400, help="Signed-in learners the posts are spread over.")
    parser.add_argument("--cache-url", default=os.environ.get("CACHE_URL"),
                        help="CACHE_URL for the workers. Default: local memory (database sessions); "
                             "redis://127.0.0.1:6379/0 also keeps sessions in the shared cache (cached_db).")
    parser.add_argument("--prepared-statements", action=argparse.BooleanOptionalAction, default=True,
                        help="PostgreSQL: DATABASE_PREPARED_STATEMENTS (default on, as in the settings).")
    args = parser.parse_args()

    api_events.ensure_wrk()
    url = args.database_url or f"sqlite:///{tempfile.gettempdir()}/mars-labs-steps-{os.getpid()}.sqlite3"
    api_events.prepare_database(url)
    env = {
        "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "mars_labs.settings", "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60), "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore:No directory at",
        "DATABASE_PREPARED_STATEMENTS": "true" if args.prepared_statements else "false",
        # The bench's sessions are plain HTTP: a Secure cookie would never be sent back.
        "SESSION_COOKIE_AGE": str(8 * 3600),
    }
    if args.cache_url:
        env["CACHE_URL"] = args.cache_url
    api_events.setup_django(env)
    sessions, path = seed_sessions(args.learners)
    if args.cache_url:
        from django.core.cache import cache

        cache.clear()  # sessions seeded straight into the database; nothing stale in the shared cache
    info = api_events.machine(url)
    from django.db import connections

    connections.close_all()

    port = api_events.free_port()
    command = [str(Path(api_events.PYTHON).parent / "gunicorn"), "mars_labs.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers), "--log-level", "warning"]
    worker_env = {**os.environ, **env}
    if not args.cache_url:
        worker_env.pop("CACHE_URL", None)
    gunicorn = subprocess.Popen(command, cwd=api_events.ROOT, env=worker_env)
    try:
        api_events.wait_for(port, gunicorn)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA)
        wrk_env = {**os.environ, "BENCH_SESSIONS": ",".join(f"{k}:{c}" for k, c in sessions), "BENCH_PATH": path}
        warm_up(port, sessions, path)
        workers, db_backends = api_events.worker_pids(gunicorn.pid), api_events.database_pids(url)
        load_before = os.getloadavg()[0]
        cpu_before, db_cpu_before = api_events.cpu_seconds(workers), api_events.cpu_seconds(db_backends)
        run = subprocess.run(
            ["wrk", "-t", str(min(args.clients, 2)), "-c", str(args.clients), "-d", f"{args.duration}s",
             "--timeout", "30s", "-s", script.name, f"http://127.0.0.1:{port}"],
            env=wrk_env, capture_output=True, text=True, check=True,
        )
        worker_cpu = api_events.cpu_seconds(workers) - cpu_before
        db_cpu = api_events.cpu_seconds(db_backends) - db_cpu_before
        load_after = os.getloadavg()[0]
        os.unlink(script.name)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    print(run.stdout)
    result = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("BENCH_RESULT"))[13:])
    # "302-login": a redirect to the sign-in page (the session was not accepted), not a completion's redirect.
    statuses = {(k if k == "302-login" else int(k)): v for k, v in result["statuses"].items()}
    responses = sum(statuses.values())
    completions, learners_completed = count_completions()
    checks = {
        "every response a 302 back to the step": set(statuses) == {302},
        "one completion per learner, never two": completions == learners_completed > 0,
    }
    summary = {
        **info,
        "database_url": urlparse(url)._replace(netloc=urlparse(url).hostname or "").geturl(),
        "gunicorn": f"{args.workers} sync workers",
        "cache": urlparse(args.cache_url).scheme if args.cache_url else "locmem",
        "prepared_statements": args.prepared_statements,
        "clients": args.clients,
        "duration_s": args.duration,
        "status_counts": statuses,
        "completions_per_s": round(statuses.get(302, 0) / args.duration, 1),
        "worker_cpu_ms_per_request": round(1000 * worker_cpu / max(1, responses), 2),
        "database_cpu_ms_per_request": round(1000 * db_cpu / max(1, responses), 2),
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "latency_p50_ms": result["p50_ms"],
        "latency_p99_ms": result["p99_ms"],
        "learners_completed": learners_completed,
        "checks": checks,
    }
    print(json.dumps(summary, indent=2))
    connections.close_all()
    api_events.drop_database(url)
    if not all(checks.values()):
        sys.exit("FAILED: " + ", ".join(name for name, ok in checks.items() if not ok))


if __name__ == "__main__":
    main()
