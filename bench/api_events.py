#!/usr/bin/env python
"""Throughput bench for POST /api/v1/steps/<uuid>/events: gunicorn + wrk, then count the rows.

    .venv/bin/python bench/api_events.py                      # a fresh SQLite file in /tmp
    .venv/bin/python bench/api_events.py --database-url postgres://postgres@127.0.0.1:5432/mars_labs_bench

What it does:

1. Creates the database (SQLite: a new file in /tmp; PostgreSQL: drops and
   creates the named database) and migrates it.
2. Creates a lab token, LEARNERS learners of class 12 and a chapter whose
   first step has an external criterion (so no event is refused as locked).
3. Starts gunicorn (2 sync workers, 127.0.0.1, a free port, DEBUG off,
   rate limit out of the way, the settings' defaults otherwise: persistent
   connections, a local-memory cache unless --cache-url) and drives it with
   wrk: CLIENTS connections for DURATION seconds. Every request is a new event
   ("answered", a score) for a random learner, except every 10th, which
   re-sends the previous event id (it must answer 200 and change nothing).
4. Stops gunicorn and checks the database: one ApiEvent per 201, one engine
   ANSWERED event per ApiEvent, no other status codes. Prints events/s.

Needs wrk (apt-get install -y wrk); the script installs it when apt-get is there.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench._common import (  # noqa: E402
    PYTHON,
    ROOT,
    cpu_seconds,
    database_pids,
    drop_database,
    ensure_wrk,
    free_port,
    prepare_database,
    setup_django,
    wait_for,
    worker_pids,
)

LUA = textwrap.dedent("""
    -- One thread per wrk thread; ids are unique per (thread, counter), every 10th request repeats the last id.
    local counter, last_id = 0, nil
    local learners = {}
    local threads = {}
    local n_threads = 0

    function setup(thread)
      n_threads = n_threads + 1
      thread:set("thread_no", n_threads)
      table.insert(threads, thread)
    end

    function init(args)
      for id in string.gmatch(os.getenv("BENCH_LEARNERS"), "%d+") do table.insert(learners, id) end
      math.randomseed(os.time() + thread_no * 7919)
      statuses = {}
      replays = 0
    end

    function request()
      counter = counter + 1
      local id
      if counter % 10 == 0 and last_id then
        id = last_id
        replays = replays + 1
      else
        id = string.format("%08x-0000-4000-8000-%012x", thread_no, counter)
        last_body_learner = learners[math.random(#learners)]
        last_score = math.random(0, 100)
      end
      last_id = id
      local body = string.format('{"id":"%s","verb":"answered","score":%d,"learner":%s,"duration":"PT%dS"}',
                                 id, last_score, last_body_learner, last_score)
      return wrk.format("POST", os.getenv("BENCH_PATH"), {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
      }, body)
    end

    function response(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
    end

    function done(summary, latency, requests)
      local total = {}
      local sent_replays = 0
      for _, thread in ipairs(threads) do
        local s = thread:get("statuses")
        for code, n in pairs(s) do total[tostring(code)] = (total[tostring(code)] or 0) + n end
        sent_replays = sent_replays + thread:get("replays")
      end
      local parts = {}
      for code, n in pairs(total) do table.insert(parts, string.format('"%s": %d', code, n)) end
      io.write(string.format('BENCH_RESULT {"statuses": {%s}, "replays_sent": %d, "p50_ms": %.2f, "p99_ms": %.2f}\\n',
        table.concat(parts, ", "), sent_replays, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
    end
""")












def seed(learners):
    """The token, the learners and an open external step; returns (plain token, learner ids, step id)."""
    from django.core.management import call_command

    from api.models import ApiToken
    from curriculum.models import Chapter, LearningStep, Subject
    from learners.models import User, UserProfile

    call_command("migrate", verbosity=0, interactive=False)
    subject = Subject.objects.create(code="phy", name="Physics")
    chapter = Chapter.objects.create(subject=subject, grade=12, title="Ohm's Law", description="Bench", order_index=1)
    step = LearningStep.objects.create(chapter=chapter, title="Simulation", step_type="interactive", order_index=1,
                                       required_completion_criteria={"type": "external"})
    users = User.objects.bulk_create([User(username=f"bench{n}", password="!") for n in range(learners)])
    UserProfile.objects.bulk_create([UserProfile(user=u, grade=12) for u in users], ignore_conflicts=True)
    _token, plain = ApiToken.issue(name="bench", scope="lab")
    return plain, [u.pk for u in users], str(step.pk)


def count_rows():
    from api.models import ApiEvent
    from progress.models import ProgressEvent

    return {
        "api_events": ApiEvent.objects.count(),
        "engine_answered": ProgressEvent.objects.filter(kind="answered", data__external=True).count(),
        "engine_started": ProgressEvent.objects.filter(kind="started").count(),
    }


def machine(url):
    info = _common.machine()
    return {key: info[key] for key in ("nproc", "cpu", "memory_gb", "python", "django", "database")}


def warm_up(port, token, learner_ids, step_id, count=40):
    """A few sequential events so every worker has loaded the app and opened its connection; returns 201s."""
    import urllib.request
    import uuid

    created = 0
    for n in range(count):
        body = json.dumps({"id": str(uuid.uuid4()), "verb": "answered", "score": 50,
                           "learner": learner_ids[n % len(learner_ids)]}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/steps/{step_id}/events", data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request) as response:
            created += response.status == 201
    return created






def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="Default: a fresh SQLite file in /tmp. PostgreSQL: the database is dropped and created.")
    parser.add_argument("--duration", type=int, default=20, help="Seconds of load (default 20).")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent connections (default 8).")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2).")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync).")
    parser.add_argument("--threads", type=int, default=1, help="Threads per worker (gthread; default 1).")
    parser.add_argument("--learners", type=int, default=400, help="Learners the events are spread over.")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--conn-max-age", type=int, default=None,
                        help="Experiment: override CONN_MAX_AGE in the workers (the settings' default is 60; "
                             "0 opens a connection per request).")
    parser.add_argument("--cache-url", default=os.environ.get("CACHE_URL"),
                        help="CACHE_URL for the workers (rate-limit counts, token touches). Default: local memory; "
                             "redis://127.0.0.1:6379/0 shares them between the workers, as production should.")
    parser.add_argument("--prepared-statements", action=argparse.BooleanOptionalAction, default=True,
                        help="PostgreSQL: DATABASE_PREPARED_STATEMENTS=true (server-side binding, psycopg prepares "
                             "repeated statements).")
    args = parser.parse_args()

    ensure_wrk()
    url = args.database_url or f"sqlite:///{tempfile.gettempdir()}/mars-labs-bench-{os.getpid()}.sqlite3"
    prepare_database(url)
    env = _common.django_env(
        url, DATABASE_PREPARED_STATEMENTS="true" if args.prepared_statements else "false"
    )
    if args.cache_url:
        env["CACHE_URL"] = args.cache_url
    setup_django(env)
    token, learner_ids, step_id = seed(args.learners)
    info = machine(url)
    from django.db import connections

    connections.close_all()

    port = free_port()
    command = [str(Path(PYTHON).parent / "gunicorn"), "mars_labs.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers), "--worker-class", args.worker_class, "--threads", str(args.threads),
               "--log-level", "warning"]
    if args.conn_max_age is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as conf:
            conf.write("def post_fork(server, worker):\n"
                       "    from django.conf import settings\n"
                       f"    settings.DATABASES['default']['CONN_MAX_AGE'] = {args.conn_max_age}\n")
        command += ["--config", conf.name]
    worker_env = {**os.environ, **env}
    if not args.cache_url:
        worker_env.pop("CACHE_URL", None)
    gunicorn = subprocess.Popen(command, cwd=ROOT, env=worker_env)
    try:
        wait_for(port, gunicorn)
        warm_created = warm_up(port, token, learner_ids, step_id)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA)
        wrk_env = {**os.environ, "BENCH_TOKEN": token, "BENCH_LEARNERS": ",".join(map(str, learner_ids)),
                   "BENCH_PATH": f"/api/v1/steps/{step_id}/events"}
        workers, db_backends = worker_pids(gunicorn.pid), database_pids(url)
        load_before = os.getloadavg()[0]
        cpu_before, db_cpu_before = cpu_seconds(workers), cpu_seconds(db_backends)
        started = time.time()
        run = subprocess.run(
            ["wrk", "-t", str(min(args.clients, 2)), "-c", str(args.clients), "-d", f"{args.duration}s",
             "--timeout", "30s", "-s", script.name, f"http://127.0.0.1:{port}"],
            env=wrk_env, capture_output=True, text=True, check=True,
        )
        elapsed = time.time() - started
        worker_cpu = cpu_seconds(workers) - cpu_before
        db_cpu = cpu_seconds(db_backends) - db_cpu_before
        load_after = os.getloadavg()[0]
        os.unlink(script.name)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    print(run.stdout)
    result = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("BENCH_RESULT"))[13:])
    statuses = {int(k): v for k, v in result["statuses"].items()}
    rows = count_rows()
    created, replayed = statuses.get(201, 0), statuses.get(200, 0)
    rows["api_events"] -= warm_created  # count only the measured run
    rows["engine_answered"] -= warm_created
    others = {code: n for code, n in statuses.items() if code not in (200, 201)}
    duration = args.duration
    checks = {
        # wrk stops counting at the deadline while up to `clients` requests are still in flight.
        "one ApiEvent per 201": created <= rows["api_events"] <= created + args.clients,
        "one engine event per ApiEvent": rows["engine_answered"] == rows["api_events"],
        "no status other than 200/201": not others,
        "every repeat answered 200": replayed <= result["replays_sent"] and replayed > 0,
    }
    summary = {
        **info,
        "database_url": urlparse(url)._replace(netloc=urlparse(url).hostname or "").geturl(),
        "gunicorn": f"{args.workers} {args.worker_class} workers"
                    + (f" x {args.threads} threads" if args.threads > 1 else "")
                    + ("" if args.conn_max_age is None else f", CONN_MAX_AGE={args.conn_max_age}"),
        "cache": urlparse(args.cache_url).scheme if args.cache_url else "locmem",
        "prepared_statements": args.prepared_statements,
        "clients": args.clients,
        "duration_s": duration,
        "responses": sum(statuses.values()),
        "status_counts": statuses,
        "events_per_s": round((created + replayed) / duration, 1),
        "new_events_per_s": round(created / duration, 1),
        # Load-independent cost: CPU the gunicorn workers spent per response (the database's own CPU not included).
        "worker_cpu_ms_per_event": round(1000 * worker_cpu / max(1, sum(statuses.values())), 2),
        "database_cpu_ms_per_event": round(1000 * db_cpu / max(1, sum(statuses.values())), 2),
        # Other work on the machine competes for the same cores: note it next to the numbers.
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "latency_p50_ms": result["p50_ms"],
        "latency_p99_ms": result["p99_ms"],
        "rows": rows,
        "checks": checks,
        "wall_s": round(elapsed, 1),
    }
    print(json.dumps(summary, indent=2))
    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_database(url)
    if not all(checks.values()):
        sys.exit("FAILED: " + ", ".join(name for name, ok in checks.items() if not ok))


if __name__ == "__main__":
    main()
