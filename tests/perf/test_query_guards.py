"""Two-size query guards for the pages that had none (the others: see the inventory in docs/performance.md).

Each page is measured with little and with much data behind it; the count must stay within the budget and
must not grow with the data.
"""

import pytest
from django.test import Client
from django.urls import reverse

from progress import engine
from tests.admin import make_classroom, make_teacher
from tests.factories import SubjectFactory, UserFactory, make_chapter

pytestmark = pytest.mark.django_db


def counted(client, url, django_assert_max_num_queries, budget):
    client.get(url)  # warm: the curriculum is cached, a first visit's one-off work is done
    with django_assert_max_num_queries(budget) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


@pytest.mark.parametrize("page", ["profile", "healthz"])
def test_learner_pages_do_not_grow_with_progress(learner, learner_client, django_assert_max_num_queries, page):
    url = reverse("learners:profile" if page == "profile" else page)
    counts = []
    for chapters in (1, 8):
        subject = SubjectFactory()
        for _ in range(chapters):
            chapter = make_chapter(steps=4, subject=subject)
            engine.open_step(learner=learner, step=chapter.steps.order_by("order_index").first())
        counts.append(counted(learner_client, url, django_assert_max_num_queries, 8))
    assert counts[0] == counts[1]


def test_staff_home_and_reports_index_do_not_grow_with_classes(django_assert_max_num_queries):
    teacher = make_teacher(username="tara")
    client = Client()
    client.force_login(teacher)
    counts = {"home": [], "reports": []}
    for classes in (1, 6):
        for _ in range(classes):
            make_classroom(teachers=[teacher], learners=[UserFactory() for _ in range(3)])
        counts["home"].append(counted(client, reverse("progress:home"), django_assert_max_num_queries, 6))
        counts["reports"].append(counted(client, reverse("reports:index"), django_assert_max_num_queries, 8))
    assert counts["home"][0] == counts["home"][1]
    assert counts["reports"][0] == counts["reports"][1]
