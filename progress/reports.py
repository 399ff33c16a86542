"""Teacher reports: the class × chapter matrix, one learner's drill-down and the "needs attention" list.

Everything here reads the database; nothing writes it. Numbers come from a
fixed number of queries whatever the class size (the matrix, one subject at
a time, and its CSV, every chapter: two, the learners with their progress
versions and, for those whose counts are not cached, their done steps; the
chapters come from the cached curriculum, curriculum/cache.py), so the page
and its CSV export are the same computation and always agree. Each learner's
steps done per chapter are cached under their progress version
(``done_by_chapter``).

The matrix page is cached as rendered HTML (progress/views/reports.py) under
``matrix_cache_key``: a name for everything the page shows (who is in the
class and each one's progress version and name, the curriculum version, the
subject, sort and column order, the language). Reading that name costs the
learners' query alone, which the page needs anyway.

A cell is *steps done / steps in the chapter* ("done" = completed or
skipped, as everywhere). A learner's overall percentage is steps done over
steps in all the class's chapters, the same weighting as the learner's own
dashboard (``engine.overall_percentage``). The class's chapters are the
active chapters of the classroom's grade plus the grade-less ones (what a
learner of that class works through, ``Chapter.objects.for_grade``).
"""

from __future__ import annotations

import datetime
import functools
import statistics
from array import array
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from curriculum import cache as curriculum_cache
from curriculum.enums import StepType
from curriculum.models import Chapter
from learners.models import UserProfile

from . import engine
from . import versions as progress_versions
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

    @functools.cached_property
    def subject_done(self):
        # Cached: the page reads the subject's percentage and band several times per row.
        return sum(c.done for c in self.cells)

    @functools.cached_property
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
    """The classroom's learners, by name, each with ``progress_version`` (one query; names and username only).

    ``progress_version`` is the learner's progress version (progress/versions.py; None without a
    profile): with the names it is what ``matrix_cache_key`` needs, so a cached page costs this query.
    """
    return list(
        get_user_model().objects.filter(classrooms=classroom)
        .only("username", "first_name", "last_name")  # what the reports show
        .annotate(progress_version=F("profile__progress_version"))
        .order_by("last_name", "first_name", "username")
    )


def choose_subject(subjects, subject):
    """The Subject ``class_matrix`` shows: None for every chapter, the first for ``FIRST_SUBJECT``, else by code.

    Raises ``UnknownSubject`` for a code the class's curriculum does not have.
    """
    if subject is None:
        return None
    if subject is FIRST_SUBJECT:
        return subjects[0] if subjects else None
    chosen = next((s for s in subjects if s.code == subject), None)
    if chosen is None:
        raise UnknownSubject(subject, subjects)
    return chosen


def row_sort(sort, chapters):
    """The sort ``class_matrix`` applies for the ``sort`` parameter: unknown keys become "learner" (or "-learner")."""
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in ("overall", "subject") and not (
            key.startswith("chapter:") and any(c.slug == key[8:] for c in chapters)):
        key = "learner"
    return f"-{key}" if descending else key


def column_order_of(column_order):
    """The column order ``class_matrix`` applies: "hardest", else "curriculum"."""
    return column_order if column_order in COLUMN_ORDERS else "curriculum"


def matrix_cache_key(*, classroom, learners, version, subject, sort, column_order):
    """A name for everything the class matrix page shows; None when it cannot be named (then render afresh).

    ``learners``: ``class_learners(classroom)`` (who is in the class, in order, with each one's
    ``progress_version``, which every change to their progress replaces in the same transaction,
    and the names the page shows); ``version``: the curriculum snapshot's version (the chapters,
    their steps, titles and languages); ``subject``, ``sort``, ``column_order``: as applied
    (``choose_subject``, ``row_sort``, ``column_order_of``); the classroom's name and grade;
    the active language. Nothing on the page depends on the time of day or on who is looking
    (the caller checks that they may see this class first). A learner without a profile has no
    version that a write would change: no key.
    """
    if not version or any(learner.progress_version is None for learner in learners):
        return None
    shown = (
        classroom.name, classroom.grade, subject.code if subject else None, sort, column_order,
        [(lr.pk, lr.progress_version, lr.username, lr.first_name, lr.last_name) for lr in learners],
    )
    digest = progress_versions.fingerprint(shown, digest_size=16)
    return (f"reports:matrix:{curriculum_cache.database_tag()}:{classroom.pk}:{version}:"
            f"{translation.get_language()}:{digest}")


@dataclass(frozen=True)
class CurriculumIndex:
    """What the reports look up in a grade's curriculum snapshot, worked out once per snapshot.

    ``subjects`` in order; ``by_subject``: subject pk → its chapters; ``positions``: chapter pk →
    position in ``snapshot.curriculum_chapters``; ``step_positions``: the same position for each of
    those chapters' steps, by the step id as text in both spellings (hex as SQLite stores a UUID,
    with dashes as PostgreSQL writes one).
    """

    subjects: list
    by_subject: dict
    positions: dict
    step_positions: dict


def curriculum_index(snapshot) -> CurriculumIndex:
    """The ``CurriculumIndex`` of ``snapshot`` (800 chapters, 4,000 steps: built once, then a dict lookup)."""
    key = (snapshot.grade, snapshot.version, snapshot.built_at)
    index = _INDEXES.get(key)
    if index is None:
        chapters = snapshot.curriculum_chapters
        positions = {chapter.pk: i for i, chapter in enumerate(chapters)}
        by_subject = {}
        for chapter in chapters:
            by_subject.setdefault(chapter.subject_id, []).append(chapter)
        steps = {}
        for step in snapshot.steps:
            position = positions.get(step.chapter_id)
            if position is not None:
                steps[step.pk.hex] = steps[str(step.pk)] = position
        index = CurriculumIndex(subjects=subjects_of(chapters), by_subject=by_subject, positions=positions,
                                step_positions=steps)
        if not snapshot.version:
            return index  # built for one request (the cache is down): keep nothing
        if len(_INDEXES) >= 32:  # a few grades × the odd curriculum edit: older entries are garbage
            _INDEXES.clear()
        _INDEXES[key] = index
    return index


_INDEXES = {}


def _done_key(snapshot, learner):
    return (f"reports:done:{curriculum_cache.database_tag()}:{snapshot.version}:{snapshot.grade}:"
            f"{learner.pk}:{learner.progress_version}")


def done_by_chapter(learners, snapshot):
    """``{learner pk: steps done in each chapter of the curriculum}``, in ``snapshot.curriculum_chapters`` order.

    ``learners``: from ``class_learners`` (each with its ``progress_version``). Each learner's
    counts are cached under their progress version and the curriculum version, so a page whose
    class changed in one learner's progress counts that learner again and reads the others from
    the cache (one ``get_many``). The learners not cached are counted in one query, none if every
    learner was cached: their done steps' ids, read from the (user, status, step) index alone, are
    counted per chapter here through the snapshot (no join, no GROUP BY; the ids come as text, so
    no UUID is built per row): half the CPU of the grouped join on SQLite, about the same on
    PostgreSQL (docs/performance.md "Class report cache").
    """
    index = curriculum_index(snapshot)
    chapters, steps = index.positions, index.step_positions
    seconds = settings.PROGRESS_CACHE_SECONDS
    keys = {}
    if seconds and snapshot.version:
        keys = {learner.pk: _done_key(snapshot, learner) for learner in learners
                if learner.progress_version is not None}
    cached = cache.get_many(keys.values()) if keys else {}
    done = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [learner.pk for learner in learners if learner.pk not in done]
    if not missing:
        return done
    fresh = {pk: array("H", bytes(2 * len(chapters))) for pk in missing}
    if chapters:
        rows = (
            LearningProgress.objects.filter(user__in=missing, status__in=DONE_STATUSES)
            .values_list("user_id", Cast("step_id", TextField()))
            .order_by()
        )
        for user_id, step_id in rows:
            position = steps.get(step_id)
            if position is not None:  # else a step outside the class's curriculum (another class, retired)
                fresh[user_id][position] += 1
    done.update(fresh)
    to_store = {keys[pk]: counts for pk, counts in fresh.items() if pk in keys}
    if to_store:
        cache.set_many(to_store, seconds)
    return done


def class_matrix(*, classroom, subject=None, sort="learner", column_order="curriculum", learners=None,
                 snapshot=None) -> ClassMatrix:
    """The learners of ``classroom`` × the chapters of one subject (or all), in at most two queries.

    ``subject``: None for every chapter of the class's curriculum (the CSV),
    ``FIRST_SUBJECT`` for the first subject, else a subject code (raises
    ``UnknownSubject`` when the class has no such subject). The chapters come
    from the cached curriculum; then one query reads the learners and
    ``done_by_chapter`` their steps done in every chapter (one query, none
    when every learner's counts are cached): the cells shown and each row's
    overall percentage, across all subjects.

    ``sort``: "learner" (by name), "overall" (by overall %, lowest first),
    "subject" (by the % of the chapters shown), "chapter:<slug>" (by that
    chapter's %, lowest first); a leading "-" reverses. ``column_order``:
    "curriculum" (textbook order) or "hardest" (lowest class average first).
    Unknown values fall back to the defaults.

    ``learners`` (``class_learners(classroom)``) and ``snapshot`` (the grade's
    curriculum snapshot) when the caller already has them: one query less.
    """
    snapshot = snapshot or curriculum_cache.snapshot(classroom.grade)
    index = curriculum_index(snapshot)
    all_chapters = snapshot.curriculum_chapters
    subjects = index.subjects
    chosen = choose_subject(subjects, subject)
    chapters = list(index.by_subject[chosen.pk]) if chosen else list(all_chapters)
    learners = class_learners(classroom) if learners is None else learners
    done = done_by_chapter(learners, snapshot) if learners and all_chapters else {}
    positions = index.positions
    overall_total = sum(c.steps_total for c in all_chapters)
    keyed = [(c, positions[c.pk], c.steps_total) for c in chapters]
    rows = []
    for learner in learners:
        mine = done.get(learner.pk)
        if mine is None:
            cells = [Cell(c, 0, total) for c, _position, total in keyed]
        else:
            cells = [Cell(c, min(mine[position], total), total) for c, position, total in keyed]
        row = Row(learner=learner, cells=cells, total=overall_total)
        if chosen is None:
            row.done = sum(c.done for c in cells)
        elif mine is not None:
            row.done = min(sum(mine), overall_total)
        rows.append(row)
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
    """Each learner's overall percentage and no cells (at most two queries): what "needs attention" compares."""
    snapshot = curriculum_cache.snapshot(classroom.grade)
    all_chapters = snapshot.curriculum_chapters
    learners = class_learners(classroom)
    overall_total = sum(c.steps_total for c in all_chapters)
    done = done_by_chapter(learners, snapshot) if learners and all_chapters else {}
    rows = [Row(learner=learner, cells=[], done=min(sum(done.get(learner.pk, ())), overall_total),
                total=overall_total)
            for learner in learners]
    _sort_rows(rows, [], "learner")
    return ClassMatrix(classroom=classroom, chapters=[], rows=rows, subjects=curriculum_index(snapshot).subjects)


def _sort_rows(rows, chapters, sort):
    """Sort ``rows`` in place by ``sort``; returns the sort actually used (``row_sort``)."""
    sort = row_sort(sort, chapters)
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    by_name = lambda r: (r.learner.last_name.casefold(), r.learner.first_name.casefold(), r.learner.username)  # noqa: E731
    if key == "overall":
        rows.sort(key=by_name)
        rows.sort(key=lambda r: r.percentage, reverse=descending)
    elif key == "subject":
        rows.sort(key=by_name)
        rows.sort(key=lambda r: r.subject_percentage, reverse=descending)
    elif key.startswith("chapter:"):
        index = next(i for i, c in enumerate(chapters) if c.slug == key[8:])
        rows.sort(key=by_name)
        rows.sort(key=lambda r: r.cells[index].percentage or 0, reverse=descending)
    else:
        rows.sort(key=by_name, reverse=descending)
    return sort


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
