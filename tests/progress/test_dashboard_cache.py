"""The dashboard's per-learner cache (progress/dashboard.py ``dashboard_response``, ``dashboard_html``): a
visit after any change the dashboard shows renders it afresh; a visit after none serves the stored copy; no
learner ever gets another's. The stored copy is what a fresh render would draw (tests/progress/test_dashboard.py)."""

import datetime
import re
from unittest import mock

import pytest
from django.urls import reverse

from curriculum.enums import StepType
from learners.models import UserProfile
from progress import engine, paths
from progress.enums import Status
from progress.models import LearningProgress
from tests.factories import ChapterFactory, StepFactory, SubjectFactory, TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db

HOME = "/"


@pytest.fixture
def chapter(learner):
    """Physics, class 12: Theory (opened = done), Lab (a simulation reports it), Notes (marked done)."""
    chapter = ChapterFactory(subject=SubjectFactory(code="phy", name="Physics"), grade=12, title="Ohm's Law")
    StepFactory(chapter=chapter, order_index=1, title="Theory")
    StepFactory(chapter=chapter, order_index=2, title="Lab", step_type=StepType.INTERACTIVE,
                required_completion_criteria={"type": "external"})
    StepFactory(chapter=chapter, order_index=3, title="Notes", required_completion_criteria={"type": "manual"})
    paths.ensure_active_paths(learner=learner)  # else the first visit builds it (and so changes the version)
    return chapter


def step(chapter, title):
    return chapter.steps.get(title=title)


def visit(client):
    """``(html of <main>, rendered now?)``."""
    response = client.get(HOME)
    assert response.status_code == 200
    main = re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)
    # A stored page renders no template at all (response.context is None then).
    return main, response.context is not None and "dashboard" in response.context


def steps_done(html):
    return re.search(r'data-count="steps">([^<]+)</dd>', html).group(1).strip()


def test_a_second_visit_is_served_from_the_cache(learner_client, chapter):
    first, rendered = visit(learner_client)
    assert rendered
    second, rendered = visit(learner_client)
    assert not rendered
    assert second == first


def test_completing_a_step_on_its_page_shows_at_once(learner, learner_client, chapter):
    learner_client.get(reverse("progress:step", args=[step(chapter, "Theory").pk]))  # opened: done
    visit(learner_client)
    before, _rendered = visit(learner_client)
    assert steps_done(before) == "1 / 3"

    engine.report_external(learner=learner, step=step(chapter, "Lab"))  # a simulation, through the API
    after, rendered = visit(learner_client)
    assert rendered and steps_done(after) == "2 / 3"

    learner_client.get(reverse("progress:step", args=[step(chapter, "Notes").pk]))
    visit(learner_client)  # (opening it started it: rendered again)
    assert visit(learner_client)[1] is False
    response = learner_client.post(reverse("progress:step-complete", args=[step(chapter, "Notes").pk]))
    assert response.status_code == 302
    after, rendered = visit(learner_client)
    assert rendered and steps_done(after) == "3 / 3"
    assert "You have finished every step" in after


def test_a_teachers_reset_shows_at_once(learner, learner_client, chapter):
    engine.open_step(learner=learner, step=step(chapter, "Theory"))
    visit(learner_client)
    assert steps_done(visit(learner_client)[0]) == "1 / 3"

    result = engine.reset(learner=learner, step=step(chapter, "Theory"), actor=TeacherFactory(), reason="redo it")
    assert result.ok

    html, rendered = visit(learner_client)
    assert rendered and steps_done(html) == "0 / 3"


def test_a_profile_change_shows_at_once(learner, learner_client, chapter):
    visit(learner_client)
    response = learner_client.post(reverse("learners:profile"), {
        "grade": "11", "background_level": "advanced", "preferred_language": "en",
    })
    assert response.status_code == 302
    html, rendered = visit(learner_client)
    assert rendered
    assert 'data-fact="class">11<' in html and 'data-fact="level">Advanced<' in html


def test_renaming_the_learner_shows_at_once(learner, learner_client, chapter):
    visit(learner_client)
    learner.first_name = "Ashalata"
    learner.save()
    html, rendered = visit(learner_client)
    assert rendered and "Welcome, Ashalata" in html


def test_the_other_language_is_rendered_and_kept_apart(learner, learner_client, chapter):
    english, _rendered = visit(learner_client)
    assert learner_client.post(reverse("learners:set_language"), {"language": "hi", "next": HOME}).status_code == 302
    hindi, rendered = visit(learner_client)
    assert rendered and hindi != english and "lang=\"hi\"" not in english
    assert "आपके विषय" in hindi or "विषय" in hindi
    assert learner_client.post(reverse("learners:set_language"), {"language": "en", "next": HOME}).status_code == 302
    again, _rendered = visit(learner_client)
    assert again == english


def test_a_curriculum_edit_shows_at_once(learner_client, chapter):
    visit(learner_client)
    StepFactory(chapter=chapter, order_index=4, title="Extra")
    html, rendered = visit(learner_client)
    assert rendered and steps_done(html) == "0 / 4"


def test_a_new_day_renders_again(learner_client, chapter):
    visit(learner_client)
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    with mock.patch("progress.dashboard.timezone.localdate", return_value=tomorrow):
        _html, rendered = visit(learner_client)
    assert rendered


def test_learners_never_get_each_others_page(client, learner, chapter):
    other = UserFactory(username="ravi", first_name="Ravi", grade=12)
    engine.open_step(learner=learner, step=step(chapter, "Theory"))
    client.force_login(learner)
    asha, _rendered = visit(client)
    client.force_login(other)
    ravi, rendered = visit(client)
    assert rendered
    assert "Welcome, Ravi" in ravi and "Asha" not in ravi
    assert steps_done(asha) == "1 / 3" and steps_done(ravi) == "0 / 3"


def test_a_write_rolled_back_keeps_serving_the_right_page(learner, learner_client, chapter):
    visit(learner_client)
    before, _rendered = visit(learner_client)
    # A refused write (locked step) changes nothing, so the stored page is still right.
    assert engine.mark_done(learner=learner, step=step(chapter, "Notes")).outcome == engine.Outcome.LOCKED
    html, rendered = visit(learner_client)
    assert not rendered and html == before


def test_the_cache_can_be_turned_off(learner_client, chapter, settings):
    settings.PROGRESS_CACHE_SECONDS = 0
    assert visit(learner_client)[1]
    assert visit(learner_client)[1]


def test_a_change_behind_the_engines_back_is_seen_after_the_time_limit(learner, learner_client, chapter, settings):
    """Raw SQL (``QuerySet.update``) sends no signal: the cached page lives at most PROGRESS_CACHE_SECONDS."""
    settings.PROGRESS_CACHE_SECONDS = 1
    engine.open_step(learner=learner, step=step(chapter, "Theory"))
    visit(learner_client)
    LearningProgress.objects.filter(user=learner).update(status=Status.NOT_STARTED, completed_at=None)
    assert steps_done(visit(learner_client)[0]) == "1 / 3"  # stale, within the limit
    profile = UserProfile.objects.get(user=learner)
    assert profile.progress_version != 0
    with mock.patch("django.core.cache.backends.locmem.time.time", return_value=9e9):
        html, rendered = visit(learner_client)
    assert rendered and steps_done(html) == "0 / 3"


# ---------------------------------------------------------------- the whole page (dashboard_response)


def csrf_tokens(response):
    return re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())


def test_a_stored_page_carries_this_requests_own_csrf_token(client, learner, chapter):
    from django.middleware.csrf import _unmask_cipher_token

    client = type(client)(enforce_csrf_checks=True)
    client.force_login(learner)
    first = client.get(HOME)
    second = client.get(HOME)
    assert second.context is None  # served from the cache
    tokens = csrf_tokens(second)
    assert len(tokens) == 2  # the language switcher and the log-out form
    assert tokens != csrf_tokens(first)  # masked afresh per response, never a stored one
    secret = client.cookies["csrftoken"].value
    assert {_unmask_cipher_token(t) for t in tokens + csrf_tokens(first)} == {secret}
    # The placeholder drawn into the stored copy (an HMAC: 64 hex digits) never reaches the browser.
    assert not re.search(r'value="[0-9a-f]{64}"', second.content.decode())
    # And the token works: the stored page's form posts.
    response = client.post(reverse("learners:set_language"),
                           {"language": "hi", "next": HOME, "csrfmiddlewaretoken": tokens[0]})
    assert response.status_code == 302


def test_a_stored_page_sets_the_csrf_cookie_for_a_browser_without_one(client, learner, chapter):
    from django.middleware.csrf import _unmask_cipher_token

    client.force_login(learner)
    client.get(HOME)
    client.cookies.pop("csrftoken", None)
    response = client.get(HOME)
    assert response.context is None
    assert "csrftoken" in response.cookies
    assert {_unmask_cipher_token(t) for t in csrf_tokens(response)} == {response.cookies["csrftoken"].value}


def test_a_waiting_message_is_shown_on_a_stored_page(learner, learner_client, chapter):
    visit(learner_client)
    visit(learner_client)
    response = learner_client.post(reverse("learners:profile"), {
        "first_name": "Asha", "last_name": "Verma", "email": "", "grade": 12, "background_level": "beginner",
        "preferred_language": "en",
    }, follow=False)
    assert response.status_code == 302
    page = learner_client.get(HOME)
    assert 'class="messages"' in page.content.decode()
    # Shown once: the next visit is the plain (stored) page again.
    again = learner_client.get(HOME)
    assert 'class="messages"' not in again.content.decode()


def test_a_query_string_is_never_stored_as_the_page(learner_client, chapter):
    visit(learner_client)
    response = learner_client.get(HOME + "?next=%2Fevil")
    assert response.status_code == 200
    assert 'name="next" value="/?next=%2Fevil"' in response.content.decode()
    plain = learner_client.get(HOME)
    assert 'name="next" value="/"' in plain.content.decode() and "evil" not in plain.content.decode()


def test_the_navigation_of_a_stored_page_names_its_own_learner(client, learner, chapter):
    other = UserFactory(username="ravi", first_name="Ravi", last_name="Rao", grade=12)
    for user in (learner, other, learner, other):
        client.force_login(user)
        response = client.get(HOME)
        nav = re.search(r"<nav.*</nav>", response.content.decode(), re.S).group(0)
        assert user.get_full_name() in nav
        assert (other if user == learner else learner).get_full_name() not in nav
