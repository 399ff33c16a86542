"""Learning paths (seed: LearningPath): default, personalized by background level, and remedial.

A path is an explainable ordering of steps; it never grants progress by
itself. The engine consults the learner's active paths for three things only:
a test-out quiz may be taken before the rest of its chapter, steps a path
marks ``skippable`` may be skipped by the learner, and a failed-twice quiz
proposes a remedial path. Everything here writes LearningPath rows only
(plus a PATH event when a path changes), and costs a fixed number of queries.

``step_notes`` on a path: ``{step_id: {"note": str, "skippable": bool,
"test_out": bool, "reviewed": bool}}``; ``omitted``: ``{step_id: reason}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from curriculum.enums import StepType
from curriculum.models import Chapter, LearningStep
from learners.enums import BackgroundLevel
from learners.models import UserProfile
from mars_labs import rows as raw_rows

from .enums import DONE_STATUSES, EventKind, PathType, Status
from .models import LearningPath, LearningProgress, PathRule, ProgressEvent

TESTED_OUT = "tested out"


def optional_note():
    return _("optional for intermediate learners")


@dataclass
class PathPlan:
    """A path before it is saved: what ``rebuild_main_path`` compares and writes."""

    path_type: str
    name: str
    description: str
    steps: list = field(default_factory=list)  # step ids (str) in order
    step_notes: dict = field(default_factory=dict)
    omitted: dict = field(default_factory=dict)


# --------------------------------------------------------------------------
# Curriculum order
# --------------------------------------------------------------------------


def _prerequisites_first(chapters):
    """Stable order in which no chapter comes before its prerequisite (loops are left as they are)."""
    by_id = {c.pk: c for c in chapters}
    placed, order = set(), []

    def place(chapter, visiting):
        if chapter.pk in placed or chapter.pk in visiting:
            return
        prerequisite = by_id.get(chapter.prerequisite_chapter_id)
        if prerequisite is not None:
            place(prerequisite, visiting | {chapter.pk})
        placed.add(chapter.pk)
        order.append(chapter)

    for chapter in chapters:
        place(chapter, frozenset())
    return order


def curriculum_sequence(grade):
    """Active chapters of ``grade`` (and grade-less ones) with their steps, in curriculum order.

    Subject order, then chapter order with every prerequisite chapter first,
    then step order. Two queries. Returns ``[(chapter, [steps])]``.
    """
    chapters = list(
        Chapter.objects.for_grade(grade)
        .select_related("subject")
        .order_by("subject__order", "subject__name", F("grade").asc(nulls_first=True), "order_index")
    )
    steps = {}
    for step in LearningStep.objects.filter(chapter__in=chapters).order_by("order_index"):
        steps.setdefault(step.chapter_id, []).append(step)
    return [(chapter, steps.get(chapter.pk, [])) for chapter in _prerequisites_first(chapters)]


# --------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------


def rule_for(level):
    """The PathRule for a background level; a missing rule means the full sequence."""
    return PathRule.objects.filter(background_level=level).first() or PathRule(background_level=level)


def plan_main_path(*, learner, profile=None) -> PathPlan:
    """The learner's default or personalized path, from their class and background level's rule."""
    profile = profile or UserProfile.objects.get(user=learner)
    rule = rule_for(profile.background_level)
    level = BackgroundLevel(profile.background_level).label
    personalized = rule.leave_out_optional or rule.test_out
    plan = PathPlan(
        path_type=PathType.PERSONALIZED if personalized else PathType.DEFAULT,
        name=_("Your path for class %(grade)s") % {"grade": profile.grade} if profile.grade else _("Your path"),
        description=(
            _("Personalized for %(level)s learners.") % {"level": level}
            if personalized else _("Every step of your class, in order.")
        ),
    )
    sequence = curriculum_sequence(profile.grade)
    # What the learner already did decides too, so a rebuild never undoes a test-out:
    # a quiz already attempted is no longer a test-out, and tested-out steps keep their note.
    history = dict(
        LearningProgress.objects.filter(user=learner, step__chapter__in=[c for c, _steps in sequence])
        .filter(Q(step__step_type=StepType.QUIZ) | Q(status=Status.SKIPPED))
        .values_list("step_id", "progress_data")
    )
    for _chapter, steps in sequence:
        quiz = next((s for s in steps if s.step_type == StepType.QUIZ), None)
        ordered = steps
        for step in steps:
            if (history.get(step.pk) or {}).get("reason") == TESTED_OUT:
                plan.step_notes[str(step.pk)] = {"note": TESTED_OUT, "skippable": True}
        if quiz is not None and (history.get(quiz.pk) or {}).get("attempts"):
            quiz = None  # already attempted: work through the chapter in order
        if rule.test_out and quiz is not None:
            ordered = [quiz, *[s for s in steps if s is not quiz]]
            plan.step_notes[str(quiz.pk)] = {
                "test_out": True, "note": _("test out: pass this quiz first to skip the rest of the chapter"),
            }
            for step in steps:
                if step is not quiz and str(step.pk) not in plan.step_notes:
                    plan.step_notes[str(step.pk)] = {"note": _("skipped if you test out"), "skippable_if": TESTED_OUT}
        for step in ordered:
            if rule.leave_out_optional and step.optional_for_intermediate:
                plan.omitted[str(step.pk)] = optional_note()
                plan.step_notes[str(step.pk)] = {"note": optional_note(), "skippable": True}
                continue
            plan.steps.append(str(step.pk))
    return plan


def active_paths(*, learner, main_sequence=True):
    """``(main_path or None, [active remedial paths])`` in one query.

    ``main_sequence=False``: the main path comes without its ``steps_sequence``, read (one query)
    only if something asks for it. That is every step of the class in order, about 160 KB of JSON
    at district scale, which the dashboard needs only to order two steps open at once in one
    chapter. Remedial paths (a few steps each) keep theirs, in one more query when there are any.
    """
    connection = connections[router.db_for_read(LearningPath)]
    without = () if main_sequence else ("steps_sequence",)
    # Hand-written (mars_labs/rows.py): every page of a learner runs it, and compiling the ORM's
    # query cost more than PostgreSQL's work (about 1 ms of a fresh dashboard's 10).
    sql = (f"SELECT {raw_rows.columns(LearningPath, 'p', without)} FROM {LearningPath._meta.db_table} p "
           f"WHERE p.user_id = %s AND p.is_active = %s ORDER BY p.created_at")
    with connection.cursor() as cursor:
        cursor.execute(sql, [learner.pk, True])
        found = [raw_rows.from_row(row, (LearningPath,), connection.alias, without)[0] for row in cursor.fetchall()]
    main, remedial = None, []
    for path in found:
        if path.path_type == PathType.REMEDIAL:
            remedial.append(path)
        else:
            main = path
    if remedial and not main_sequence:
        sequences = dict(LearningPath.objects.filter(pk__in=[p.pk for p in remedial])
                         .values_list("pk", "steps_sequence"))
        for path in remedial:
            path.steps_sequence = sequences[path.pk]
    return main, remedial


def ensure_active_paths(*, learner, profile=None, main_sequence=True):
    """``active_paths``, building the main path first if the learner has none yet (its first page view)."""
    main, remedial = active_paths(learner=learner, main_sequence=main_sequence)
    if main is None and (profile or UserProfile.objects.get(user=learner)).grade is not None:
        main = rebuild_main_path(learner=learner).path
    return main, remedial


def _log_path(*, path, reason, actor=None, **data):
    ProgressEvent.objects.create(
        user_id=path.user_id, kind=EventKind.PATH, actor=actor, reason=reason, data={"path": str(path.pk), **data},
        created_at=timezone.now(),
    )


@dataclass
class RebuildResult:
    learner: object
    changed: bool
    summary: str
    path: LearningPath | None = None


def rebuild_main_path(*, learner, dry_run=False, actor=None) -> RebuildResult:
    """Build the learner's main path afresh from their class and level; save it if it differs.

    Changes: the active main LearningPath (updated in place, or created), a
    PATH event naming what changed. With ``dry_run`` nothing is written.
    """
    profile = UserProfile.objects.get(user=learner)
    plan = plan_main_path(learner=learner, profile=profile)
    with transaction.atomic():
        current = (
            LearningPath.objects.select_for_update()
            .filter(user=learner, is_active=True).exclude(path_type=PathType.REMEDIAL).first()
        )
        if current is not None and (
            current.steps_sequence == plan.steps and current.path_type == plan.path_type
            and current.omitted == plan.omitted and current.step_notes == plan.step_notes
        ):
            return RebuildResult(learner, False, _("unchanged"), current)
        before = len(current.steps_sequence) if current else 0
        summary = _("%(type)s path: %(before)d → %(after)d steps, %(omitted)d left out") % {
            "type": PathType(plan.path_type).label, "before": before, "after": len(plan.steps),
            "omitted": len(plan.omitted),
        }
        if dry_run:
            return RebuildResult(learner, True, summary, current)
        path = current or LearningPath(user=learner)
        path.path_type, path.name, path.description = plan.path_type, plan.name, plan.description
        path.steps_sequence, path.step_notes, path.omitted = plan.steps, plan.step_notes, plan.omitted
        path.save()
        _log_path(path=path, actor=actor, reason=summary, steps=len(plan.steps))
    return RebuildResult(learner, True, summary, path)


# --------------------------------------------------------------------------
# Test-out and remedial (called by the engine inside its transaction)
# --------------------------------------------------------------------------


def test_out_step_ids(main_path):
    """Quiz steps the learner may take before the rest of their chapter."""
    if main_path is None:
        return set()
    return {step_id for step_id, note in main_path.step_notes.items() if note.get("test_out")}


# ``step in test_out_step_ids(main path)`` asked of the database: every quiz submit needs only
# this yes or no, and loading the path for it meant reading and decoding its JSON (about 150 KB
# of step ids for a 4,000-step class, as much again in notes for a test-out level). The note's
# ``test_out`` is written as JSON true (plan_main_path); the JSON path is a parameter.
_TEST_OUT_SQL = {
    "sqlite": "json_extract(step_notes, %(note)s) = 1",
    "postgresql": "(step_notes -> %(key)s ->> 'test_out') = 'true'",
}


def test_out_sql(vendor):
    """SQL that is true when the learner ``%(user)s`` has an active main path listing the step as a test-out.

    Its parameters come from ``test_out_params``. None for a database other than
    SQLite and PostgreSQL (``lists_as_test_out`` then asks through the ORM). The
    engine puts this in its lock check, so a quiz submit needs no query of its own.
    """
    condition = _TEST_OUT_SQL.get(vendor)
    if condition is None:
        return None
    return (f"EXISTS (SELECT 1 FROM progress_learningpath WHERE user_id = %(user)s AND is_active = %(true)s "
            f"AND path_type <> %(remedial)s AND {condition})")


def test_out_params(step):
    """The step's parameters of ``test_out_sql`` (besides ``user``, ``true`` and ``remedial``)."""
    key = str(step.pk)
    return {"note": f'$."{key}".test_out', "key": key}


def lists_as_test_out(*, learner, step):
    """Whether the learner's active main path lets them take ``step`` as a test-out quiz (one query).

    The same answer as ``str(step.pk) in test_out_step_ids(active_paths(...)[0])``.
    """
    connection = connections[router.db_for_read(LearningPath)]
    sql = test_out_sql(connection.vendor)
    if sql is None:  # another backend: the ORM's own JSON lookups
        return (LearningPath.objects.filter(user=learner, is_active=True).exclude(path_type=PathType.REMEDIAL)
                .filter(**{f"step_notes__{step.pk}__test_out": True}).exists())
    params = {"user": learner.pk, "true": True, "remedial": PathType.REMEDIAL.value, **test_out_params(step)}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return bool(cursor.fetchone()[0])


def skip_reason_on_path(*, main_path, remedial, step):
    """Why the learner's active path lets them skip ``step``, or "" when it does not."""
    note = (main_path.step_notes.get(str(step.pk), {}) if main_path else {})
    return note.get("note", "") if note.get("skippable") else ""


def after_test_out(*, learner, main_path, quiz, passed, chapter_steps, done_ids, now):
    """A test-out attempt was graded: passing skips the chapter's other steps; failing restores the full chapter.

    Either way the quiz returns to its place at the end of the chapter (as
    ``plan_main_path`` would now build it), and passing marks the other steps
    skippable as "tested out" (those not already in ``done_ids``). Returns the steps to skip: the engine skips
    them, so "learners skip only what their path allows" holds.
    """
    key = str(quiz.pk)
    others = [s for s in chapter_steps if s.pk != quiz.pk]
    sequence = [s for s in main_path.steps_sequence if s != key]
    last = max((sequence.index(str(s.pk)) for s in others if str(s.pk) in sequence), default=len(sequence) - 1)
    sequence.insert(last + 1, key)
    notes = {k: v for k, v in main_path.step_notes.items() if k != key}
    to_skip = [s for s in others if s.pk not in done_ids] if passed else []
    for step in others:
        notes.pop(str(step.pk), None)
    for step in to_skip:
        notes[str(step.pk)] = {"note": TESTED_OUT, "skippable": True}
    main_path.steps_sequence, main_path.step_notes = sequence, notes
    main_path.save(update_fields=["steps_sequence", "step_notes", "updated_at"])
    _log_path(path=main_path, reason=TESTED_OUT if passed else _("test-out not passed: the whole chapter"),
              quiz=key)
    return to_skip


def remedial_due(failed):
    """Whether ``failed`` failed attempts at a quiz call for a remedial path (REMEDIAL_AFTER_FAILED_ATTEMPTS)."""
    return failed >= settings.REMEDIAL_AFTER_FAILED_ATTEMPTS


def propose_remedial(*, learner, quiz, failed, now):
    """After ``failed`` failed attempts at ``quiz``, start a remedial path for its chapter (once).

    The path holds the chapter's reading and video steps, then the quiz; before
    them, the prerequisite chapter's quiz and reading steps when the learner's
    best score there was below its pass mark + 10. Returns the path or None.
    """
    chapter = quiz.chapter
    if not remedial_due(failed) or LearningPath.objects.filter(
        user=learner, chapter=chapter, path_type=PathType.REMEDIAL, is_active=True
    ).exists():
        return None
    chapter_steps = list(chapter.steps.order_by("order_index"))
    sequence = []
    reasons = [_("You scored below the pass mark %(n)d times on “%(quiz)s” in “%(chapter)s”.") % {
        "n": failed, "quiz": quiz.title, "chapter": chapter.title}]
    prerequisite = chapter.prerequisite_chapter
    if prerequisite is not None:
        pre_steps = list(prerequisite.steps.order_by("order_index"))
        pre_quizzes = [s for s in pre_steps if s.step_type == StepType.QUIZ]
        scores = dict(
            LearningProgress.objects.filter(user=learner, step__in=pre_quizzes).values_list("step_id", "progress_data")
        )
        weak = [
            q for q in pre_quizzes
            if (scores.get(q.pk) or {}).get("best_score", 0)
            < int((q.required_completion_criteria or {}).get("min_score", 0)) + 10
        ]
        if weak:
            sequence += [s for s in pre_steps if s.step_type == StepType.READING] + weak
            reasons.append(_("Your score in “%(chapter)s” was close to its pass mark, so it comes first.")
                           % {"chapter": prerequisite.title})
    sequence += [s for s in chapter_steps if s.step_type in (StepType.READING, StepType.VIDEO)] + [quiz]
    path = LearningPath.objects.create(
        user=learner, path_type=PathType.REMEDIAL, chapter=chapter,
        name=_("Review: %(chapter)s") % {"chapter": chapter.title},
        description=" ".join(reasons) + " " + _("Review these steps, then try the quiz again."),
        steps_sequence=[str(s.pk) for s in sequence],
        step_notes={str(s.pk): {"note": _("review")} for s in sequence if s.pk != quiz.pk},
    )
    _log_path(path=path, reason=path.description, quiz=str(quiz.pk))
    return path


def end_remedial(*, learner, chapter, now):
    """The quiz was passed: remedial paths for ``chapter`` end."""
    ended = LearningPath.objects.filter(
        user=learner, chapter=chapter, path_type=PathType.REMEDIAL, is_active=True
    ).update(is_active=False, ended_at=now)
    if ended:
        ProgressEvent.objects.create(
            user=learner, kind=EventKind.PATH, reason=_("review path ended: quiz passed"),
            data={"chapter": str(chapter.pk)}, created_at=now,
        )


def mark_reviewed(*, remedial, step):
    """The learner opened ``step`` while a remedial path lists it: note it as reviewed."""
    for path in remedial:
        note = path.step_notes.get(str(step.pk))
        if note is not None and not note.get("reviewed"):
            path.step_notes = {**path.step_notes, str(step.pk): {**note, "reviewed": True}}
            path.save(update_fields=["step_notes", "updated_at"])


# --------------------------------------------------------------------------
# Validation and clean-up
# --------------------------------------------------------------------------


def locked_forever(*, learner, step_ids):
    """Step ids in ``step_ids`` the learner could never open, with the reason (two queries).

    A step is locked forever when its chapter is inactive or outside the
    learner's class, or its prerequisite step is in such a chapter and not
    already done.
    """
    grade = UserProfile.objects.filter(user=learner).values_list("grade", flat=True).first()
    open_chapters = set(Chapter.objects.for_grade(grade).values_list("pk", flat=True))
    steps = LearningStep.objects.filter(pk__in=step_ids).select_related("chapter", "prerequisite_step__chapter")
    done = set(
        LearningProgress.objects.filter(user=learner, status__in=DONE_STATUSES).values_list("step_id", flat=True)
    )
    problems = {}
    for step in steps:
        if step.chapter_id not in open_chapters:
            problems[str(step.pk)] = _("“%(title)s” is in a chapter this learner cannot open") % {"title": step.title}
        elif (step.prerequisite_step_id and step.prerequisite_step.chapter_id not in open_chapters
              and step.prerequisite_step_id not in done):
            problems[str(step.pk)] = _("“%(title)s” needs a step this learner can never open") % {"title": step.title}
    return problems


def drop_deleted_step(step_id):
    """Remove a deleted step from every path that lists it, logging each change (LearningStep pre_delete)."""
    key = str(step_id)
    paths = LearningPath.objects.annotate(text=Cast("steps_sequence", TextField())).filter(text__contains=key)
    for path in paths:
        path.steps_sequence = [s for s in path.steps_sequence if s != key]
        path.step_notes = {k: v for k, v in path.step_notes.items() if k != key}
        path.omitted = {k: v for k, v in path.omitted.items() if k != key}
        path.save(update_fields=["steps_sequence", "step_notes", "omitted", "updated_at"])
        _log_path(path=path, reason=_("a step was deleted from the curriculum"), step=key)
    return len(paths)

