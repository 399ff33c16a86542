"""What the student dashboard at ``/`` shows, assembled from the engine as plain dataclasses.

``build_dashboard(learner=...)`` does every read; the view only renders the
result. It costs the same number of queries whatever the size of the
curriculum or of the learner's history (tests/progress/test_dashboard.py
guards it): the profile (1), the learner's active paths (1), their progress
rows as plain values (1: the curriculum's chapters and steps come from
curriculum/cache.py's snapshot) and ``engine.active_minutes_by_day`` (1).

Nothing here builds a state for every step of the curriculum (4,000 at
district scale): ``engine.CurriculumFrontier`` counts done steps per chapter
from the learner's rows, the subject roll-ups and simulation counts come from
those counts and the snapshot's totals, and the engine's availability rules
(``chapter_states``) run only on the chapters the continue card, the start
card and the recommendations need. tests/progress/test_dashboard_equivalence.py
holds the result to the full ``curriculum_states`` computation.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from curriculum import cache as curriculum_cache
from learners.models import profile_of

from . import engine
from . import versions as progress_versions

# Subject cards cycle through this many accent colours (dashboard.css .accent-0 ...).
ACCENT_COUNT = 6


class Curriculum:
    """Why the dashboard may have little to show (template: ``dashboard.curriculum``)."""

    OK = "ok"
    NO_GRADE = "no_grade"  # the learner has not said which class they are in
    NO_CHAPTERS = "no_chapters"  # their class has no active chapters yet


@dataclass(frozen=True)
class SubjectCard:
    rollup: engine.SubjectRollup
    accent: int
    simulations_done: int
    simulations_total: int

    @property
    def subject(self):
        return self.rollup.subject

    @property
    def percentage(self):
        return self.rollup.percentage

    @property
    def ring_label(self):
        return _("%(subject)s: %(pct)d%% of steps done") % {"subject": self.subject.name, "pct": self.percentage}


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    email: str
    grade: int | None
    background_level: str
    subjects_count: int
    overall_percentage: int


@dataclass(frozen=True)
class StudentDashboard:
    profile: ProfileSummary
    curriculum: str
    subjects: list[SubjectCard]
    recommendations: list[engine.Recommendation]
    focus: engine.SubjectRollup | None  # the subject strictly behind the others, if any
    continue_state: engine.StepState | None  # the most recently touched step still in progress
    start_state: engine.StepState | None  # where to begin, for a learner with no progress yet
    has_progress: bool
    all_done: bool
    activity: list[engine.DayActivity]
    today: datetime.date


def _focus(rollups):
    """The subject that lags behind the others, if one does (as engine.next_steps ranks them)."""
    ranked = sorted(rollups, key=lambda r: r.percentage)
    if len(ranked) > 1 and ranked[0].percentage < ranked[1].percentage:
        return ranked[0]
    return None


def _subject_cards(rollups, frontier):
    done, totals = frontier.interactive_done, frontier.simulations_total()
    return [
        SubjectCard(
            rollup=rollup,
            accent=index % ACCENT_COUNT,
            simulations_done=done.get(rollup.subject.pk, 0),
            simulations_total=totals.get(rollup.subject.pk, 0),
        )
        for index, rollup in enumerate(rollups)
    ]


def build_dashboard(*, learner, today=None, profile=None, snapshot=None) -> StudentDashboard:
    """Everything the student dashboard shows for ``learner`` (reads only; bounded queries)."""
    today = today or timezone.localdate()
    profile = profile or profile_of(learner)
    # The main path's step order is read only if two steps of one chapter are open at once (next_steps).
    frontier = engine.CurriculumFrontier.for_learner(learner, profile=profile, snapshot=snapshot)
    paths = frontier.paths
    rollups = frontier.rollups()
    recommendations = engine.next_steps(learner=learner, limit=3, rollups=rollups, paths=paths, frontier=frontier)
    activity = engine.active_minutes_by_day(learner=learner, days=14, today=today)
    has_progress = frontier.has_progress
    if profile.grade is None:
        curriculum = Curriculum.NO_GRADE
    elif not rollups:
        curriculum = Curriculum.NO_CHAPTERS
    else:
        curriculum = Curriculum.OK
    overall = engine.overall_percentage(rollups)
    steps_total = sum(r.steps_total for r in rollups)
    return StudentDashboard(
        profile=ProfileSummary(
            name=learner.get_full_name() or learner.get_username(),
            email=learner.email,
            grade=profile.grade,
            background_level=profile.get_background_level_display(),
            subjects_count=len(rollups),
            overall_percentage=overall,
        ),
        curriculum=curriculum,
        subjects=_subject_cards(rollups, frontier),
        recommendations=recommendations,
        focus=_focus(rollups),
        continue_state=frontier.latest_in_progress(),
        start_state=None if has_progress else frontier.first_available(),
        has_progress=has_progress,
        all_done=bool(steps_total) and sum(r.steps_done for r in rollups) == steps_total,
        activity=activity,
        today=today,
    )


def _cache_key(learner, profile, today):
    """Names everything the rendered dashboard depends on but the curriculum; any change makes a new key.

    The learner's progress, events and paths (``progress_version``, progress/versions.py), the
    profile and name it shows, the language it is written in and the day (the activity chart ends
    today). The curriculum's version is checked beside the key (``cached_html(curriculum=True)``).
    """
    shown = (profile.updated_at, profile.grade, profile.background_level, learner.username, learner.first_name,
             learner.last_name, learner.email)
    return (f"dashboard:{curriculum_cache.database_tag()}:{learner.pk}:{profile.progress_version}:"
            f"{profile.grade}:{translation.get_language()}:{today.isoformat()}:{progress_versions.fingerprint(shown)}")


def _render_fragment(learner, profile, today, version):
    snapshot = curriculum_cache.snapshot(profile.grade, version=version)
    dashboard = build_dashboard(learner=learner, today=today, profile=profile, snapshot=snapshot)
    return render_to_string("progress/_dashboard.html", {"dashboard": dashboard, "user": learner})


def dashboard_html(learner) -> str:
    """The dashboard's content for ``learner`` as HTML: from the cache while nothing it shows has changed.

    A cached copy costs one cache round trip, the page and the curriculum version together (no
    query: the progress version and profile came with the user). Rendering it afresh costs the
    queries of ``build_dashboard`` and most of the page's time (the subject cards, rings and chart:
    docs/performance.md "District scale"). The fragment holds nothing tied to the request (no CSRF
    token, no messages: base.html draws those each time). ``PROGRESS_CACHE_SECONDS`` bounds how long
    a change made behind the engine's back (raw SQL) can go unseen; 0 turns the cache off.
    """
    today = timezone.localdate()
    profile = profile_of(learner)
    html = progress_versions.cached_html(
        _cache_key(learner, profile, today), lambda version: _render_fragment(learner, profile, today, version),
        level=1, curriculum=True,
    )
    return mark_safe(html)  # noqa: S308 - our own template


def _has_messages(request):
    return len(messages.get_messages(request)) > 0  # len() reads them without marking them shown


def dashboard_response(request) -> HttpResponse:
    """The learner's whole dashboard page, chrome included, from the cache while nothing on it has changed.

    A learner's plain ``GET /`` (no query string, no flash message waiting) is stored as the whole
    page: what base.html draws around the content depends on nothing but what the cache key names
    (the learner's names, the language, that this is "/" for the language switcher's ``next``)
    and the CSRF token. The token is drawn as a placeholder that only the server can name (an
    HMAC of the key under ``SECRET_KEY``) and replaced on every response by this request's own
    masked token (``get_token``, which also sets the cookie when there is none, as rendering the
    tag does). A hit is then one cache round trip and a string replacement, instead of rendering
    base.html. Anything else (messages, a query string) renders the page around the cached
    content as before.
    """
    learner = request.user
    if request.GET or _has_messages(request):
        return render(request, "progress/home.html", {"dashboard_html": dashboard_html(learner)})
    today = timezone.localdate()
    profile = profile_of(learner)
    key = f"page:{_cache_key(learner, profile, today)}"
    placeholder = salted_hmac("progress.dashboard.csrf-placeholder", key).hexdigest()

    def render_page(version):
        content = mark_safe(_render_fragment(learner, profile, today, version))  # noqa: S308 - our own template
        return render_to_string("progress/home.html", {"dashboard_html": content, "csrf_token": placeholder},
                                request=request)

    page = progress_versions.cached_html(key, render_page, level=1, curriculum=True)
    return HttpResponse(page.replace(placeholder, get_token(request)))
