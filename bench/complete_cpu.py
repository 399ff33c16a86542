#!/usr/bin/env python
"""CPU and statements per step-completion POST on a district dataset, per kind, in one process.

    .venv/bin/python bench/make_dataset.py --learners 2000 --database-url sqlite:////tmp/d2000.sqlite3
    .venv/bin/python bench/complete_cpu.py --database-url sqlite:////tmp/d2000.sqlite3
    .venv/bin/python bench/complete_cpu.py --database-url postgres://postgres@127.0.0.1:5432/d2000
    .venv/bin/python bench/complete_cpu.py ... --kind quiz --profile 40  # + the top 40 functions (cProfile, CPU time)
    .venv/bin/python bench/complete_cpu.py ... --tree /tmp/before        # another tree's code (git archive)

The POSTs are bench/run.py's "complete" endpoint: each completes a learner's
next step with its own form (simulation report, exercise answer, quiz with the
right answers), as a signed-in browser sends it (session cookie, CSRF token).
They go through ``django.core.handlers.wsgi.WSGIHandler`` (what gunicorn
calls), one learner's chain after another's, never repeated, each to a step
the learner has open (``run.open_steps`` opens it first, untimed, as the
step page's GET would). Per kind it
prints the Python process's CPU (``time.process_time`` around each request),
the PostgreSQL backend's CPU (``/proc``; the server must run on this machine)
and the statements sent. Every response must be a 302 back to the step, and
every POST must leave exactly one COMPLETED event more. The dataset keeps
what the POSTs did (learners move on), so a run uses fresh chains; the
sessions it creates are deleted at the end. It never creates or drops a
database: build one with bench/make_dataset.py (not the lead's district one).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"report": "simulation report", "answer": "exercise answer", "quiz": "quiz"}


def backend_cpu(pid):
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environ_for(path, body, cookie, csrf):
    body = body.encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_COOKIE": cookie,
        "HTTP_X_CSRFTOKEN": csrf,
    }


def call(handler, environ):
    status, headers = [], []

    def start_response(s, h, *args):
        status.append(s)
        headers.extend(h)

    body = b"".join(handler(environ, start_response))
    location = dict(headers).get("Location", "")
    step_url = environ["PATH_INFO"].rsplit("/", 1)[0] + "/"
    if not status[0].startswith("302") or not location.startswith(step_url):
        sys.exit(f"{environ['PATH_INFO']}: {status[0]} {location} {body[:300]!r}")


def posts(count, rng):
    """``[(kind, path, body, cookie, csrf, learner id, step)]``: at least ``count`` of each kind, chains interleaved."""
    from bench import run
    from learners.models import User

    learner_ids = list(
        User.objects.filter(is_staff=False, is_active=True, profile__grade__isnull=False).values_list("pk", flat=True)
    )
    rng.shuffle(learner_ids)
    chains, out = {}, []
    while learner_ids:
        batch, learner_ids = learner_ids[:200], learner_ids[200:]
        chains.update(run.completion_chains(batch))
        lines = [(pk, chain) for pk, cs in chains.items() for chain in cs]
        counts = {kind: sum(post.path.endswith("/" + kind) for _pk, c in lines for post in c) for kind in KINDS}
        if min(counts.values()) >= count:
            break
    sessions = run.make_sessions(User.objects.filter(pk__in=list(chains)))
    depth = 0
    lines = [(pk, chain) for pk, cs in chains.items() for chain in cs]
    rng.shuffle(lines)
    while True:
        row = [(pk, chain[depth]) for pk, chain in lines if depth < len(chain)]
        if not row:
            return out
        out += [(post.path.rsplit("/", 1)[1], post.path, post.body, *sessions[pk], pk, post.step) for pk, post in row]
        depth += 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="A dataset built by bench/make_dataset.py.")
    parser.add_argument(
        "--requests", type=int, default=300, help="At least this many POSTs of each kind measured (after a warm-up)."
    )
    parser.add_argument("--kind", choices=sorted(KINDS), action="append", help="Profile these kinds only.")
    parser.add_argument("--profile", type=int, default=0, help="Print the top N functions by cumulative time.")
    parser.add_argument("--sql", action="store_true", help="Print each statement's count, wall and CPU time per POST.")
    parser.add_argument("--tree", help="Run another checkout's code (e.g. HEAD from git archive) on the same data.")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from bench import _common

    if args.tree:
        sys.path.insert(0, str(Path(args.tree).resolve()))
    env = _common.django_env(args.database_url, CONN_MAX_AGE="3600")
    _common.setup_django(env)
    import progress

    print(f"code: {Path(progress.__file__).resolve().parent.parent}", flush=True)
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from bench import run
    from progress.models import ProgressEvent

    rng = random.Random(args.seed)
    warm = 30
    batch = posts(args.requests + warm * len(KINDS), rng)
    handler = WSGIHandler()
    warm_up, measured = batch[: warm * len(KINDS)], batch[warm * len(KINDS) :]  # in order: chains stay whole
    for _kind, path, body, cookie, csrf, learner_id, step in warm_up:
        run.open_steps([(learner_id, step)])
        call(handler, environ_for(path, body, cookie, csrf))
    pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
    totals = {kind: {"n": 0, "cpu": 0.0, "db": 0.0, "statements": 0} for kind in KINDS}
    current = [None]

    by_sql = {}

    def count(execute, sql, params, many, context):
        if current[0] is None:  # opening the step, before the POST: not measured
            return execute(sql, params, many, context)
        totals[current[0]]["statements"] += 1
        if not args.sql:
            return execute(sql, params, many, context)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return execute(sql, params, many, context)
        finally:
            key = (current[0], " ".join(sql.split())[:100])
            n, spent, spent_cpu = by_sql.get(key, (0, 0.0, 0.0))
            by_sql[key] = (n + 1, spent + time.perf_counter() - start, spent_cpu + time.process_time() - cpu)

    profiler = cProfile.Profile(time.process_time) if args.profile else None
    completed_before = ProgressEvent.objects.filter(kind="completed").count()
    with connection.execute_wrapper(count):
        for kind, path, body, cookie, csrf, learner_id, step in measured:
            if min(t["n"] for t in totals.values()) >= args.requests:
                break
            current[0] = None
            run.open_steps([(learner_id, step)])  # as the step page's GET did before the learner's POST
            current[0] = kind
            environ = environ_for(path, body, cookie, csrf)
            profiling = profiler is not None and (not args.kind or kind in args.kind)
            db, cpu = backend_cpu(pid), time.process_time()
            if profiling:
                profiler.enable()
            call(handler, environ)
            if profiling:
                profiler.disable()
            totals[kind]["cpu"] += time.process_time() - cpu
            totals[kind]["db"] += backend_cpu(pid) - db
            totals[kind]["n"] += 1
    sent = sum(t["n"] for t in totals.values())
    completed = ProgressEvent.objects.filter(kind="completed").count() - completed_before
    if completed != sent:
        sys.exit(f"{sent} POSTs recorded {completed} completions")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("SORT", "cumulative"))
        stats.print_stats(*([os.environ["PROFILE_FILTER"]] if os.environ.get("PROFILE_FILTER") else []), args.profile)
        print(out.getvalue())
    for (kind, sql), (n, spent, spent_cpu) in sorted(by_sql.items(), key=lambda item: (item[0][0], -item[1][2])):
        print(
            f"{kind:7s} {n / totals[kind]['n']:5.2f} x {1000 * spent / n:7.3f} ms wall {1000 * spent_cpu / n:7.3f} CPU"
            f"  {sql}"
        )
    from bench import run
    from learners.models import Session

    Session.objects.filter(session_key__in=run.CREATED_SESSIONS).delete()
    result = {
        "database": connection.vendor,
        "profiled": bool(args.profile),
        "load_average": os.getloadavg()[0],
        **{
            KINDS[kind]: {
                "requests": t["n"],
                "worker_cpu_ms": round(1000 * t["cpu"] / t["n"], 2),
                "database_cpu_ms": round(1000 * t["db"] / t["n"], 2) if pid else None,
                "statements": round(t["statements"] / t["n"], 2),
            }
            for kind, t in totals.items()
            if t["n"]
        },
    }
    print(json.dumps(result, indent=2))
    connection.close()
    return result


if __name__ == "__main__":
    start = time.time()
    main()
    print(f"{time.time() - start:.0f} s", file=sys.stderr)
