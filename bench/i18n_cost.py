"""CPU cost of the Hindi interface: the same pages for the same learner, in English and in Hindi.

    .venv/bin/python bench/i18n_cost.py [--requests 40]

Builds a throw-away test database (SQLite unless DATABASE_URL says otherwise),
loads the demo school, and for Asha in each language times the dashboard, her
path and a chapter page with time.process_time() (CPU, not wall clock, so other
load on the machine barely matters) and counts their queries.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mars_labs.settings_test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page and language")
    args = parser.parse_args()

    setup_test_environment(debug=False)
    runner = DiscoverRunner(verbosity=0)
    old = runner.setup_databases()
    try:
        call_command("seed_demo", verbosity=0)
        from django.contrib.auth import get_user_model

        from curriculum.models import Chapter

        asha = get_user_model().objects.get(username="asha")
        pages = {"dashboard": "/", "path": "/path/",
                 "chapter": Chapter.objects.get(title="Focal Length of a Convex Lens").get_absolute_url()}
        print(f"{'page':<10} {'lang':<4} {'queries':>7} {'CPU ms/request (median)':>24}")
        for name, url in pages.items():
            for language in ("en", "hi"):
                asha.profile.preferred_language = language
                asha.profile.save(update_fields=["preferred_language"])
                client = Client()
                client.force_login(asha)
                for _ in range(5):  # warm-up: templates, catalogues, the learner's path
                    client.get(url)
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url)
                query_count = len(queries)  # now: the next request's start clears the log
                assert response.status_code == 200 and f'<html lang="{language}">' in response.content.decode()
                samples = []
                for _ in range(args.requests):
                    start = time.process_time()
                    client.get(url)
                    samples.append((time.process_time() - start) * 1000)
                print(f"{name:<10} {language:<4} {query_count:>7} {statistics.median(samples):>24.2f}")
    finally:
        runner.teardown_databases(old)


if __name__ == "__main__":
    main()
