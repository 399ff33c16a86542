#!/usr/bin/env python
"""CPU per write request, in one process: the Django WSGI handler called directly, no HTTP server.

    .venv/bin/python bench/write_cpu.py                                  # SQLite, API events
    .venv/bin/python bench/write_cpu.py --database-url postgres://postgres@127.0.0.1:5432/mars_labs_cpu
    .venv/bin/python bench/write_cpu.py --kind complete                  # browser "Mark complete" POSTs
    .venv/bin/python bench/write_cpu.py --profile 30                     # + the top 30 functions (cProfile)

Wall-clock benches (bench/api_events.py, bench/step_completions.py) depend on
what else the machine runs; CPU time per request does much less. This seeds
the same data as the wall-clock benches, warms up, then sends N requests
through ``django.core.handlers.wsgi.WSGIHandler`` (what gunicorn calls) and
reports the Python process's CPU per request and, on PostgreSQL, the CPU
its server backend spent (from /proc/<backend pid>/stat; the database must
be on this machine). Each request is checked (201 / 302) so a faster run
is never a broken one.
"""

import argparse
import io
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_events  # noqa: E402  (the wall-clock bench: database set-up and seeding)


def backend_cpu(pid):
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environ_for(method, path, body=b"", headers=None, cookies=None):
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE",) else f"HTTP_{key}"] = value
    if cookies:
        environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return environ


def call(handler, environ, expect):
    status = []
    body = b"".join(handler(environ, lambda s, h, *a: status.append(s)))
    code = int(status[0].split()[0])
    if code not in expect:
        sys.exit(f"unexpected {status[0]}: {body[:300]!r}")
    return code


def api_requests(learners, n):
    """``n`` event requests for the API bench's token and step; every 10th repeats the previous id."""
    import uuid

    token, learner_ids, step_id = learners
    path = f"/api/v1/steps/{step_id}/events"
    previous = None
    for i in range(n):
        if i % 10 == 9 and previous:
            body = previous
        else:
            score = i % 101
            body = json.dumps({"id": str(uuid.uuid4()), "verb": "answered", "score": score,
                               "learner": learner_ids[i % len(learner_ids)], "duration": f"PT{score}S"}).encode()
            previous = body
        yield environ_for("POST", path, body, {"Content-Type": "application/json",
                                               "Authorization": f"Bearer {token}"}), (200, 201)


def complete_requests(sessions, n):
    from step_completions import completion_request

    for i in range(n):
        method, path, body, headers, cookies = completion_request(sessions, i)
        yield environ_for(method, path, body, headers, cookies), (302,)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="Default: a fresh SQLite file in /tmp.")
    parser.add_argument("--kind", choices=["api", "complete"], default="api")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, help="Print the top N functions by cumulative time.")
    parser.add_argument("--prepared-statements", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{tempfile.gettempdir()}/mars-labs-cpu-{os.getpid()}.sqlite3"
    api_events.prepare_database(url)
    env = {
        "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "mars_labs.settings", "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60), "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
        "API_RATE_LIMIT": "100000000/minute", "LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore:No directory at",
        "DATABASE_PREPARED_STATEMENTS": "true" if args.prepared_statements else "false",
        "CONN_MAX_AGE": "3600",  # one connection (one PostgreSQL backend to measure) for the whole run
    }
    api_events.setup_django(env)
    if args.kind == "api":
        seeded = api_events.seed(400)
        requests = api_requests
    else:
        from step_completions import seed_sessions

        seeded = seed_sessions(400)
        requests = complete_requests
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    handler = WSGIHandler()
    for environ, expect in requests(seeded, 50):  # warm-up: imports, connection, prepared statements
        call(handler, environ, expect)
    pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
    batch = list(requests(seeded, args.requests))
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    db_before, cpu_before, wall_before = backend_cpu(pid), time.process_time(), time.perf_counter()
    for environ, expect in batch:
        call(handler, environ, expect)
    cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
    db = backend_cpu(pid) - db_before
    if profiler:
        profiler.disable()
        import pstats

        restrictions = [os.environ["PROFILE_FILTER"]] if os.environ.get("PROFILE_FILTER") else []
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(*restrictions, args.profile)
    print(json.dumps({
        "kind": args.kind, "database": connection.vendor, "requests": args.requests,
        "prepared_statements": args.prepared_statements, "profiled": bool(args.profile),
        "worker_cpu_ms_per_request": round(1000 * cpu / args.requests, 3),
        "database_cpu_ms_per_request": round(1000 * db / args.requests, 3) if pid else None,
        "wall_ms_per_request": round(1000 * wall / args.requests, 3),
    }, indent=2))
    connection.close()
    api_events.drop_database(url)


if __name__ == "__main__":
    main()
