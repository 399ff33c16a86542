"""The benchmark's baseline page: the framework's ceiling on this machine (bench/run.py).

Mounted at ``/bench/baseline`` only when the environment variable ``MARS_BENCH_BASELINE=1`` is set
when the URLconf loads (bench/run.py sets it for its gunicorn); never in a normal deployment. It
renders a small template from one query and touches neither the session nor authentication: no
context processors run (the template is rendered without the request), so no session is read and
no cookie is set. Everything else of a real request stays: the whole middleware stack, URL
routing, the ORM, the template engine.
"""

import os

from django.http import Http404, HttpResponse
from django.template.loader import get_template
from django.urls import path
from django.views.decorators.http import require_GET

from curriculum.models import Subject

ENV_VAR = "MARS_BENCH_BASELINE"


def enabled():
    return os.environ.get(ENV_VAR) == "1"


@require_GET
def baseline(request):
    if not enabled():  # the URL is not mounted then; refuse anyway if it ever were
        raise Http404
    subjects = list(Subject.objects.order_by("order", "name").values_list("code", "name")[:20])
    return HttpResponse(get_template("bench/baseline.html").render({"subjects": subjects}))


def urlpatterns():
    """``[path("bench/baseline", ...)]`` when MARS_BENCH_BASELINE=1, else nothing."""
    return [path("bench/baseline", baseline, name="bench-baseline")] if enabled() else []
