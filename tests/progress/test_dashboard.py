"""The dashboard at ``/`` (progress/views/dashboard.py, progress/dashboard.py and the engine's next_steps /
active_minutes_by_day): numbers from the database, recommendations, empty states, query budget."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from curriculum.enums import StepType
from progress import engine
from progress import paths as learning_paths
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.factories import (
    ChapterFactory,
    QuizStepFactory,
    StepFactory,
    SubjectFactory,
    TeacherFactory,
    UserFactory,
    make_chapter,
)

HOME = "/"
WRONG_ANSWERS = {"0": 0, "1": 0}  # QuizStepFactory's questions: both wrong, score 0


# ---------------------------------------------------------------- helpers


def complete(user, steps):
    now = timezone.now()
    LearningProgress.objects.bulk_create([
        LearningProgress(user=user, step=s, status=Status.COMPLETED, completion_percentage=100,
                         started_at=now, completed_at=now)
        for s in steps
    ])


def start(user, step, *, percentage=0, updated_at=None):
    row = LearningProgress.objects.create(
        user=user, step=step, status=Status.IN_PROGRESS, completion_percentage=percentage,
        started_at=timezone.now(), progress_data={"criteria": step.required_completion_criteria},
    )
    if updated_at:
        LearningProgress.objects.filter(pk=row.pk).update(updated_at=updated_at)
    return row


def steps_of(chapter):
    return list(chapter.steps.order_by("order_index"))


def subject_card(html, code):
    match = re.search(rf'<article[^>]*data-subject="{code}".*?</article>', html, re.S)
    assert match, f"no card for {code}"
    return match.group(0)


def ring_value(fragment):
    return int(re.search(r'role="progressbar" aria-valuenow="(\d+)"', fragment).group(1))


def count(fragment, name):
    return re.search(rf'data-count="{name}">([^<]+)</dd>', fragment).group(1).strip()


def section(html, name):
    match = re.search(rf'<section[^>]*data-section="{name}".*?</section>', html, re.S)
    assert match, f"no section {name}"
    return match.group(0)


def time_event(user, seconds, at, *, kind=EventKind.TIME):
    event = ProgressEvent.objects.create(user=user, kind=kind, data={"seconds": seconds})
    ProgressEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def local(day, hour, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def physics(db):
    subject = SubjectFactory(code="phy", name="Physics", order=1)
    return subject, [make_chapter(subject=subject, order_index=i, title=f"Physics {i}") for i in (1, 2)]


@pytest.fixture
def chemistry(db):
    subject = SubjectFactory(code="chem", name="Chemistry", order=2)
    return subject, [make_chapter(subject=subject, order_index=i, title=f"Chemistry {i}") for i in (1, 2)]


# ---------------------------------------------------------------- access


def test_home_anonymous_redirects_to_login(client, db):
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_staff_home_links_to_admin_not_a_student_dashboard(client, db):
    client.force_login(TeacherFactory())
    response = client.get(HOME)
    html = response.content.decode()
    assert response.status_code == 200
    assert "progress/staff_home.html" in [t.name for t in response.templates]
    assert f'href="{reverse("admin:index")}"' in html
    assert "Reports" in html
    assert 'data-section="subjects"' not in html


# ---------------------------------------------------------------- subject cards


def test_subject_card_ring_and_counts_match_progress(learner, learner_client, physics, chemistry):
    _phy, (p1, p2) = physics
    complete(learner, [*steps_of(p1), steps_of(p2)[0]])  # 6 of 10 steps, chapter 1 done

    html = learner_client.get(HOME).content.decode()

    card = subject_card(html, "phy")
    assert ring_value(card) == 60
    assert 'aria-valuemin="0"' in card and 'aria-valuemax="100"' in card
    assert 'aria-label="Physics: 60% of steps done"' in card
    assert count(card, "chapters") == "1 / 2"
    assert count(card, "steps") == "6 / 10"
    assert f'href="{reverse("progress:subject", args=["phy"])}"' in card
    chem = subject_card(html, "chem")
    assert ring_value(chem) == 0
    assert count(chem, "steps") == "0 / 10"


def test_subject_card_counts_skipped_steps_as_done(learner, learner_client, physics):
    _phy, (p1, _p2) = physics
    first = steps_of(p1)[0]
    LearningProgress.objects.create(user=learner, step=first, status=Status.SKIPPED, started_at=timezone.now())
    card = subject_card(learner_client.get(HOME).content.decode(), "phy")
    assert count(card, "steps") == "1 / 10"
    assert ring_value(card) == 10


def test_subject_cards_only_count_learners_class_and_active_chapters(learner, learner_client, physics):
    subject, _chapters = physics
    make_chapter(subject=subject, order_index=3, title="Everyone", grade=None)
    make_chapter(subject=subject, order_index=4, title="Class eleven", grade=11)
    make_chapter(subject=subject, order_index=5, title="Retired", is_active=False)
    card = subject_card(learner_client.get(HOME).content.decode(), "phy")
    assert count(card, "chapters") == "0 / 3"
    assert count(card, "steps") == "0 / 15"


def test_subject_card_counts_simulations(learner, learner_client, physics):
    _phy, (p1, _p2) = physics
    sim = StepFactory(chapter=p1, order_index=6, step_type=StepType.INTERACTIVE)
    StepFactory(chapter=p1, order_index=7, step_type=StepType.INTERACTIVE)
    complete(learner, [sim])
    card = subject_card(learner_client.get(HOME).content.decode(), "phy")
    assert count(card, "simulations") == "1 / 2"


# ---------------------------------------------------------------- continue card


def test_continue_card_shows_latest_in_progress_step(learner, learner_client, physics, chemistry):
    _phy, (p1, _p2) = physics
    _chem, (c1, _c2) = chemistry
    now = timezone.now()
    start(learner, steps_of(p1)[0], updated_at=now - datetime.timedelta(hours=3))
    latest = steps_of(c1)[0]
    start(learner, latest, updated_at=now - datetime.timedelta(minutes=5))
    complete(learner, [steps_of(p1)[1]])  # done later than both: not "in progress"
    retired = make_chapter(steps=1, subject=p1.subject, order_index=9, title="Retired", is_active=False)
    start(learner, steps_of(retired)[0], updated_at=now)  # newest, but its chapter is inactive

    card = section(learner_client.get(HOME).content.decode(), "continue")

    assert f'href="{reverse("progress:step", args=[latest.pk])}"' in card
    assert latest.title in card and "Chemistry 1" in card


def test_continue_card_ignores_steps_outside_the_learners_class(learner, learner_client, physics):
    subject, (p1, _p2) = physics
    mine = steps_of(p1)[0]
    start(learner, mine, updated_at=timezone.now() - datetime.timedelta(days=1))
    other_class = make_chapter(steps=1, subject=subject, order_index=7, title="Class 9", grade=9)
    start(learner, steps_of(other_class)[0], updated_at=timezone.now())
    card = section(learner_client.get(HOME).content.decode(), "continue")
    assert f'href="{reverse("progress:step", args=[mine.pk])}"' in card


# ---------------------------------------------------------------- recommendations


def test_recommendations_lowest_subject_first_at_most_three(learner, learner_client):
    subjects = {}
    for order, (code, name) in enumerate([("phy", "Physics"), ("chem", "Chemistry"), ("math", "Maths")]):
        subject = SubjectFactory(code=code, name=name, order=order)
        subjects[code] = [make_chapter(subject=subject, order_index=i, title=f"{name} {i}") for i in (1, 2, 3, 4)]
    complete(learner, [s for c in subjects["phy"][:2] for s in steps_of(c)])  # 50%
    complete(learner, steps_of(subjects["chem"][0])[:2])  # 10%
    complete(learner, steps_of(subjects["math"][0]))  # 25%

    response = learner_client.get(HOME)
    items = response.context["dashboard"].recommendations

    assert len(items) == 3
    # Chemistry's four chapters each have an open step; the three first come first.
    assert [i.step.chapter.subject.code for i in items] == ["chem", "chem", "chem"]
    assert items[0].step == steps_of(subjects["chem"][0])[2]
    assert items[0].reason == "Chemistry is your lowest subject at 10%"
    html = section(response.content.decode(), "recommendations")
    assert "Focus on <strong>Chemistry</strong> (10%)" in html
    assert html.count('class="next-item') == 3


def test_recommendations_move_to_next_subject_when_lowest_runs_out(learner):
    chem = SubjectFactory(code="chem", name="Chemistry", order=1)
    phy = SubjectFactory(code="phy", name="Physics", order=2)
    only = make_chapter(steps=2, subject=chem, order_index=1)
    p1 = make_chapter(steps=2, subject=phy, order_index=1)
    complete(learner, steps_of(p1))  # physics 100 %, chemistry 0 %

    items = engine.next_steps(learner=learner, limit=3)

    assert [i.step for i in items] == [steps_of(only)[0]]  # second chemistry step locked; physics done


def test_recommendations_never_include_locked_or_done_steps(learner):
    subject = SubjectFactory(code="phy", name="Physics")
    first = make_chapter(steps=3, subject=subject, order_index=1)
    gated = make_chapter(steps=3, subject=subject, order_index=2, prerequisite_chapter=first)
    other = make_chapter(steps=3, subject=subject, order_index=3)
    cross = steps_of(other)
    cross[0].prerequisite_step = steps_of(first)[2]
    cross[0].save()
    complete(learner, steps_of(first)[:1])

    items = engine.next_steps(learner=learner, limit=50)

    states = engine.chapter_states(learner=learner, chapters=[first, gated, other])
    open_steps = [s.step for cs in states.values() for s in cs.steps if s.is_available and not s.is_done]
    assert [i.step for i in items] == open_steps == [steps_of(first)[1]]
    assert all(i.state.is_available and not i.state.is_done for i in items)


def test_recommendations_failed_quiz_twice_suggests_reading_first(learner):
    subject = SubjectFactory(code="chem", name="Chemistry")
    chapter = ChapterFactory(subject=subject, order_index=1)
    theory = StepFactory(chapter=chapter, order_index=1, title="Theory")
    quiz = QuizStepFactory(chapter=chapter, order_index=2, title="Acids quiz")
    engine.open_step(learner=learner, step=theory)
    for _attempt in range(2):
        assert engine.submit_quiz(learner=learner, step=quiz, answers=WRONG_ANSWERS).ok

    items = engine.next_steps(learner=learner, limit=3)

    assert items[0].kind == "review"
    assert items[0].step == theory
    assert items[0].quiz == quiz
    assert items[0].reason == "you failed “Acids quiz” twice: review “Theory” first"
    assert quiz not in [i.step for i in items]


def test_recommendations_failed_quiz_once_recommends_the_quiz(learner, learner_client):
    subject = SubjectFactory(code="chem", name="Chemistry")
    chapter = ChapterFactory(subject=subject, order_index=1)
    theory = StepFactory(chapter=chapter, order_index=1, title="Theory")
    quiz = QuizStepFactory(chapter=chapter, order_index=2, title="Acids quiz")
    engine.open_step(learner=learner, step=theory)
    engine.submit_quiz(learner=learner, step=quiz, answers=WRONG_ANSWERS)

    items = learner_client.get(HOME).context["dashboard"].recommendations

    assert [(i.step, i.kind) for i in items] == [(quiz, "next")]


def test_recommendations_failed_quiz_twice_shown_on_page(learner, learner_client):
    subject = SubjectFactory(code="chem", name="Chemistry")
    chapter = ChapterFactory(subject=subject, order_index=1)
    theory = StepFactory(chapter=chapter, order_index=1, title="Theory")
    quiz = QuizStepFactory(chapter=chapter, order_index=2, title="Acids quiz")
    engine.open_step(learner=learner, step=theory)
    for _attempt in range(3):
        engine.submit_quiz(learner=learner, step=quiz, answers=WRONG_ANSWERS)

    html = section(learner_client.get(HOME).content.decode(), "recommendations")

    assert "next-review" in html
    assert "You failed “Acids quiz” twice: review “Theory” first" in html
    assert f'href="{reverse("progress:step", args=[theory.pk])}"' in html


# ---------------------------------------------------------------- profile panel


def test_profile_panel_shows_class_level_subjects_and_overall(learner, learner_client, physics, chemistry):
    _phy, (p1, _p2) = physics
    complete(learner, steps_of(p1))  # 5 of 20 steps

    panel = section(learner_client.get(HOME).content.decode(), "profile")

    assert "Asha Verma" in panel
    assert re.search(r'data-fact="class">12<', panel)
    assert re.search(r'data-fact="level">Beginner<', panel)
    assert re.search(r'data-fact="subjects">2<', panel)
    assert re.search(r'data-fact="overall">25%<', panel)
    assert ring_value(panel) == 25
    assert f'href="{reverse("learners:profile")}"' in panel


# ---------------------------------------------------------------- activity


def test_active_minutes_by_day_sums_seconds_per_local_day(learner):
    today = datetime.date(2025, 3, 14)
    time_event(learner, 120, local(today, 9))
    time_event(learner, 180, local(today, 18))
    # 00:30 local time is the previous day in UTC: it still counts for today.
    time_event(learner, 60, local(today, 0, 30))
    time_event(learner, 600, local(today - datetime.timedelta(days=3), 12))
    time_event(learner, 45, local(today - datetime.timedelta(days=13), 23, 50))
    time_event(learner, 999, local(today - datetime.timedelta(days=14), 12))  # 15 days ago: out of range
    time_event(learner, 999, local(today + datetime.timedelta(days=1), 12))  # future: out of range
    time_event(learner, 999, local(today, 10), kind=EventKind.STARTED)  # not a time event
    time_event(UserFactory(), 999, local(today, 10))  # someone else

    days = engine.active_minutes_by_day(learner=learner, days=14, today=today)

    assert len(days) == 14
    assert days[0].day == today - datetime.timedelta(days=13)
    assert days[-1].day == today
    seconds = {d.day: d.seconds for d in days if d.seconds}
    assert seconds == {
        today: 360,
        today - datetime.timedelta(days=3): 600,
        today - datetime.timedelta(days=13): 45,
    }
    assert [d.minutes for d in days if d.seconds] == [1, 10, 6]


def test_active_minutes_by_day_follows_daylight_saving_days(learner):
    """Days are local calendar days also where a day has 23 or 25 hours (Berlin, spring 2025 and autumn 2025)."""
    with timezone.override("Europe/Berlin"):
        spring, autumn = datetime.date(2025, 3, 30), datetime.date(2025, 10, 26)  # 23 h and 25 h days
        time_event(learner, 60, local(spring, 0, 10))
        time_event(learner, 120, local(spring, 23, 50))
        time_event(learner, 30, local(spring + datetime.timedelta(days=1), 0, 10))
        time_event(learner, 240, local(autumn, 0, 10))
        time_event(learner, 300, local(autumn, 23, 55))
        time_event(learner, 15, local(autumn - datetime.timedelta(days=1), 23, 55))

        march = engine.active_minutes_by_day(learner=learner, days=3, today=spring + datetime.timedelta(days=1))
        october = engine.active_minutes_by_day(learner=learner, days=2, today=autumn)

    assert [(d.day, d.seconds) for d in march] == [
        (spring - datetime.timedelta(days=1), 0), (spring, 180), (spring + datetime.timedelta(days=1), 30)]
    assert [(d.day, d.seconds) for d in october] == [(autumn - datetime.timedelta(days=1), 15), (autumn, 540)]


def test_activity_chart_on_page_lists_minutes_per_day(learner, learner_client, physics):
    today = timezone.localdate()
    time_event(learner, 300, local(today, 0, 5))
    time_event(learner, 900, local(today - datetime.timedelta(days=1), 12))

    html = section(learner_client.get(HOME).content.decode(), "activity")

    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td></tr>', html)
    assert len(rows) == 14
    assert [int(m) for _d, m in rows][-2:] == [15, 5]
    assert sum(int(m) for _d, m in rows) == 20
    assert "20 min on 2 days in the last two weeks." in html


# ---------------------------------------------------------------- empty states


def test_empty_state_no_progress_says_start_with_first_step(learner, learner_client, physics, chemistry):
    _phy, (p1, _p2) = physics
    html = learner_client.get(HOME).content.decode()
    first = steps_of(p1)[0]
    assert 'data-empty="no-progress"' in html
    assert f"Start with {first.title}" in html
    assert f'href="{reverse("progress:step", args=[first.pk])}"' in html
    assert 'data-section="continue"' not in html


def test_empty_state_no_grade_links_to_profile(client, db, physics):
    subject, _chapters = physics
    make_chapter(steps=2, subject=subject, order_index=5, title="For everyone", grade=None)
    learner = UserFactory()  # no class set
    client.force_login(learner)

    response = client.get(HOME)
    html = response.content.decode()

    assert 'data-empty="no-grade"' in html
    assert f'href="{reverse("learners:profile")}"' in html
    # Grade-less chapters still count for a learner with no class.
    assert count(subject_card(html, "phy"), "chapters") == "0 / 1"


def test_empty_state_grade_without_chapters_says_so(client, db, physics):
    client.force_login(UserFactory(grade=3))
    html = client.get(HOME).content.decode()
    assert 'data-empty="no-chapters"' in html
    assert "No chapters for class 3 yet" in html
    assert 'data-section="subjects"' not in html
    assert 'data-empty="no-grade"' not in html


def test_empty_state_all_done_congratulates(learner, learner_client, physics):
    _phy, chapters = physics
    complete(learner, [s for c in chapters for s in steps_of(c)])
    response = learner_client.get(HOME)
    html = response.content.decode()
    assert response.context["dashboard"].recommendations == []
    assert "You have finished every step. Well done!" in html
    assert "Nothing left to do: every step is done." in html


# ---------------------------------------------------------------- isolation


def test_dashboard_never_shows_another_learners_data(learner, learner_client, physics, chemistry):
    _phy, (p1, p2) = physics
    _chem, (c1, c2) = chemistry
    complete(learner, steps_of(p1)[:2])
    before = learner_client.get(HOME).content.decode()

    other = UserFactory(username="bela", grade=12)
    complete(other, [*steps_of(p1), *steps_of(p2), *steps_of(c1)])
    start(other, steps_of(c2)[0], updated_at=timezone.now())
    time_event(other, 1800, timezone.now())
    response = learner_client.get(HOME)
    html = response.content.decode()

    dashboard = response.context["dashboard"]
    assert [(c.subject.code, c.rollup.steps_done) for c in dashboard.subjects] == [("phy", 2), ("chem", 0)]
    assert dashboard.profile.overall_percentage == 10
    assert dashboard.continue_state is None
    assert sum(d.seconds for d in dashboard.activity) == 0
    assert count(subject_card(html, "phy"), "steps") == "2 / 10"
    assert "bela" not in html
    # The same numbers as before the other learner did anything.
    for code in ("phy", "chem"):
        assert ring_value(subject_card(html, code)) == ring_value(subject_card(before, code))


# ---------------------------------------------------------------- query budget


def build_curriculum(learner, *, subjects, chapters, steps, events):
    """``subjects`` × ``chapters`` × ``steps``, with lots of progress and time events for ``learner``."""
    other = UserFactory(username=f"other{subjects}", grade=12)
    rows, now = [], timezone.now()
    for s in range(subjects):
        subject = SubjectFactory(code=f"s{subjects}x{s}", name=f"Subject {s}", order=s)
        previous = None
        for c in range(chapters):
            chapter = make_chapter(steps=steps, subject=subject, order_index=c + 1, title=f"S{s} C{c}",
                                   prerequisite_chapter=previous if c % 2 else None)
            chapter_steps = steps_of(chapter)
            if c == 0:
                # A prerequisite in another class: loaded with the curriculum, not by a query of its own.
                outside = make_chapter(steps=2, subject=subject, order_index=c + 1, title=f"S{s} old", grade=11)
                chapter.prerequisite_chapter = outside
                chapter.save()
            for i, step in enumerate(chapter_steps):
                if c < chapters // 2:
                    rows.append(LearningProgress(user=learner, step=step, status=Status.COMPLETED,
                                                 completion_percentage=100, started_at=now, completed_at=now))
                elif i == 0:
                    rows.append(LearningProgress(user=learner, step=step, status=Status.IN_PROGRESS,
                                                 completion_percentage=40, started_at=now,
                                                 progress_data={"attempts": [{"score": 10}, {"score": 20}]}))
                rows.append(LearningProgress(user=other, step=step, status=Status.COMPLETED,
                                             completion_percentage=100, started_at=now, completed_at=now))
            previous = chapter
    LearningProgress.objects.bulk_create(rows)
    ProgressEvent.objects.bulk_create([
        ProgressEvent(user=learner, kind=EventKind.TIME, data={"seconds": 30}) for _ in range(events)
    ])


def test_dashboard_query_count_is_constant_at_two_sizes(learner, learner_client, django_assert_max_num_queries,
                                                        settings):
    """Rendered from the database every time (the per-learner cache off): a fixed number of queries."""
    settings.PROGRESS_CACHE_SECONDS = 0
    build_curriculum(learner, subjects=2, chapters=2, steps=5, events=10)
    learner_client.get(HOME)  # the first visit builds the learner's path (test below); measure the steady state
    # Session, user with profile, paths, progress rows, activity: the curriculum comes from its cache.
    with django_assert_max_num_queries(5) as small:
        response = learner_client.get(HOME)
    assert response.status_code == 200
    assert len(response.context["dashboard"].subjects) == 2

    build_curriculum(learner, subjects=6, chapters=8, steps=5, events=400)
    # The curriculum changed: the first visit reads it again (chapters, steps), once.
    with django_assert_max_num_queries(7):
        learner_client.get(HOME)
    with django_assert_max_num_queries(5) as large:
        response = learner_client.get(HOME)
    assert response.status_code == 200
    assert len(response.context["dashboard"].subjects) == 8
    assert len(response.context["dashboard"].recommendations) == 3

    assert len(small.captured_queries) == len(large.captured_queries)


def test_cached_dashboard_costs_the_session_and_the_user_at_two_sizes(learner, learner_client,
                                                                      django_assert_max_num_queries):
    """Unchanged since the last visit: the page comes from the per-learner cache (progress/dashboard.py)."""
    for subjects, chapters, events, shown in ((2, 2, 10, 2), (6, 8, 400, 8)):
        build_curriculum(learner, subjects=subjects, chapters=chapters, steps=5, events=events)
        learning_paths.ensure_active_paths(learner=learner)  # (else the first visit builds it: a new version)
        fresh = learner_client.get(HOME)
        assert "dashboard" in fresh.context  # rendered
        with django_assert_max_num_queries(1) as cached:
            again = learner_client.get(HOME)
        assert again.context is None  # no template rendered: the whole page came from the cache
        (read,) = [q["sql"] for q in cached.captured_queries]
        assert read.startswith("SELECT s.session_data") and "learners_user u" in read  # the session with its user
        main = re.compile(r"<main.*</main>", re.S)  # (the navigation's forms carry a fresh CSRF token each time)
        assert main.search(again.content.decode()).group(0) == main.search(fresh.content.decode()).group(0)
        assert len(section(again.content.decode(), "subjects").split('class="card subject-card')) == shown + 1


@pytest.mark.parametrize("size", [2, 6])
def test_dashboard_first_visit_builds_path_in_bounded_queries(learner, learner_client, size,
                                                              django_assert_max_num_queries):
    build_curriculum(learner, subjects=size, chapters=size, steps=5, events=10)

    with django_assert_max_num_queries(20):
        response = learner_client.get(HOME)

    assert response.status_code == 200
    path = learner.learning_paths.get(is_active=True)
    assert len(path.steps_sequence) == size * size * 5


def test_recommendations_do_not_call_a_tie_the_lowest_subject(learner, learner_client, physics, chemistry):
    response = learner_client.get(HOME)
    items = response.context["dashboard"].recommendations
    assert response.context["dashboard"].focus is None
    assert items[0].reason == "a first step in Physics"
    assert "lowest" not in section(response.content.decode(), "recommendations")


# ---------------------------------------------------------------- drawn fragments


def test_learners_at_the_same_place_share_drawn_items_and_each_sees_the_current_ones(learner, learner_client,
                                                                                     physics, client):
    """The recommendations and the continue card are {% drawn %} fragments: shared between learners
    at the same place, drawn afresh when anything they show changes (a title, a percentage)."""
    from django.core.cache import cache

    from progress import drawn
    from progress.templatetags import mars_badges

    drawn._forget()
    _subject, (first, _second) = physics
    reading = steps_of(first)[0]
    start(learner, reading, percentage=20)
    mine = learner_client.get(HOME).content.decode()
    assert "20% done" in section(mine, "continue") and reading.title in section(mine, "recommendations")
    stored = len(mars_badges.fragments)

    other = UserFactory(username="ravi", first_name="Ravi", grade=12)
    start(other, reading, percentage=20)
    client.force_login(other)
    theirs = client.get(HOME).content.decode()
    assert len(mars_badges.fragments) == stored  # the same items: nothing drawn again
    assert section(theirs, "continue") == section(mine, "continue")
    assert section(theirs, "recommendations") == section(mine, "recommendations")

    LearningProgress.objects.filter(user=other, step=reading).update(completion_percentage=60)
    cache.clear()  # the pages drawn, not the fragments
    theirs = client.get(HOME).content.decode()
    assert "20% done" not in section(theirs, "continue") and "60% done" in section(theirs, "continue")
    reading.title = "Ohm's law, read again"
    reading.save()  # the curriculum changed: the cached pages and the snapshot are replaced
    theirs = client.get(HOME).content.decode()
    assert "Ohm&#x27;s law, read again: 60% done" in section(theirs, "continue")
    assert "Ohm&#x27;s law, read again" in section(theirs, "recommendations")
    assert "read again" not in mine
