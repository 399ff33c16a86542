"""What the student dashboard at ``/`` shows, assembled from the engine as plain dataclasses.

``build_dashboard(learner=...)`` does every read; the view only renders the
result. It costs the same number of queries whatever the size of the
curriculum or of the learner's history (tests/progress/test_dashboard.py
guards it): the profile (1), ``engine.subject_rollups`` (2),
``engine.curriculum_states`` (3) and ``engine.active_minutes_by_day`` (1).
Recommendations, the continue card and the per-subject counts are computed
in Python from those results.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from curriculum.enums import StepType
from curriculum.models import Chapter
from learners.models import UserProfile

from . import engine
from . import paths as learning_paths
from .enums import Status

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


def _latest_in_progress(states):
    in_progress = [
        step_state
        for chapter_state in states.values()
        for step_state in chapter_state.steps
        if step_state.status == Status.IN_PROGRESS
    ]
    return max(in_progress, key=lambda s: s.progress.updated_at, default=None)


def _first_available(states):
    for chapter_state in states.values():
        for step_state in chapter_state.steps:
            if step_state.is_available and not step_state.is_done:
                return step_state
    return None


def _subject_cards(rollups, states):
    simulations = {}
    for chapter_state in states.values():
        done, total = simulations.get(chapter_state.chapter.subject_id, (0, 0))
        for step_state in chapter_state.steps:
            if step_state.step.step_type == StepType.INTERACTIVE:
                done, total = done + step_state.is_done, total + 1
        simulations[chapter_state.chapter.subject_id] = (done, total)
    return [
        SubjectCard(
            rollup=rollup,
            accent=index % ACCENT_COUNT,
            simulations_done=simulations.get(rollup.subject.pk, (0, 0))[0],
            simulations_total=simulations.get(rollup.subject.pk, (0, 0))[1],
        )
        for index, rollup in enumerate(rollups)
    ]


def build_dashboard(*, learner, today=None) -> StudentDashboard:
    """Everything the student dashboard shows for ``learner`` (reads only; bounded queries)."""
    today = today or timezone.localdate()
    profile, _created = UserProfile.objects.get_or_create(user=learner)
    rollups = engine.subject_rollups(learner=learner)
    paths = learning_paths.ensure_active_paths(learner=learner, profile=profile)
    states = engine.curriculum_states(
        learner=learner, chapters=Chapter.objects.for_grade(profile.grade), paths=paths
    )
    recommendations = engine.next_steps(learner=learner, limit=3, states=states, rollups=rollups, paths=paths)
    activity = engine.active_minutes_by_day(learner=learner, days=14, today=today)

    has_progress = any(
        step_state.status != Status.NOT_STARTED
        for chapter_state in states.values()
        for step_state in chapter_state.steps
    )
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
        subjects=_subject_cards(rollups, states),
        recommendations=recommendations,
        focus=_focus(rollups),
        continue_state=_latest_in_progress(states),
        start_state=None if has_progress else _first_available(states),
        has_progress=has_progress,
        all_done=bool(steps_total) and sum(r.steps_done for r in rollups) == steps_total,
        activity=activity,
        today=today,
    )
