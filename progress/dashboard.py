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
import hashlib
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from curriculum import cache as curriculum_cache
from learners.models import profile_of

from . import engine
from . import paths as learning_paths
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
    paths = learning_paths.ensure_active_paths(learner=learner, profile=profile)
    frontier = engine.CurriculumFrontier(
        learner=learner, snapshot=snapshot or curriculum_cache.snapshot(profile.grade), paths=paths
    )
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


def _cache_key(learner, profile, snapshot, today):
    """Names everything the rendered dashboard depends on; any change makes a new key.

    The learner's progress, events and paths (``progress_version``, progress/versions.py), the
    profile and name it shows, the curriculum (the snapshot's version), the language it is written
    in and the day (the activity chart ends today).
    """
    shown = (profile.updated_at, profile.grade, profile.background_level, learner.username, learner.first_name,
             learner.last_name, learner.email)
    fingerprint = hashlib.blake2b(repr(shown).encode(), digest_size=8).hexdigest()
    return (f"dashboard:{curriculum_cache.database_tag()}:{learner.pk}:{profile.progress_version}:"
            f"{snapshot.version}:{translation.get_language()}:{today.isoformat()}:{fingerprint}")


def dashboard_html(learner) -> str:
    """The dashboard's content for ``learner`` as HTML: from the cache while nothing it shows has changed.

    A cached copy costs one cache ``get`` (no query: the version and profile came with the user).
    Rendering it afresh costs the queries of ``build_dashboard`` and most of the page's time (the
    subject cards, rings and chart: docs/performance.md "District scale"). The fragment holds
    nothing tied to the request (no CSRF token, no messages: base.html draws those each time).
    ``PROGRESS_CACHE_SECONDS`` bounds how long a change made behind the engine's back (raw SQL)
    can go unseen; 0 turns the cache off.
    """
    today = timezone.localdate()
    profile = profile_of(learner)
    snapshot = curriculum_cache.snapshot(profile.grade)
    key = _cache_key(learner, profile, snapshot, today) if snapshot.version else None

    def render():
        dashboard = build_dashboard(learner=learner, today=today, profile=profile, snapshot=snapshot)
        return render_to_string("progress/_dashboard.html", {"dashboard": dashboard, "user": learner})

    # ~30 KB of HTML, ~4 KB stored (0.13 ms to compress once, 0.06 ms to read).
    return mark_safe(progress_versions.cached_html(key, render, level=1))  # noqa: S308 - our own template
