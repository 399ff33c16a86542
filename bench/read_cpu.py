#!/usr/bin/env python
"""CPU and queries per read request (dashboard, class report, drill-down), with and without the curriculum cache.

    .venv/bin/python bench/make_dataset.py --learners 2000 --database-url sqlite:////tmp/d2000.sqlite3
    .venv/bin/python bench/read_cpu.py --database-url sqlite:////tmp/d2000.sqlite3
    .venv/bin/python bench/read_cpu.py --database-url sqlite:////tmp/d2000.sqlite3 --page matrix --profile 25
    .venv/bin/python bench/read_cpu.py ... --cache-url redis://127.0.0.1:6379/0

Wall-clock throughput depends on what else the machine runs; the CPU time a
request costs this Python process (``time.process_time``) much less. For each
page it signs in a few learners (or their teachers), warms up, then sends
``--requests`` GETs through Django's test client (the whole middleware stack,
templates included) and prints CPU ms and queries per request, for "before"
(the code as committed in git HEAD for the dashboard and class report: the
curriculum read from the database on every request) and "after" (the
curriculum from curriculum/cache.py). Every response is checked for 200.
"""

import argparse
import cProfile
import importlib.util
import io
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402

PAGES = ("dashboard", "matrix", "learner", "subject")


def _head_module(name, path):
    """The module at ``path`` as committed in git HEAD (the code before the curriculum cache)."""
    source = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=_common.ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "progress"
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"HEAD:{path}", "exec"), module.__dict__)  # noqa: S102 - our own committed source
    return module


def use_head_code():
    """Serve the dashboard and the class report with HEAD's build_dashboard and class_chapters."""
    from progress import reports
    from progress.views import dashboard as dashboard_view

    old_dashboard = _head_module("progress.dashboard_head", "progress/dashboard.py")
    dashboard_view.build_dashboard = old_dashboard.build_dashboard
    old_reports = _head_module("progress.reports_head", "progress/reports.py")
    reports.class_chapters = old_reports.class_chapters
    reports.learner_report = old_reports.learner_report


def targets(page, count):
    from django.urls import reverse

    from learners.models import Classroom

    classrooms = list(Classroom.objects.prefetch_related("teachers", "learners").order_by("pk")[:count])
    if page in ("dashboard", "subject"):
        from curriculum.models import Subject

        subject = Subject.objects.order_by("order").first()
        url = "/" if page == "dashboard" else reverse("progress:subject", args=[subject.code])
        return [(c.learners.all()[0], url) for c in classrooms]
    if page == "matrix":
        return [(c.teachers.all()[0], reverse("reports:matrix", args=[c.pk])) for c in classrooms]
    return [(c.teachers.all()[0], reverse("reports:learner", args=[c.learners.all()[0].pk])) for c in classrooms]


def measure(page, *, requests, profile_top=0):
    from django.db import connection
    from django.test import Client

    clients = []
    for user, url in targets(page, 8):
        client = Client()
        client.force_login(user)
        clients.append((client, url))
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    for client, url in clients:  # warm up: paths built, curriculum cached
        for _ in range(2):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
    profiler = cProfile.Profile() if profile_top else None
    with connection.execute_wrapper(count):
        start = time.process_time()
        if profiler:
            profiler.enable()
        for n in range(requests):
            client, url = clients[n % len(clients)]
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        if profiler:
            profiler.disable()
        cpu = time.process_time() - start
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile_top)
        print(out.getvalue())
    return 1000 * cpu / requests, queries[0] / requests


def _plain_static_files():
    """Static URLs without collectstatic's manifest (DEBUG is off, as in production, but nothing was collected)."""
    from django.conf import settings
    from django.contrib.staticfiles import storage as static_storage
    from django.core.files.storage import storages
    from django.utils.functional import empty

    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    storages._storages = {}
    storages.backends  # noqa: B018 - re-read from the settings above
    static_storage.staticfiles_storage._wrapped = empty


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=f"sqlite:///{_common.ROOT / 'bench' / 'data' / 'district.sqlite3'}")
    parser.add_argument("--cache-url", default="locmemcache://")
    parser.add_argument("--page", choices=PAGES + ("all",), default="all")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--mode", choices=("before", "after", "both"), default="both",
                        help="before: HEAD's dashboard/report code, no curriculum cache; after: the working tree.")
    parser.add_argument("--profile", type=int, default=0, help="Print the top N functions by cumulative time.")
    args = parser.parse_args(argv)
    env = _common.django_env(args.database_url, CACHE_URL=args.cache_url, ALLOWED_HOSTS="127.0.0.1,testserver")
    _common.setup_django(env)
    _plain_static_files()
    pages = PAGES if args.page == "all" else (args.page,)
    modes = ("after", "before") if args.mode == "both" else (args.mode,)
    results = {}
    for mode in modes:
        if mode == "before":
            use_head_code()
        for page in pages:
            cpu, queries = measure(page, requests=args.requests, profile_top=args.profile)
            results[(page, mode)] = (cpu, queries)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{page:10s} {mode:6s} {cpu:8.2f} ms CPU/request {queries:6.1f} queries/request "
                  f"(process max RSS so far {rss:.0f} MB)", flush=True)
    return results


if __name__ == "__main__":
    main()
