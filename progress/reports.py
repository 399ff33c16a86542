"""Teacher reports: the class × chapter matrix, one learner's drill-down and the "needs attention" list.

Everything here reads; nothing writes. Numbers come from aggregate queries
and a fixed number of them whatever the class size (the matrix page shows one
subject at a time: three queries, the learners, their done steps per chapter
of that subject and their done steps over the whole curriculum, for 40
learners × 30 chapters and for 400 × 300; the CSV, every chapter, two; the
chapters come from the cached curriculum, curriculum/cache.py), so the page
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
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from curriculum import cache as curriculum_cache
from curriculum.enums import StepType
from curriculum.models import Chapter
from learners.models import UserProfile

from . import engine
from .enums import DONE_STATUSES, EventKind, PathType, Status
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
ROW_SORTS = ("learner", "-learner", "overall", "-overall", "subject", "-subject")
COLUMN_ORDERS = ("curriculum", "hardest")
# ``class_matrix(subject=FIRST_SUBJECT)``: the first subject of the class's curriculum (the page's default).
FIRST_SUBJECT = object()


class UnknownSubject(LookupError):
    """A subject code that is not in the class's curriculum (the page answers 404 with the subjects it has)."""

    def __init__(self, code, subjects):
        super().__init__(code)
        self.code = code
        self.subjects = subjects


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


class Cell:
    """One learner × one chapter: steps ``done`` of ``total`` and the rounded ``percentage`` (None without steps).

    A plain slotted class with the percentage worked out once: the CSV has
    40 × 800 of them, each read two or three times.
    """

    __slots__ = ("chapter", "done", "total", "percentage")

    def __init__(self, chapter, done, total):
        self.chapter = chapter
        self.done = done
        self.total = total
        self.percentage = round(100 * done / total) if total else None

    def __repr__(self):
        return f"Cell({self.chapter!r}, {self.done}, {self.total})"

    @property
    def band(self):
        return band_for(self.percentage or 0, self.total)

    @property
    def band_label(self):
        return BANDS[self.band]


@dataclass
class Row:
    """One learner: ``cells`` for the chapters shown; ``done``/``total`` over every chapter of the class.

    ``percentage`` is the learner's overall percentage across all subjects;
    ``subject_percentage`` the one over the chapters shown (one subject on the page).
    """

    learner: object
    cells: list[Cell]
    done: int = 0
    total: int = 0

    @property
    def percentage(self):
        return percentage(self.done, self.total) or 0

    @property
    def band(self):
        return band_for(self.percentage, self.total)

    @property
    def subject_done(self):
        return sum(c.done for c in self.cells)

    @property
    def subject_total(self):
        return sum(c.total for c in self.cells)

    @property
    def subject_percentage(self):
        return percentage(self.subject_done, self.subject_total) or 0

    @property
    def subject_band(self):
        return band_for(self.subject_percentage, self.subject_total)

    def cell_for(self, chapter_id):
        return next((c for c in self.cells if c.chapter.pk == chapter_id), None)


@dataclass
class ColumnSummary:
    chapter: Chapter
    average: int | None  # the class's mean percentage in this chapter
    done_by: int  # learners who finished it


@dataclass
class ClassMatrix:
    """``chapters``: the columns shown (one subject's, or every chapter when ``subject`` is None)."""

    classroom: object
    chapters: list[Chapter]
    rows: list[Row]
    columns: list[ColumnSummary] = field(default_factory=list)
    sort: str = "learner"
    column_order: str = "curriculum"
    subjects: list = field(default_factory=list)  # every subject of the class's curriculum, in order
    subject: object = None  # the Subject shown, None for all chapters

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
    """The chapters a classroom works through, each with ``steps_total``, in textbook order.

    From the grade's cached curriculum snapshot (curriculum/cache.py): no query
    while the curriculum is unchanged. The chapters are shared: read them, never change them.
    """
    return curriculum_cache.snapshot(classroom.grade).curriculum_chapters


def subjects_of(chapters):
    """The distinct subjects of ``chapters``, in their (textbook) order."""
    seen = {}
    for chapter in chapters:
        seen.setdefault(chapter.subject_id, chapter.subject)
    return list(seen.values())


def class_subjects(classroom):
    """The subjects of the class's curriculum, in order (no query while the curriculum is cached)."""
    return subjects_of(class_chapters(classroom))


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
        # COUNT(step_id), not COUNT(id): answered from the (user, status, step) index alone.
        .annotate(done=Count("step"))
        .order_by()
    )
    return {(user_id, chapter_id): done for user_id, chapter_id, done in rows}


def _done_totals(learner_ids_query, grade):
    """``{user_id: steps done in the grade's curriculum}`` in one aggregate query (one row per learner).

    The chapters go in as a subquery (``Chapter.objects.for_grade``, what the
    cached curriculum holds), not as a list of hundreds of ids to prepare.
    """
    rows = (
        LearningProgress.objects.filter(
            user__in=learner_ids_query, status__in=DONE_STATUSES,
            step__chapter_id__in=Chapter.objects.for_grade(grade).values("pk"),
        )
        .values_list("user_id")
        .annotate(done=Count("step"))
        .order_by()
    )
    return dict(rows)


def class_matrix(*, classroom, subject=None, sort="learner", column_order="curriculum") -> ClassMatrix:
    """The learners of ``classroom`` × the chapters of one subject (or all), in at most three queries.

    ``subject``: None for every chapter of the class's curriculum (the CSV),
    ``FIRST_SUBJECT`` for the first subject, else a subject code (raises
    ``UnknownSubject`` when the class has no such subject). The chapters come
    from the cached curriculum; then one query reads the learners, one the
    steps done per learner and chapter shown and, for one subject, one the
    steps done per learner over every chapter (each row's overall percentage,
    across all subjects).

    ``sort``: "learner" (by name), "overall" (by overall %, lowest first),
    "subject" (by the % of the chapters shown), "chapter:<slug>" (by that
    chapter's %, lowest first); a leading "-" reverses. ``column_order``:
    "curriculum" (textbook order) or "hardest" (lowest class average first).
    Unknown values fall back to the defaults.
    """
    all_chapters = class_chapters(classroom)
    subjects = subjects_of(all_chapters)
    chosen = None
    if subject is FIRST_SUBJECT:
        chosen = subjects[0] if subjects else None
    elif subject is not None:
        chosen = next((s for s in subjects if s.code == subject), None)
        if chosen is None:
            raise UnknownSubject(subject, subjects)
    chapters = [c for c in all_chapters if c.subject_id == chosen.pk] if chosen else list(all_chapters)
    learners = class_learners(classroom)
    learner_ids = classroom.learners.values("pk")
    counts = _done_counts(learner_ids, [c.pk for c in chapters]) if learners and chapters else {}
    by_learner = {}
    for (user_id, chapter_id), done in counts.items():
        by_learner.setdefault(user_id, {})[chapter_id] = done
    overall_total = sum(c.steps_total for c in all_chapters)
    keyed = [(c, c.pk, c.steps_total) for c in chapters]
    rows = []
    for learner in learners:
        mine = by_learner.get(learner.pk, {})
        cells = [Cell(c, min(mine.get(pk, 0), total), total) for c, pk, total in keyed]
        rows.append(Row(learner=learner, cells=cells, total=overall_total))
    if chosen is None:
        for row in rows:
            row.done = sum(c.done for c in row.cells)
    elif rows and all_chapters:
        totals = _done_totals(learner_ids, classroom.grade)
        for row in rows:
            row.done = min(totals.get(row.learner.pk, 0), overall_total)
    columns = []
    for index, chapter in enumerate(chapters):
        cells = [row.cells[index] for row in rows]
        values = [c.percentage for c in cells] if chapter.steps_total else []
        columns.append(ColumnSummary(
            chapter=chapter,
            average=round(sum(values) / len(values)) if values else None,
            done_by=sum(1 for c in cells if c.done >= c.total) if chapter.steps_total else 0,
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
        classroom=classroom, chapters=chapters, rows=rows, columns=columns, sort=sort, column_order=column_order,
        subjects=subjects, subject=chosen,
    )


def class_overview(*, classroom) -> ClassMatrix:
    """Each learner's overall percentage and no cells (two queries): what "needs attention" compares."""
    all_chapters = class_chapters(classroom)
    learners = class_learners(classroom)
    overall_total = sum(c.steps_total for c in all_chapters)
    totals = _done_totals(classroom.learners.values("pk"), classroom.grade) if (
        learners and all_chapters) else {}
    rows = [Row(learner=learner, cells=[], done=min(totals.get(learner.pk, 0), overall_total), total=overall_total)
            for learner in learners]
    _sort_rows(rows, [], "learner")
    return ClassMatrix(classroom=classroom, chapters=[], rows=rows, subjects=subjects_of(all_chapters))


def _sort_rows(rows, chapters, sort):
    """Sort ``rows`` in place by ``sort``; returns the sort actually used."""
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    by_name = lambda r: (r.learner.last_name.casefold(), r.learner.first_name.casefold(), r.learner.username)  # noqa: E731
    if key == "overall":
        rows.sort(key=by_name)
        rows.sort(key=lambda r: r.percentage, reverse=descending)
    elif key == "subject":
        rows.sort(key=by_name)
        rows.sort(key=lambda r: r.subject_percentage, reverse=descending)
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

    One query for the first two (and one for the remedial paths when a quiz was failed), plus
    ``class_overview``'s two when ``matrix`` (anything with rows of overall percentages) is not given.
    """
    now = now or timezone.now()
    matrix = matrix or class_overview(classroom=classroom)
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
    status_label: str = ""  # translated once per page (get_status_display per row was a tenth of the page)
    type_label: str = ""
    actions_html: str = ""  # the page's "Change…" form for this step (progress/views/reports.py)

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
    """``chapters``: the chapters of ``subject`` only (one subject per page); ``rollups``: every subject."""

    learner: object
    chapters: list  # [(ChapterState, [StepLine])]
    events: list
    rollups: list
    subject: object = None

    @property
    def overall(self):
        return engine.overall_percentage(self.rollups)

    @property
    def subject_rollup(self):
        return next((r for r in self.rollups if self.subject and r.subject.pk == self.subject.pk), None)


def learner_report(*, learner, subject=None) -> LearnerReport:
    """The steps of one subject of the learner's curriculum with status and attempts, plus their recent history.

    ``subject``: a subject code, None for the first subject (raises
    ``UnknownSubject`` when the learner's curriculum has no such subject).
    Every subject's roll-up comes along, for the overall numbers and the
    subject picker. A fixed number of queries: the learner's grade, the
    engine's curriculum states (the curriculum itself is cached), then the
    last 200 events.
    """
    grade = UserProfile.objects.filter(user=learner).values_list("grade", flat=True).first()
    states = engine.curriculum_states(learner=learner, snapshot=curriculum_cache.snapshot(grade))
    rollups = engine.rollups_from_states(states)
    subjects = [r.subject for r in rollups]
    if subject is None:
        chosen = subjects[0] if subjects else None
    else:
        chosen = next((s for s in subjects if s.code == subject), None)
        if chosen is None:
            raise UnknownSubject(subject, subjects)
    statuses = {value: str(label) for value, label in Status.choices}
    statuses[None] = _("Not started")  # no row yet
    types = {value: str(label) for value, label in StepType.choices}
    chapters = [
        (state, [
            StepLine(s, status_label=statuses[s.progress.status if s.progress else None],
                     type_label=types.get(s.step.step_type, s.step.step_type))
            for s in state.steps
        ])
        for state in states.values() if chosen is not None and state.chapter.subject_id == chosen.pk
    ]
    events = list(
        ProgressEvent.objects.filter(user=learner)
        .select_related("step__chapter", "actor")
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    kinds = {value: str(label) for value, label in EventKind.choices}
    for event in events:
        event.kind_label = kinds.get(event.kind, event.kind)
    return LearnerReport(learner=learner, chapters=chapters, events=events, rollups=rollups, subject=chosen)
