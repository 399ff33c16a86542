"""Subject, chapter and step pages (progress/views/learning.py): access, what they show, query budgets."""

import pytest
from django.urls import reverse

from curriculum.enums import StepType
from progress import engine
from progress.enums import Status
from progress.models import LearningProgress
from tests.factories import (
    ChapterFactory,
    QuizStepFactory,
    StepFactory,
    SubjectFactory,
    TeacherFactory,
    UserFactory,
    make_chapter,
)

pytestmark = pytest.mark.django_db

# Query budgets, measured, the same whatever the size of the chapter or subject. Each includes the
# session and user (2); the engine's chapter_states is 2-4 queries however many steps; a step
# open or completion adds the engine's transaction (savepoint, upsert, row lock, event, save).
# A learner's subject page: session, user, subject, active paths, their rows (the curriculum comes
# from its cache, curriculum/cache.py). The first view after a curriculum change also reads the
# class's curriculum (3), and a learner's very first page view builds their learning path.
SUBJECT_PAGE_QUERIES = 5
SUBJECT_PAGE_FIRST_VIEW_QUERIES = 19
CHAPTER_PAGE_QUERIES = 7
STEP_OPEN_QUERIES = 16  # + the active learning paths
STEP_COMPLETE_QUERIES = 12


def steps_of(chapter):
    return list(chapter.steps.order_by("order_index"))


def finish(learner, steps):
    for step in steps:
        engine.open_step(learner=learner, step=step)  # factory steps have the view criterion


# --- access -----------------------------------------------------------------------------


def test_pages_redirect_anonymous_to_login(client):
    chapter = make_chapter(steps=1)
    step = chapter.steps.get()

    for path in (chapter.subject.get_absolute_url(), chapter.get_absolute_url(), step.get_absolute_url()):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("chapter_kwargs", [{"grade": 11}, {"grade": 12, "is_active": False}])
def test_chapter_and_step_of_another_grade_or_inactive_are_404(learner_client, learner, chapter_kwargs):
    chapter = make_chapter(steps=1, **chapter_kwargs)

    assert learner_client.get(chapter.get_absolute_url()).status_code == 404
    assert learner_client.get(chapter.steps.get().get_absolute_url()).status_code == 404
    assert not LearningProgress.objects.filter(user=learner).exists()


def test_gradeless_chapter_is_open_to_every_class(client):
    chapter = make_chapter(steps=1, grade=None)
    client.force_login(UserFactory(grade=3))

    assert client.get(chapter.get_absolute_url()).status_code == 200
    assert client.get(chapter.steps.get().get_absolute_url()).status_code == 200


def test_learner_without_a_class_sees_only_gradeless_chapters(client):
    client.force_login(UserFactory())
    graded, gradeless = make_chapter(steps=1, grade=12), make_chapter(steps=1, grade=None)

    assert client.get(graded.get_absolute_url()).status_code == 404
    assert client.get(gradeless.get_absolute_url()).status_code == 200


def test_unknown_subject_and_chapter_are_404(learner_client):
    assert learner_client.get(reverse("progress:subject", args=["nope"])).status_code == 404
    assert learner_client.get(reverse("progress:chapter", args=["nope"])).status_code == 404


def test_teacher_previews_any_step_without_recording(client):
    teacher = TeacherFactory()
    client.force_login(teacher)
    chapter = make_chapter(steps=2, grade=7, is_active=False)
    locked = steps_of(chapter)[1]

    response = client.get(locked.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert "Teacher's preview" in html
    assert "data-heartbeat-url" not in html and "Mark complete" not in html
    assert not LearningProgress.objects.filter(user=teacher).exists()
    assert client.get(chapter.get_absolute_url()).status_code == 200


# --- subject page -----------------------------------------------------------------------------


def test_subject_page_lists_my_chapters_with_ticks_per_step_type(learner_client, learner):
    subject = SubjectFactory(code="phy", name="Physics")
    ohm = ChapterFactory(subject=subject, title="Ohm's Law", order_index=1)
    theory = StepFactory(chapter=ohm, order_index=1, title="Theory", step_type=StepType.READING)
    StepFactory(chapter=ohm, order_index=2, title="Animation", step_type=StepType.VIDEO)
    QuizStepFactory(chapter=ohm, order_index=3, title="Quiz")
    ChapterFactory(subject=subject, title="Other class", grade=11, order_index=2)
    ChapterFactory(subject=subject, title="Retired", is_active=False, order_index=3)
    ChapterFactory(subject=subject, title="For everyone", grade=None, order_index=4)
    finish(learner, [theory])

    html = learner_client.get(subject.get_absolute_url()).content.decode()

    assert "Ohm&#x27;s Law" in html and "For everyone" in html
    assert "Other class" not in html and "Retired" not in html
    assert "1 of 3 steps done" in html and "<strong>33%</strong>" in html
    # Each tick says its status in words, not only by colour or icon.
    assert '<span class="status-label">Reading</span> <span class="status-icon" aria-hidden="true">✓</span> ' \
           '<span class="status-text">Done</span>' in html
    assert '<span class="status-label">Video</span> <span class="status-icon" aria-hidden="true">○</span> ' \
           '<span class="status-text">To do</span>' in html
    assert '<span class="status-label">Quiz</span> <span class="status-icon" aria-hidden="true">🔒</span> ' \
           '<span class="status-text">Locked</span>' in html
    assert ohm.get_absolute_url() in html


def test_subject_page_shows_chapter_lock_reason(learner_client):
    subject = SubjectFactory()
    first = make_chapter(steps=1, subject=subject, title="Ohm's Law")
    make_chapter(steps=1, subject=subject, title="Kirchhoff", prerequisite_chapter=first)

    html = learner_client.get(subject.get_absolute_url()).content.decode()

    assert "Locked: finish the chapter &#x27;Ohm&#x27;s Law&#x27; first" in html


@pytest.mark.parametrize("chapters", [3, 20])
def test_subject_page_query_budget(learner_client, learner, django_assert_max_num_queries, chapters):
    subject = SubjectFactory()
    previous = None
    for _ in range(chapters):
        previous = make_chapter(steps=4, subject=subject, prerequisite_chapter=previous)
        finish(learner, steps_of(previous)[:2])

    with django_assert_max_num_queries(SUBJECT_PAGE_FIRST_VIEW_QUERIES):
        first = learner_client.get(subject.get_absolute_url())
    with django_assert_max_num_queries(SUBJECT_PAGE_QUERIES):
        response = learner_client.get(subject.get_absolute_url())

    assert first.status_code == response.status_code == 200
    assert response.content.decode().count('class="card chapter-card') == chapters
    # The first chapter half done; each later one locked behind the one before it (its steps were refused).
    assert response.content.decode().count('<progress class="mars-progress mb-2" value="50"') == 1
    assert response.content.decode().count("chapter-card mb-3 is-locked") == chapters - 1


# --- chapter page -----------------------------------------------------------------------------


def test_chapter_page_locked_step_shows_why_and_is_not_a_link(learner_client, learner):
    chapter = make_chapter(steps=3)
    first, second, third = steps_of(chapter)
    finish(learner, [first])

    html = learner_client.get(chapter.get_absolute_url()).content.decode()

    assert f'href="{first.get_absolute_url()}"' in html
    assert f'href="{second.get_absolute_url()}"' in html  # open now: the first is done
    assert third.get_absolute_url() not in html
    assert "Locked: finish &#x27;Step 2&#x27; first" in html
    assert "1 of 3 steps done" in html


@pytest.mark.parametrize("steps", [5, 40])
def test_chapter_page_query_budget(learner_client, learner, django_assert_max_num_queries, steps):
    chapter = make_chapter(steps=steps, prerequisite_chapter=make_chapter(steps=2))
    finish(learner, steps_of(chapter.prerequisite_chapter) + steps_of(chapter)[: steps // 2])

    with django_assert_max_num_queries(CHAPTER_PAGE_QUERIES):
        response = learner_client.get(chapter.get_absolute_url())

    assert response.status_code == 200
    assert response.content.decode().count('class="step-item') == steps


# --- step page ----------------------------------------------------------------------------------


def test_step_page_locked_is_403_with_reason_and_chapter_link(learner_client, learner):
    chapter = make_chapter(steps=2)
    second = steps_of(chapter)[1]
    second.content = "SECRET CONTENT"
    second.save()

    response = learner_client.get(second.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 403
    assert "Locked: finish &#x27;Step 1&#x27; first" in html
    assert f'href="{chapter.get_absolute_url()}"' in html
    assert "SECRET CONTENT" not in html
    assert not LearningProgress.objects.filter(user=learner, step=second).exists()


def test_step_page_reading_renders_sanitised_markdown(learner_client):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1,
        content="## Theory\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2)) <b onclick=\"y()\">V=IR</b>",
    )

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert "<h2>Theory</h2>" in html and "<b>V=IR</b>" in html
    assert "alert(" not in html and "onclick" not in html and "javascript:" not in html


def test_step_page_opening_starts_and_view_step_completes(learner_client, learner):
    step = StepFactory(chapter=make_chapter(steps=0), order_index=1)
    following = StepFactory(chapter=step.chapter, order_index=2, title="Procedure")

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert LearningProgress.objects.get(user=learner, step=step).status == Status.COMPLETED
    assert "Completed" in html and "data-done-block>" in html
    assert f'href="{following.get_absolute_url()}">Next step' in html


def test_step_page_time_step_shows_countdown_and_reason(learner_client, learner):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1, required_completion_criteria={"type": "time", "value": 90}
    )

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert "Spend 1 min 30 s on this page" in html
    assert "Not yet: 0 of 90 seconds" in html
    assert 'data-needed="90"' in html and "data-countdown" in html
    assert "data-mark-complete disabled" in html


def test_step_page_next_is_explained_when_locked(learner_client):
    chapter = make_chapter(steps=0)
    step = StepFactory(chapter=chapter, order_index=1, required_completion_criteria={"type": "manual"})
    StepFactory(chapter=chapter, order_index=2, title="Animation")

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert "Next step (locked):" in html
    assert "Locked: finish &#x27;" in html


def test_step_page_video_with_url(learner_client):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1, step_type=StepType.VIDEO,
        activity={"video_url": "/static/media/ohm.mp4"},
    )

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert '<video class="w-100 rounded" controls preload="metadata" playsinline src="/static/media/ohm.mp4"' in html


@pytest.mark.parametrize(
    "activity, note",
    [({}, "There is no video for this step yet."),
     ({"video_url": "http://insecure.example/v.mp4"}, "is not secure")],
)
def test_step_page_video_without_usable_url_shows_content_and_note(learner_client, activity, note):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1, step_type=StepType.VIDEO, content="Watch **closely**.",
        activity=activity,
    )

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert "<video" not in html
    assert note in html and "<strong>closely</strong>" in html


def test_step_page_interactive_sandboxed_iframe_and_report_form(learner_client):
    step = StepFactory(
        chapter=ChapterFactory(), order_index=1, step_type=StepType.INTERACTIVE,
        required_completion_criteria={"type": "external"},
        activity={"simulation_url": "https://sim.example.org/ohm/index.html"},
    )

    html = learner_client.get(step.get_absolute_url()).content.decode()

    assert '<iframe src="https://sim.example.org/ohm/index.html"' in html
    assert 'sandbox="allow-scripts allow-same-origin"' in html
    assert 'data-simulation-origin="https://sim.example.org"' in html
    assert reverse("progress:step-report", args=[step.pk]) in html
    assert "I finished the simulation" in html


def test_step_pages_have_no_inline_script_or_handlers(learner_client):
    def alone(**kwargs):  # each on its own chapter, so each is open
        return StepFactory(chapter=ChapterFactory(), order_index=1, **kwargs)

    steps = [
        alone(step_type=StepType.READING),
        alone(step_type=StepType.VIDEO, activity={"video_url": "/v.mp4"}),
        alone(step_type=StepType.INTERACTIVE, activity={"simulation_url": "/sim/"}),
        QuizStepFactory(chapter=ChapterFactory(), order_index=1),
        alone(step_type=StepType.EXERCISE, required_completion_criteria={"type": "submission"}),
    ]

    for step in steps:
        response = learner_client.get(step.get_absolute_url())
        html = response.content.decode()
        assert response.status_code == 200
        assert "<script>" not in html and " onclick=" not in html and " onload=" not in html
        assert html.count("<script ") == 2  # bootstrap and step.js, both from static
        assert 'src="/static/js/step.js"' in html


@pytest.mark.parametrize("steps", [5, 40])
def test_step_open_query_budget(learner_client, learner, django_assert_max_num_queries, steps):
    chapter = make_chapter(steps=steps)
    *before, last = steps_of(chapter)
    last.required_completion_criteria = {"type": "time", "value": 60}
    last.save()
    finish(learner, before)

    with django_assert_max_num_queries(STEP_OPEN_QUERIES):
        response = learner_client.get(last.get_absolute_url())

    assert response.status_code == 200
    assert LearningProgress.objects.get(user=learner, step=last).status == Status.IN_PROGRESS


@pytest.mark.parametrize("steps", [5, 40])
def test_step_complete_query_budget(learner_client, learner, django_assert_max_num_queries, steps):
    chapter = make_chapter(steps=steps)
    *before, last = steps_of(chapter)
    last.required_completion_criteria = {"type": "manual"}
    last.save()
    finish(learner, before)
    learner_client.get(last.get_absolute_url())

    with django_assert_max_num_queries(STEP_COMPLETE_QUERIES):
        response = learner_client.post(reverse("progress:step-complete", args=[last.pk]))

    assert response.status_code == 302
    assert LearningProgress.objects.get(user=learner, step=last).status == Status.COMPLETED
