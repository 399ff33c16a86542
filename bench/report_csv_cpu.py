#!/usr/bin/env python
"""CPU, queries and size of the class report's CSV export (every chapter, or one subject), per request.

    .venv/bin/python bench/report_csv_cpu.py --database-url sqlite:////tmp/d2000.sqlite3
    .venv/bin/python bench/report_csv_cpu.py --database-url postgres://postgres@127.0.0.1:5432/mars_cache_bench

Signs in the teachers of the first classrooms, warms up, then downloads the
streamed CSV ``--requests`` times through Django's test client (whole
middleware stack, the body read to the end) and prints CPU ms
(``time.process_time``) and queries per download, for all chapters and for
the first subject (``?subject=``). The page itself: bench/read_cpu.py --page matrix.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.read_cpu import _plain_static_files  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=f"sqlite:///{_common.ROOT / 'bench' / 'data' / 'district.sqlite3'}")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)
    env = _common.django_env(args.database_url, CACHE_URL="locmemcache://", ALLOWED_HOSTS="127.0.0.1,testserver")
    _common.setup_django(env)
    _plain_static_files()
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from learners.models import Classroom
    from progress import reports

    classrooms = list(Classroom.objects.prefetch_related("teachers").order_by("pk")[:4])
    clients = []
    for classroom in classrooms:
        client = Client()
        client.force_login(classroom.teachers.all()[0])
        clients.append((client, reverse("reports:matrix-csv", args=[classroom.pk])))
    first = reports.class_subjects(classrooms[0])[0].code
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    for label, query in (("all chapters", ""), (f"subject {first}", f"?subject={first}")):
        queries[0] = 0
        for client, url in clients:  # warm up: curriculum cached
            assert b"".join(client.get(url + query).streaming_content)
        size = 0
        with connection.execute_wrapper(count):
            start = time.process_time()
            for n in range(args.requests):
                client, url = clients[n % len(clients)]
                response = client.get(url + query)
                assert response.status_code == 200
                size += sum(len(chunk) for chunk in response.streaming_content)
            cpu = time.process_time() - start
        print(f"csv {label:14s} {1000 * cpu / args.requests:8.2f} ms CPU/request "
              f"{queries[0] / args.requests:5.1f} queries/request {size / args.requests / 1024:7.1f} KiB", flush=True)


if __name__ == "__main__":
    main()
