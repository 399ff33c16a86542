"""The same event id posted from several threads at once is applied once (real connections, both databases)."""

import json
import threading
import uuid

import pytest
from django.db import connection
from django.test import RequestFactory

from api import views
from api.models import ApiEvent, ApiToken
from progress import engine
from progress.enums import EventKind
from progress.models import LearningProgress, ProgressEvent
from tests.factories import ChapterFactory, StepFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def post_in_parallel(step, plain, bodies):
    """POST each body from its own thread, all released at once; returns (statuses, errors)."""
    barrier = threading.Barrier(len(bodies))
    statuses, errors, lock = [], [], threading.Lock()

    def worker(body):
        try:
            request = RequestFactory().post(f"/api/v1/steps/{step.pk}/events", json.dumps(body),
                                            content_type="application/json",
                                            headers={"Authorization": f"Bearer {plain}"})
            barrier.wait(timeout=10)
            response = views.step_events(request, step_id=str(step.pk))
            with lock:
                statuses.append(response.status_code)
        except Exception as exc:  # collected and asserted on
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses, errors


@pytest.fixture
def simulation():
    learner = UserFactory(grade=12)
    chapter = ChapterFactory(grade=12)
    step = StepFactory(chapter=chapter, order_index=1, step_type="interactive",
                       required_completion_criteria={"type": "external"})
    _token, plain = ApiToken.issue(name="lab", scope="lab")
    return learner, step, plain


def test_one_event_id_from_eight_threads_is_applied_once(simulation):
    learner, step, plain = simulation
    body = {"id": str(uuid.uuid4()), "verb": "failed", "score": 40, "learner": learner.pk}

    statuses, errors = post_in_parallel(step, plain, [body] * THREADS)

    assert errors == []
    assert sorted(statuses) == [200] * (THREADS - 1) + [201]
    assert ApiEvent.objects.count() == 1
    assert ProgressEvent.objects.filter(kind=EventKind.ANSWERED).count() == 1
    assert len(LearningProgress.objects.get(user=learner, step=step).progress_data["external_reports"]) == 1


def test_eight_different_events_at_once_are_all_applied(simulation):
    learner, step, plain = simulation
    engine.open_step(learner=learner, step=step)
    bodies = [{"id": str(uuid.uuid4()), "verb": "answered", "score": n * 10, "learner": learner.pk}
              for n in range(THREADS)]

    statuses, errors = post_in_parallel(step, plain, bodies)

    assert errors == []
    assert statuses == [201] * THREADS
    assert ApiEvent.objects.count() == THREADS
    row = LearningProgress.objects.get(user=learner, step=step)
    assert len(row.progress_data["external_reports"]) == THREADS
    assert row.progress_data["best_score"] == (THREADS - 1) * 10
