"""Teacher reports: the class × chapter matrix, one learner's drill-down and the "needs attention" list.

Everything here reads; nothing writes. Numbers come from aggregate queries
and a fixed number of them whatever the class size (the matrix is three
queries for 40 learners × 30 chapters, and three for 400 × 300), so the page
and its CSV export are the same computation and always agree.

A cell is *steps done / steps in the chapter* ("done" = completed or
skipped, as everywhere). A learner's overall percentage is steps done over
steps in all the class's chapters, the same weighting as the learner's own
dashboard (``engine.overall_percentage``). The class's chapters are the
active chapters of the classroom's grade plus the grade-less ones (what a
learner of that class works through, ``Chapter.objects.for_grade``).
"""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from curriculum.models import Chapter

from . import engine
from .enums import DONE_STATUSES, PathType, Status
from .models import LearningPath, LearningProgress, ProgressEvent

# "Needs attention" thresholds (the teacher issue): no activity on an
# in-progress step for longer than this...
STALLED_AFTER = datetime.timedelta(days=7)
# ...the same quiz failed at least this many times (the engine sends the
# learner back to the reading at the same count)...
FAILED_QUIZ_ATTEMPTS = engine.REVIEW_AFTER_FAILED_ATTEMPTS
# ...or an overall percentage more than this many points below the class median.
BELOW_MEDIAN_POINTS = 25

# Matrix sort keys (the ``sort`` query parameter); "chapter:<slug>" sorts by one column.
ROW_SORTS = ("learner", "-learner", "overall", "-overall")
COLUMN_ORDERS = ("curriculum", "hardest")


# --------------------------------------------------------------------------
# The class × chapter matrix
# --------------------------------------------------------------------------

BANDS = {
    # band: (label shown next to the number, so colour is never the only signal)
    "none": gettext_lazy("not started"),
    "low": gettext_lazy("started"),
    "mid": gettext_lazy("halfway"),
    "done": gettext_lazy("done"),
    "empty": gettext_lazy("no steps"),
}


def band_for(percentage, total=1):
    """The colour band of a percentage: none (0), low (1–49), mid (50–99), done (100); empty without steps."""
    if not total:
        return "empty"
    if percentage >= 100:
        return "done"
    if percentage >= 50:
        return "mid"
    return "low" if percentage > 0 else "none"


def percentage(done, total):
    """Whole percent, rounded like the dashboard's rings; None when there is nothing to do."""
    return round(100 * done / total) if total else None


@dataclass(frozen=True)
class Cell:
    chapter: Chapter
    done: int
    total: int

    @property
    def percentage(self):
        return percentage(self.done, self.total)

    @property
    def band(self):
        return band_for(self.percentage or 0, self.total)

    @property
    def band_label(self):
        return BANDS[self.band]


@dataclass
class Row:
    learner: object
    cells: list[Cell]

    @property
    def done(self):
        return sum(c.done for c in self.cells)

    @property
    def total(self):
        return sum(c.total for c in self.cells)

    @property
    def percentage(self):
        return percentage(self.done, self.total) or 0

    @property
    def band(self):
        return band_for(self.percentage, self.total)

    def cell_for(self, chapter_id):
        return next((c for c in self.cells if c.chapter.pk == chapter_id), None)


@dataclass
class ColumnSummary:
    chapter: Chapter
    average: int | None  # the class's mean percentage in this chapter
    done_by: int  # learners who finished it


@dataclass
class ClassMatrix:
    classroom: object
    chapters: list[Chapter]
    rows: list[Row]
    columns: list[ColumnSummary] = field(default_factory=list)
    sort: str = "learner"
    column_order: str = "curriculum"

    @property
    def median(self):
        """The median of the learners' overall percentages (0 for an empty class)."""
        return class_median(self.rows)


def class_median(rows):
    values = [r.percentage for r in rows]
    return round(statistics.median(values)) if values else 0


def learner_display_name(user):
    return user.get_full_name() or user.username


def class_chapters(classroom):
    """The chapters a classroom works through, each annotated with ``steps_total``, in textbook order (one query)."""
    return list(
        Chapter.objects.for_grade(classroom.grade)
        .select_related("subject")
        .annotate(steps_total=Count("steps"))
        .order_by("subject__order", "subject__name", F("grade").asc(nulls_first=True), "order_index")
    )


def class_learners(classroom):
    """The classroom's learners, by name (one query)."""
    return list(
        get_user_model().objects.filter(classrooms=classroom).order_by("last_name", "first_name", "username")
    )


def _done_counts(learner_ids_query, chapter_ids):
    """``{(user_id, chapter_id): steps done}`` in one aggregate query."""
    rows = (
        LearningProgress.objects.filter(
            user__in=learner_ids_query, status__in=DONE_STATUSES, step__chapter_id__in=chapter_ids
        )
        .values_list("user_id", "step__chapter_id")
        .annotate(done=Count("pk"))
        .order_by()
    )
    return {(user_id, chapter_id): done for user_id, chapter_id, done in rows}


def class_matrix(*, classroom, sort="learner", column_order="curriculum") -> ClassMatrix:
    """Every learner of ``classroom`` × every chapter of its curriculum, in three queries.

    ``sort``: "learner" (by name), "overall" (by overall %, lowest first),
    "chapter:<slug>" (by that chapter's %, lowest first); a leading "-"
    reverses. ``column_order``: "curriculum" (textbook order) or "hardest"
    (lowest class average first). Unknown values fall back to the defaults.
    """
    chapters = class_chapters(classroom)
    learners = class_learners(classroom)
    counts = _done_counts(classroom.learners.values("pk"), [c.pk for c in chapters]) if learners and chapters else {}
    rows = [
        Row(learner=learner, cells=[
            Cell(chapter=c, done=min(counts.get((learner.pk, c.pk), 0), c.steps_total), total=c.steps_total)
            for c in chapters
        ])
        for learner in learners
    ]
    columns = []
    for index, chapter in enumerate(chapters):
        cells = [row.cells[index] for row in rows]
        values = [c.percentage for c in cells if c.percentage is not None]
        columns.append(ColumnSummary(
            chapter=chapter,
            average=round(sum(values) / len(values)) if values else None,
            done_by=sum(1 for c in cells if c.total and c.done >= c.total),
        ))

    if column_order == "hardest":
        # Stable: equal averages keep textbook order; chapters without steps go last.
        order = sorted(range(len(chapters)), key=lambda i: (columns[i].average is None, columns[i].average or 0))
        chapters = [chapters[i] for i in order]
        columns = [columns[i] for i in order]
        for row in rows:
            row.cells = [row.cells[i] for i in order]
    else:
        column_order = "curriculum"

    sort = _sort_rows(rows, chapters, sort)
    return ClassMatrix(
        classroom=classroom, chapters=chapters, rows=rows, columns=columns, sort=sort, column_order=column_order
    )


def _sort_rows(rows, chapters, sort):
    """Sort ``rows`` in place by ``sort``; returns the sort actually used."""
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    by_name = lambda r: (r.learner.last_name.casefold(), r.learner.first_name.casefold(), r.learner.username)  # noqa: E731
    if key == "overall":
        rows.sort(key=by_name)
        rows.sort(key=lambda r: r.percentage, reverse=descending)
    elif key.startswith("chapter:") and any(c.slug == key[8:] for c in chapters):
        index = next(i for i, c in enumerate(chapters) if c.slug == key[8:])
        rows.sort(key=by_name)
        rows.sort(key=lambda r: r.cells[index].percentage or 0, reverse=descending)
    else:
        key = "learner"
        rows.sort(key=by_name, reverse=descending)
    return f"-{key}" if descending else key


# --------------------------------------------------------------------------
# Needs attention
# --------------------------------------------------------------------------

ATTENTION_KINDS = {
    "stalled": gettext_lazy("Stalled"),
    "failed_quiz": gettext_lazy("Failed a quiz repeatedly"),
    "below_median": gettext_lazy("Far behind the class"),
}


@dataclass
class Attention:
    """One reason to look at one learner; ``step`` is the step concerned (None for "far behind")."""

    learner: object
    kind: str
    detail: str
    step: object = None
    days_idle: int | None = None
    failed_attempts: int | None = None
    percentage: int | None = None
    median: int | None = None
    remedial_path: object = None  # failed_quiz: the learner's active remedial path for the chapter, if any

    @property
    def kind_label(self):
        return ATTENTION_KINDS[self.kind]

    @property
    def chapter(self):
        return self.step.chapter if self.step is not None else None


def needs_attention(*, classroom, matrix=None, now=None) -> list[Attention]:
    """Learners of ``classroom`` who need a teacher, each with the reason; sorted by learner, then kind.

    * stalled: a step in progress with no activity (``updated_at``) for more than 7 days;
    * failed_quiz: an unfinished quiz failed at least twice (attempts scoring below the pass mark
      the learner is judged by);
    * below_median: overall percentage more than 25 points below the class median.

    One query for the first two (and one for the remedial paths when a quiz was failed), plus the
    matrix's three when ``matrix`` is not given.
    """
    now = now or timezone.now()
    matrix = matrix or class_matrix(classroom=classroom)
    cutoff = now - STALLED_AFTER
    items = []
    candidates = (
        LearningProgress.objects.filter(user__in=classroom.learners.values("pk"), status=Status.IN_PROGRESS)
        .filter(Q(updated_at__lt=cutoff) | Q(progress_data__criteria__type="quiz") | Q(step__step_type="quiz"))
        .select_related("user", "step__chapter__subject")
        .order_by("updated_at")
    )
    for row in candidates:
        if row.updated_at < cutoff:
            days = (now - row.updated_at).days
            items.append(Attention(
                learner=row.user, kind="stalled", step=row.step, days_idle=days,
                detail=_("no activity on “%(step)s” for %(days)d days") % {"step": row.step.title, "days": days},
            ))
        failed = engine.failed_attempts(progress=row, step=row.step)
        if failed >= FAILED_QUIZ_ATTEMPTS:
            best = (row.progress_data or {}).get("best_score")
            items.append(Attention(
                learner=row.user, kind="failed_quiz", step=row.step, failed_attempts=failed,
                detail=_("failed “%(step)s” %(n)d times (best score %(best)s%%, pass mark %(min)s%%)") % {
                    "step": row.step.title, "n": failed, "best": best if best is not None else 0,
                    "min": engine.criteria_for(row, row.step).get("min_score", "?"),
                },
            ))
    _attach_remedial_paths([i for i in items if i.kind == "failed_quiz"])
    median = matrix.median
    for matrix_row in matrix.rows:
        if matrix_row.total and median - matrix_row.percentage > BELOW_MEDIAN_POINTS:
            items.append(Attention(
                learner=matrix_row.learner, kind="below_median", percentage=matrix_row.percentage, median=median,
                detail=_("%(pct)d%% overall, %(gap)d points below the class median of %(median)d%%") % {
                    "pct": matrix_row.percentage, "gap": median - matrix_row.percentage, "median": median,
                },
            ))
    kinds = list(ATTENTION_KINDS)
    items.sort(key=lambda a: (
        a.learner.last_name.casefold(), a.learner.first_name.casefold(), a.learner.username, kinds.index(a.kind),
    ))
    return items


def _attach_remedial_paths(items):
    """The active remedial path of each failed-quiz item's learner and chapter (one query, none without items).

    The engine proposes one automatically after the second failed attempt (progress/paths.py).
    """
    if not items:
        return
    paths = {
        (path.user_id, path.chapter_id): path
        for path in LearningPath.objects.filter(
            user__in={i.learner.pk for i in items}, path_type=PathType.REMEDIAL, is_active=True
        )
    }
    for item in items:
        item.remedial_path = paths.get((item.learner.pk, item.step.chapter_id))


# --------------------------------------------------------------------------
# One learner's drill-down
# --------------------------------------------------------------------------

TIMELINE_LIMIT = 200


@dataclass
class StepLine:
    """One step as the teacher sees it: status, time, attempts and the engine's last verdict."""

    state: engine.StepState

    @property
    def step(self):
        return self.state.step

    @property
    def data(self):
        return (self.state.progress.progress_data if self.state.progress else None) or {}

    @property
    def attempts(self):
        return self.data.get("attempts", [])

    @property
    def scores(self):
        return [a.get("score") for a in self.attempts]

    @property
    def active_seconds(self):
        return int(self.data.get("active_seconds", 0))

    @property
    def verdict(self):
        return self.data.get("reason", "")


@dataclass
class LearnerReport:
    learner: object
    chapters: list  # [(ChapterState, [StepLine])]
    events: list
    rollups: list

    @property
    def overall(self):
        return engine.overall_percentage(self.rollups)


def learner_report(*, learner) -> LearnerReport:
    """Every step of the learner's curriculum with status and attempts, plus their recent history.

    A fixed number of queries: the engine's curriculum states and subject
    roll-ups, then the last 200 events.
    """
    states = engine.curriculum_states(learner=learner)
    chapters = [(state, [StepLine(s) for s in state.steps]) for state in states.values()]
    events = list(
        ProgressEvent.objects.filter(user=learner)
        .select_related("step__chapter", "actor")
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    return LearnerReport(
        learner=learner, chapters=chapters, events=events, rollups=engine.subject_rollups(learner=learner)
    )
