"""The class report's cache (progress/views/reports.py ``_matrix_html``, progress/reports.py ``matrix_cache_key``
and ``done_by_chapter``): a visit after any change the matrix shows renders it afresh; a visit after none serves
the stored page; a teacher is never served a class they may not see. The stored page is what a fresh render draws
(tests/progress/test_reports*.py hold the numbers themselves)."""

import re
import socket
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curriculum import cache as curriculum_cache
from learners.models import UserProfile
from progress import engine, versions
from progress.enums import Status
from progress.models import LearningProgress
from tests.admin import make_classroom, make_superuser, make_teacher
from tests.factories import (
    ChapterFactory,
    ProgressFactory,
    QuizStepFactory,
    StepFactory,
    SubjectFactory,
    UserFactory,
    make_chapter,
)
from tests.progress.test_reports import build_class

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher():
    return make_teacher(username="tara")


@pytest.fixture
def school(teacher):
    """Class 12 B (Tara): Asha and Ravi. Physics: Ohm's Law (Theory, Simulation, Quiz), Lenses (2 steps);
    Chemistry: Salts (2 steps)."""
    physics = SubjectFactory(code="phy", name="Physics", order=1)
    chemistry = SubjectFactory(code="chem", name="Chemistry", order=2)
    ohm = ChapterFactory(subject=physics, grade=12, title="Ohm's Law", slug="ohms-law", order_index=1)
    StepFactory(chapter=ohm, order_index=1, title="Theory")
    StepFactory(
        chapter=ohm,
        order_index=2,
        title="Simulation",
        step_type="interactive",
        required_completion_criteria={"type": "external"},
    )
    QuizStepFactory(chapter=ohm, order_index=3, title="Quiz")
    make_chapter(steps=2, subject=physics, grade=12, title="Lenses", slug="lenses", order_index=2)
    make_chapter(steps=2, subject=chemistry, grade=12, title="Salts", slug="salts", order_index=1)
    asha = UserFactory(username="asha", first_name="Asha", last_name="Rao", grade=12)
    ravi = UserFactory(username="ravi", first_name="Ravi", last_name="Sen", grade=12)
    classroom = make_classroom(teachers=[teacher], learners=[asha, ravi], name="12 B", grade=12)
    return {"classroom": classroom, "asha": asha, "ravi": ravi, "ohm": ohm}


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


def url(classroom, query=""):
    return reverse("reports:matrix", args=[classroom.pk]) + query


def visit(client, classroom, query=""):
    """``(html of <main>, rendered now?)``: the matrix's context is there only when it was rendered."""
    response = client.get(url(classroom, query))
    assert response.status_code == 200
    main = re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)
    return main, "matrix" in response.context


def cell(html, username, slug):
    """The title of one learner's cell, e.g. "1 of 3 steps"."""
    row = re.search(rf'<tr data-learner="{username}">(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'data-chapter="{slug}" data-pct="[^"]*" title="([^"]+)"', row).group(1)


def learners_shown(html):
    return re.findall(r'<tr data-learner="([^"]+)">', html)


def step(chapter, title):
    return chapter.steps.get(title=title)


# ---------------------------------------------------------------- served from the cache


def test_a_second_visit_is_served_from_the_cache(teacher_client, school, settings):
    first, rendered = visit(teacher_client, school["classroom"])
    assert rendered and learners_shown(first) == ["asha", "ravi"]
    second, rendered = visit(teacher_client, school["classroom"])
    assert not rendered
    assert second == first
    settings.PROGRESS_CACHE_SECONDS = 0  # what a fresh render draws
    fresh, rendered = visit(teacher_client, school["classroom"])
    assert rendered and fresh == first


def test_the_cache_can_be_turned_off(teacher_client, school, settings):
    settings.PROGRESS_CACHE_SECONDS = 0
    assert visit(teacher_client, school["classroom"])[1]
    assert visit(teacher_client, school["classroom"])[1]


def test_each_subject_sort_and_column_order_has_its_own_page(teacher_client, school):
    classroom = school["classroom"]
    by_name, _rendered = visit(teacher_client, classroom)
    reverse_names, rendered = visit(teacher_client, classroom, "?sort=-learner")
    assert rendered and learners_shown(reverse_names) == ["ravi", "asha"]
    chemistry, rendered = visit(teacher_client, classroom, "?subject=chem")
    assert rendered and 'data-chapter="salts"' in chemistry and 'data-chapter="salts"' not in by_name
    assert visit(teacher_client, classroom, "?columns=hardest")[1]
    # Parameters the page does not know fall back to the defaults: the same page, served from the cache.
    again, rendered = visit(teacher_client, classroom, "?sort=nonsense&columns=nonsense&subject=")
    assert not rendered and again == by_name
    assert not visit(teacher_client, classroom, "?subject=phy")[1]
    assert not visit(teacher_client, classroom, "?sort=-nonsense")[1]  # "-learner", stored above


def test_an_unknown_subject_is_still_a_404_that_lists_the_subjects(teacher_client, school):
    visit(teacher_client, school["classroom"])
    response = teacher_client.get(url(school["classroom"], "?subject=bio"))
    assert response.status_code == 404
    assert "This class has no subject" in response.content.decode() and "?subject=chem" in response.content.decode()


# ---------------------------------------------------------------- what makes it render again


def test_an_engine_write_of_one_learner_shows_at_once(teacher_client, school):
    classroom, asha, ohm = school["classroom"], school["asha"], school["ohm"]
    visit(teacher_client, classroom)
    before, rendered = visit(teacher_client, classroom)
    assert not rendered and cell(before, "asha", "ohms-law") == "0 of 3 steps"

    engine.open_step(learner=asha, step=step(ohm, "Theory"))  # opened: done (a "view" step)
    after, rendered = visit(teacher_client, classroom)
    assert rendered and cell(after, "asha", "ohms-law") == "1 of 3 steps"
    assert cell(after, "ravi", "ohms-law") == "0 of 3 steps"

    engine.report_external(learner=asha, step=step(ohm, "Simulation"))  # a simulation, through the API
    after, rendered = visit(teacher_client, classroom)
    assert rendered and cell(after, "asha", "ohms-law") == "2 of 3 steps"
    assert not visit(teacher_client, classroom)[1]


def test_a_teachers_action_shows_at_once(teacher_client, school):
    classroom, ravi, ohm = school["classroom"], school["ravi"], school["ohm"]
    visit(teacher_client, classroom)
    response = teacher_client.post(
        reverse("reports:step-action"),
        {
            "learner": ravi.pk,
            "step": step(ohm, "Theory").pk,
            "action": "excuse",
            "reason": "Medical note",
            "next": url(classroom),
        },
    )
    assert response.status_code == 302
    html, rendered = visit(teacher_client, classroom)
    assert rendered and cell(html, "ravi", "ohms-law") == "1 of 3 steps"


def test_an_import_shows_at_once(teacher_client, school):
    classroom, ravi = school["classroom"], school["ravi"]
    visit(teacher_client, classroom)
    document = ProgressFactory(
        user=ravi,
        progress_data={
            "class": 12,
            "subject_progress": {"phy": {"completed_experiments": ["ohms law"], "completed_quizzes": []}},
        },
    )
    reports = engine.apply_marslabs_documents(documents=[document])  # the bulk path import_marslabs takes
    assert reports[0].completed == 1
    html, rendered = visit(teacher_client, classroom)
    assert rendered and cell(html, "ravi", "ohms-law") == "1 of 3 steps"


def test_a_learner_joining_or_leaving_shows_at_once(teacher_client, school):
    classroom = school["classroom"]
    visit(teacher_client, classroom)
    meera = UserFactory(username="meera", first_name="Meera", last_name="Iyer", grade=12)
    classroom.learners.add(meera)
    html, rendered = visit(teacher_client, classroom)
    assert rendered and learners_shown(html) == ["meera", "asha", "ravi"]
    classroom.learners.remove(school["asha"])
    html, rendered = visit(teacher_client, classroom)
    assert rendered and learners_shown(html) == ["meera", "ravi"]


def test_renaming_a_learner_or_the_class_shows_at_once(teacher_client, school):
    classroom, asha = school["classroom"], school["asha"]
    visit(teacher_client, classroom)
    asha.first_name = "Ashalata"
    asha.save()
    html, rendered = visit(teacher_client, classroom)
    assert rendered and ">Ashalata Rao</a>" in html
    classroom.name = "12 C"
    classroom.save()
    html, rendered = visit(teacher_client, classroom)
    assert rendered and "12 C: progress by chapter" in html


def test_a_curriculum_edit_shows_at_once(teacher_client, school):
    classroom, ohm = school["classroom"], school["ohm"]
    engine.open_step(learner=school["asha"], step=step(ohm, "Theory"))
    visit(teacher_client, classroom)
    StepFactory(chapter=ohm, order_index=4, title="Extra")
    html, rendered = visit(teacher_client, classroom)
    assert rendered and cell(html, "asha", "ohms-law") == "1 of 4 steps"
    ohm.title = "Ohm's Law and Resistance"
    ohm.save()
    html, rendered = visit(teacher_client, classroom)
    assert rendered and "Ohm&#x27;s Law and Resistance" in html


def test_the_other_language_is_rendered_and_kept_apart(teacher_client, school):
    classroom = school["classroom"]
    english, _rendered = visit(teacher_client, classroom)
    response = teacher_client.post(reverse("learners:set_language"), {"language": "hi", "next": url(classroom)})
    assert response.status_code == 302
    hindi, rendered = visit(teacher_client, classroom)
    assert rendered and "औसत" in hindi and "avg " not in hindi
    teacher_client.post(reverse("learners:set_language"), {"language": "en", "next": url(classroom)})
    again, rendered = visit(teacher_client, classroom)
    assert not rendered and again == english


def test_a_write_refused_by_the_engine_keeps_serving_the_stored_page(teacher_client, school):
    classroom = school["classroom"]
    before, _rendered = visit(teacher_client, classroom)
    result = engine.mark_done(learner=school["asha"], step=step(school["ohm"], "Quiz"))  # locked: nothing written
    assert not result.ok
    html, rendered = visit(teacher_client, classroom)
    assert not rendered and html == before


def test_a_change_behind_the_engines_back_is_seen_after_the_time_limit(teacher_client, school, settings):
    """Raw SQL (``QuerySet.update``) sends no signal: the stored page lives at most PROGRESS_CACHE_SECONDS."""
    settings.PROGRESS_CACHE_SECONDS = 1
    classroom = school["classroom"]
    engine.open_step(learner=school["asha"], step=step(school["ohm"], "Theory"))
    visit(teacher_client, classroom)
    LearningProgress.objects.filter(user=school["asha"]).update(status=Status.NOT_STARTED, completed_at=None)
    assert cell(visit(teacher_client, classroom)[0], "asha", "ohms-law") == "1 of 3 steps"  # stale, within the limit
    with mock.patch("django.core.cache.backends.locmem.time.time", return_value=9e9):
        html, rendered = visit(teacher_client, classroom)
    assert rendered and cell(html, "asha", "ohms-law") == "0 of 3 steps"


def test_the_page_renders_from_the_database_while_redis_is_down(teacher_client, school):
    """No curriculum version to name the page by: nothing stored, nothing read, the numbers right."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"  # nothing listens there once the socket is closed
    engine.open_step(learner=school["asha"], step=step(school["ohm"], "Theory"))
    with override_settings(CACHES={"default": {"BACKEND": "mars_labs.cache.DegradingRedisCache", "LOCATION": closed}}):
        curriculum_cache.clear_local()
        try:
            for _ in range(2):
                html, rendered = visit(teacher_client, school["classroom"])
                assert rendered and cell(html, "asha", "ohms-law") == "1 of 3 steps"
        finally:
            curriculum_cache.clear_local()


def test_a_learner_without_a_profile_is_never_served_from_the_cache(teacher_client, school):
    """No profile, no progress version a write could change: that class's page is rendered every time."""
    classroom = school["classroom"]
    UserProfile.objects.filter(user=school["ravi"]).delete()
    visit(teacher_client, classroom)
    html, rendered = visit(teacher_client, classroom)
    assert rendered and learners_shown(html) == ["asha", "ravi"]


# ---------------------------------------------------------------- who is served


def test_another_teachers_class_is_never_served(client, teacher_client, school):
    classroom = school["classroom"]
    visit(teacher_client, classroom)  # stored
    other = make_teacher(username="omar")
    own = make_classroom(teachers=[other], learners=[UserFactory(username="kabir", grade=12)], name="12 A", grade=12)
    client.force_login(other)
    assert client.get(url(classroom)).status_code == 404
    assert client.get(url(classroom, "?subject=chem")).status_code == 404
    html, _rendered = visit(client, own)
    assert learners_shown(html) == ["kabir"] and "12 B" not in html


def test_a_teacher_taken_off_the_class_loses_the_stored_page_too(teacher_client, teacher, school):
    classroom = school["classroom"]
    visit(teacher_client, classroom)
    classroom.teachers.remove(teacher)
    assert teacher_client.get(url(classroom)).status_code == 404


def test_a_superuser_is_served_the_same_page(client, teacher_client, school):
    classroom = school["classroom"]
    stored, _rendered = visit(teacher_client, classroom)
    client.force_login(make_superuser())
    html, rendered = visit(client, classroom)
    assert not rendered and html == stored


# ---------------------------------------------------------------- what a miss costs


def progress_queries(ctx):
    return [q["sql"] for q in ctx.captured_queries if "progress_learningprogress" in q["sql"]]


def test_one_changed_learner_is_counted_again_alone(teacher_client, school):
    """Each learner's counts are stored under their progress version: the others come from the cache."""
    classroom, asha, ravi = school["classroom"], school["asha"], school["ravi"]
    visit(teacher_client, classroom)
    engine.open_step(learner=asha, step=step(school["ohm"], "Theory"))
    with CaptureQueriesContext(connection) as ctx:
        html, rendered = visit(teacher_client, classroom)
    assert rendered and cell(html, "asha", "ohms-law") == "1 of 3 steps"
    [counting] = progress_queries(ctx)
    ids = re.search(r'"user_id" IN \(([^)]*)\)', counting).group(1)
    assert ids.split(", ") == [str(asha.pk)], counting
    assert str(ravi.pk) not in ids


def test_another_subject_or_sort_is_drawn_without_counting_again(teacher_client, school):
    visit(teacher_client, school["classroom"])
    for query in ("?subject=chem", "?sort=-overall", "?columns=hardest"):
        with CaptureQueriesContext(connection) as ctx:
            assert visit(teacher_client, school["classroom"], query)[1]
        assert progress_queries(ctx) == [], query


@pytest.mark.parametrize(("learners", "chapters"), [(5, 3), (40, 30)])
def test_matrix_queries_cached_and_not(
    teacher_client, teacher, django_assert_max_num_queries, settings, learners, chapters
):
    classroom, people, _chapters = build_class(teacher, learners=learners, chapters=chapters, steps=3)
    page = url(classroom)
    teacher_client.get(page)  # the curriculum read into its cache, the page and the counts stored
    # Session, user, 2 × permissions, classroom, learners (with their versions): the stored page.
    with django_assert_max_num_queries(6):
        html, rendered = visit(teacher_client, classroom)
    assert not rendered and len(learners_shown(html)) == learners
    # One learner changed: + their counts.
    versions.bump([people[0].pk])
    with django_assert_max_num_queries(7):
        changed, rendered = visit(teacher_client, classroom)
    assert rendered and changed == html
    # No cache at all: + every learner's counts, in one query.
    settings.PROGRESS_CACHE_SECONDS = 0
    with django_assert_max_num_queries(7):
        fresh, rendered = visit(teacher_client, classroom)
    assert rendered and fresh == html
