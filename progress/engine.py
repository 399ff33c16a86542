"""The progress rules: the one place that decides what a learner may do and what it changes.

Pages, admin actions, management commands and the JSON API call these
keyword-only functions and nothing else writes LearningProgress. Each write
returns a ``Result`` that says what changed or why nothing did
("locked: finish 'Procedure' first", "not yet: 34 of 60 seconds",
"score 55 < 70").

Rules (DESIGN.md, "The rules live in one place"):

* A step is *available* when its chapter is active, the chapter's prerequisite
  chapter is done, the previous step by order_index is done and its own
  prerequisite step (possibly in another chapter) is done. *Done* means
  completed or skipped. ``chapter_states`` answers this for many chapters in
  three queries, so no page asks per step; ``step_state`` answers it for the
  one step every write checks, in one hand-written statement that a test holds
  to ``chapter_states``' answers (tests/progress/test_engine_fast_path.py).
  Only quizzes test out of a chapter, so only they read the learner's paths.
* Completion is judged on the server against the criteria snapshotted when the
  learner started the step, so a teacher's later edit never silently changes a
  started step (teachers recompute deliberately, from the admin).
* ``completion_percentage`` never goes down.
* Every write runs in one transaction on a row locked with SELECT ... FOR
  UPDATE (read with the lock check; created first with INSERT ... ON CONFLICT
  DO NOTHING when missing), so parallel requests for the same step leave one
  row and one completion.
* A learner's write sends what it changed (the row, its events, a caller's
  ``also`` rows such as the API's ApiEvent) together when it ends
  (``_Writes``: one statement on PostgreSQL, no savepoint of its own inside
  the API's request), or nothing when it is refused.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import datetime
import enum
import functools
import itertools
import json
import math
import operator
import re
import unicodedata
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Case, Count, Exists, F, FilteredRelation, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from curriculum import cache as curriculum_cache
from curriculum.enums import StepType
from curriculum.models import Chapter, LearningStep, Subject
from learners.models import UserProfile, profile_of
from mars_labs import rows as raw_rows
from mars_labs.audit import audit

from . import bulk
from . import paths as learning_paths
from . import versions as progress_versions
from .enums import DONE_STATUSES, EventKind, PathType, Status
from .models import LearningProgress, Progress, ProgressEvent


class Outcome(enum.StrEnum):
    CHANGED = "changed"  # something was written
    UNCHANGED = "unchanged"  # allowed, but there was nothing to change
    NOT_MET = "not_met"  # allowed, but the criteria are not met yet; nothing written
    LOCKED = "locked"  # the step is not available to this learner; nothing written
    INVALID = "invalid"  # the request itself is wrong (bad answers, no reason); nothing written
    DENIED = "denied"  # this person may not do this (e.g. a learner skipping); nothing written


@dataclass(frozen=True)
class Result:
    """What an engine call did. ``reason`` is written for the person who asked."""

    outcome: Outcome
    reason: str = ""
    progress: LearningProgress | None = None
    completed: bool = False  # this very call completed the step
    details: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.outcome in (Outcome.CHANGED, Outcome.UNCHANGED)


# --------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------


@dataclass
class StepState:
    """A step as one learner sees it: their progress row (or None) and whether it is open to them."""

    step: LearningStep
    progress: LearningProgress | None
    lock_reason: str = ""
    test_out: bool = False  # open early: the learner's path lets them test out of the chapter with it
    remedial: list = field(default_factory=list)  # the learner's active remedial paths listing this step
    # Whether the learner has any active remedial path, when a single-step check read it (else None).
    has_remedial: bool | None = None

    @property
    def status(self):
        return self.progress.status if self.progress else Status.NOT_STARTED

    @property
    def is_done(self):
        return self.status in DONE_STATUSES

    @property
    def is_available(self):
        return not self.lock_reason

    @property
    def percentage(self):
        return self.progress.completion_percentage if self.progress else 0

    @property
    def display_status(self):
        """done / in_progress / available / locked, for badges and ticks."""
        if self.is_done:
            return "done"
        if self.lock_reason:
            return "locked"
        return "in_progress" if self.status == Status.IN_PROGRESS else "available"


@dataclass
class ChapterState:
    chapter: Chapter
    steps: list[StepState]
    lock_reason: str = ""

    @property
    def done_count(self):
        return sum(1 for s in self.steps if s.is_done)

    @property
    def is_done(self):
        return self.done_count == len(self.steps)

    @property
    def percentage(self):
        return round(100 * self.done_count / len(self.steps)) if self.steps else 0

    def state_for(self, step_id):
        return next((s for s in self.steps if s.step.pk == step_id), None)


def _outside_chapters(learner, chapter_ids):
    """``{id: (title, done)}`` for chapters among ``chapter_ids`` (one query).

    Done means every step done. An inactive prerequisite chapter counts as
    done: a teacher who retires a chapter must not lock everything after it forever.
    """
    if not chapter_ids:
        return {}
    undone_step = LearningStep.objects.filter(chapter=OuterRef("pk")).exclude(
        Exists(LearningProgress.objects.filter(step=OuterRef("pk"), user=learner, status__in=DONE_STATUSES))
    )
    rows = (
        Chapter.objects.filter(pk__in=chapter_ids)
        .annotate(all_done=~Exists(undone_step))
        .values_list("pk", "title", "is_active", "all_done")
    )
    return {pk: (title, all_done or not is_active) for pk, title, is_active, all_done in rows}


def _chapter_lock(chapter, prerequisite):
    """A chapter's own lock reason ("" when open); ``prerequisite``: (title, done) of its prerequisite chapter, or None.

    A locked chapter locks every step in it, test-out quizzes included.
    """
    if not chapter.is_active:
        return _("locked: this chapter is not open yet")
    if prerequisite is not None and not prerequisite[1]:
        return _("locked: finish the chapter '%(title)s' first") % {"title": prerequisite[0]}
    return ""


def chapter_states(*, learner, chapters, paths=None, steps=None, done_data=True, rows=None, outside=None,
                   test_out_ids=None) -> dict:
    """Each chapter's steps with the learner's progress and lock reason, in four queries.

    ``chapters`` is a list (or queryset) of Chapter objects; ``paths`` is
    ``learning_paths.active_paths(learner=...)`` when the caller has it (else
    one query reads it: a test-out quiz opens early). ``steps``: the chapters'
    steps by (chapter_id, order_index) when the caller has them (a
    curriculum/cache.py snapshot); then the learner's rows come by user alone,
    one query on the (user, step) index, and with ``done_data=False`` the rows
    of done steps come without ``progress_data`` and no row has its
    created/started/completed times (deferred: decoding every finished step's
    JSON was most of a dashboard's CPU, and nothing there reads them). Given
    ``steps`` must already have ``chapter`` set to the objects in ``chapters``.
    ``rows`` (with ``steps``): the learner's rows ``{step_id: LearningProgress}``
    the caller already read, at least those of these steps and of their
    prerequisite steps: then no row is queried. ``outside``: ``{chapter_id:
    (title, done)}`` for the prerequisite chapters not in ``chapters`` (as
    ``_outside_chapters`` returns), when the caller knows them: no query.
    ``test_out_ids``: ``paths.test_out_step_ids`` of the main path, when the
    caller calls this once per chapter (it walks every note of the path).
    Returns ``{chapter_id: ChapterState}``; steps are in order_index order.
    """
    chapters = list(chapters)
    by_id = {c.pk: c for c in chapters}
    if not chapters:
        return {}
    steps_given = steps is not None
    if steps is None:
        steps = list(
            LearningStep.objects.filter(chapter_id__in=by_id)
            .select_related("prerequisite_step__chapter")
            .order_by("chapter_id", "order_index")
        )
        outside_step_ids = {
            s.prerequisite_step_id for s in steps
            if s.prerequisite_step_id and s.prerequisite_step.chapter_id not in by_id
        }
        rows = {
            p.step_id: p
            for p in LearningProgress.objects.filter(user=learner).filter(
                Q(step__chapter_id__in=by_id) | Q(step_id__in=outside_step_ids)
            )
        }
    elif rows is not None:
        pass  # the caller's rows (CurriculumFrontier)
    elif done_data:
        # Rows of steps outside these chapters are simply never looked up.
        rows = {p.step_id: p for p in LearningProgress.objects.filter(user=learner)}
    else:
        rows = {}
        lean = LearningProgress.objects.filter(user=learner).defer(
            "progress_data", "created_at", "started_at", "completed_at"
        )
        for p in lean.annotate(
            live_data=Case(When(~Q(status__in=DONE_STATUSES), then=F("progress_data")), default=None)
        ):
            if p.status not in DONE_STATUSES:
                p.progress_data = p.live_data
            rows[p.step_id] = p
    prereq_ids = {c.prerequisite_chapter_id for c in chapters if c.prerequisite_chapter_id}
    if outside is None:
        outside = _outside_chapters(learner, prereq_ids - set(by_id))
    main_path, remedial = paths if paths is not None else learning_paths.active_paths(learner=learner)
    if test_out_ids is None:
        test_out_ids = learning_paths.test_out_step_ids(main_path)

    def is_done(step_id):
        row = rows.get(step_id)
        return bool(row and row.status in DONE_STATUSES)

    states = {c.pk: ChapterState(chapter=c, steps=[]) for c in chapters}
    for step in steps:
        if not steps_given:  # a snapshot's steps already point at its chapters
            step.chapter = by_id[step.chapter_id]  # avoid a query per step for step.chapter
        listed_in = [
            p for p in remedial if str(step.pk) in p.step_notes or str(step.pk) in p.steps_sequence
        ] if remedial else []
        states[step.chapter_id].steps.append(StepState(step=step, progress=rows.get(step.id), remedial=listed_in))

    def chapter_done(chapter_id):
        if chapter_id in states:
            inner = states[chapter_id]
            return not inner.chapter.is_active or all(s.is_done for s in inner.steps)
        return outside.get(chapter_id, ("?", False))[1]

    finish_first = None
    for state in states.values():
        chapter = state.chapter
        prerequisite = None
        if chapter.is_active and chapter.prerequisite_chapter_id:
            pre_id = chapter.prerequisite_chapter_id
            title = states[pre_id].chapter.title if pre_id in states else outside.get(pre_id, ("?", False))[0]
            prerequisite = (title, chapter_done(pre_id))
        state.lock_reason = _chapter_lock(chapter, prerequisite)
        previous = None
        for step_state in state.steps:
            step = step_state.step
            if state.lock_reason:
                step_state.lock_reason = state.lock_reason
            elif test_out_ids and _tests_out(step, step_state.progress, test_out_ids):
                step_state.test_out = True  # its first attempt may come before the rest of the chapter
            elif previous and not previous.is_done:
                if finish_first is None:  # translated once per call, not once per locked step
                    finish_first = _("locked: finish '%(title)s' first")
                step_state.lock_reason = finish_first % {"title": previous.step.title}
            elif step.prerequisite_step_id and not is_done(step.prerequisite_step_id):
                pre = step.prerequisite_step
                step_state.lock_reason = _("locked: finish '%(title)s' in '%(chapter)s' first") % {
                    "title": pre.title,
                    "chapter": pre.chapter.title,
                }
            previous = step_state
    return states


def _tests_out(step, progress, test_out_ids):
    """Whether ``step`` is open early as a test-out: a quiz the main path lists as one, not yet done or attempted.

    Only quizzes test out (``paths.plan_main_path`` gives the note to a chapter's
    quiz alone); saying so here lets a single-step check skip reading the paths
    for every other step.
    """
    return (
        step.step_type == StepType.QUIZ and str(step.pk) in test_out_ids
        and not (progress and (progress.status in DONE_STATUSES or progress.progress_data.get("attempts")))
    )


@dataclass
class _StepFacts:
    """What decides one step's lock for one learner (``_step_facts``)."""

    chapter_active: bool
    previous_title: str | None  # None: the step is first in its chapter
    previous_done: bool
    prerequisite: tuple | None  # (title, chapter title, done) of the step's prerequisite step
    chapter_prerequisite: tuple | None  # (title, done) of the chapter's prerequisite chapter
    has_remedial: bool  # the learner has an active remedial path
    listed_test_out: bool | None  # a quiz the active main path lists as a test-out (None: not asked)

    @classmethod
    def from_columns(cls, c):
        prerequisite = chapter_prerequisite = None
        if c["pre_step_id"] is not None:
            prerequisite = (c["pre_title"], c["pre_step_chapter_title"], bool(c["pre_done"]))
        if c["pre_chapter_id"] is not None:
            # Done means every step done, and an inactive chapter counts as done (see _outside_chapters).
            chapter_prerequisite = (c["pre_chapter_title"], bool(c["pre_chapter_done"]) or not c["pre_chapter_active"])
        return cls(
            chapter_active=bool(c["chapter_active"]), previous_title=c["previous_title"],
            previous_done=bool(c["previous_done"]), prerequisite=prerequisite,
            chapter_prerequisite=chapter_prerequisite, has_remedial=bool(c["has_remedial"]),
            listed_test_out=None if c["listed_test_out"] is None else bool(c["listed_test_out"]),
        )


# The facts behind one step's lock, as columns of one statement. Hand-written
# because they are read on every write (every simulation event, every
# heartbeat): built with the ORM (two Subquery and four Exists expressions) they
# cost more CPU than the rest of the request together. They are held to
# chapter_states, the ORM version of the same rules, on random curricula
# (tests/progress/test_engine_fast_path.py). ``st`` is the step, ``ch`` its
# chapter; a NULL prerequisite id makes its columns NULL / false.
_FACT_COLUMNS = """
    ch.is_active AS chapter_active,
    (SELECT s.title FROM curriculum_learningstep s
      WHERE s.chapter_id = st.chapter_id AND s.order_index < st.order_index
      ORDER BY s.order_index DESC LIMIT 1) AS previous_title,
    EXISTS (SELECT 1 FROM progress_learningprogress d
             WHERE d.user_id = %(user)s AND d.status IN (%(completed)s, %(skipped)s)
               AND d.step_id = (SELECT s.id FROM curriculum_learningstep s
                                 WHERE s.chapter_id = st.chapter_id AND s.order_index < st.order_index
                                 ORDER BY s.order_index DESC LIMIT 1)) AS previous_done,
    st.prerequisite_step_id AS pre_step_id,
    (SELECT s.title FROM curriculum_learningstep s WHERE s.id = st.prerequisite_step_id) AS pre_title,
    (SELECT c.title FROM curriculum_learningstep s JOIN curriculum_chapter c ON c.id = s.chapter_id
      WHERE s.id = st.prerequisite_step_id) AS pre_step_chapter_title,
    EXISTS (SELECT 1 FROM progress_learningprogress d
             WHERE d.user_id = %(user)s AND d.status IN (%(completed)s, %(skipped)s)
               AND d.step_id = st.prerequisite_step_id) AS pre_done,
    ch.prerequisite_chapter_id AS pre_chapter_id,
    (SELECT c.title FROM curriculum_chapter c WHERE c.id = ch.prerequisite_chapter_id) AS pre_chapter_title,
    (SELECT c.is_active FROM curriculum_chapter c WHERE c.id = ch.prerequisite_chapter_id) AS pre_chapter_active,
    NOT EXISTS (SELECT 1 FROM curriculum_learningstep s
                 WHERE s.chapter_id = ch.prerequisite_chapter_id
                   AND NOT EXISTS (SELECT 1 FROM progress_learningprogress d
                                    WHERE d.user_id = %(user)s AND d.step_id = s.id
                                      AND d.status IN (%(completed)s, %(skipped)s))) AS pre_chapter_done,
    EXISTS (SELECT 1 FROM progress_learningpath l
             WHERE l.user_id = %(user)s AND l.is_active = %(true)s AND l.path_type = %(remedial)s) AS has_remedial,
    CASE WHEN st.step_type = %(quiz)s THEN TEST_OUT END AS listed_test_out
"""
_FACT_NAMES = re.findall(r" AS (\w+)", _FACT_COLUMNS)

_ROW_COLUMNS = raw_rows.columns(LearningProgress, "p") + ", "
_ROW_JOINS = {
    # The facts alone (a check that leaves the row to its caller).
    None: ("", ""),
    # The facts with the learner's row, or NULLs where they have none yet: one statement either way.
    "read": (_ROW_COLUMNS, "LEFT JOIN progress_learningprogress p ON p.user_id = %(user)s AND p.step_id = st.id"),
    # The same with the row locked (PostgreSQL): FOR UPDATE may not lock the nullable side of an outer
    # join, so the row is read, and locked, by a LATERAL subquery.
    "lock": (_ROW_COLUMNS, """LEFT JOIN LATERAL (SELECT * FROM progress_learningprogress q
                   WHERE q.user_id = %(user)s AND q.step_id = st.id FOR UPDATE) p ON true"""),
}


@functools.cache
def _facts_sql(vendor, row):
    """The lock facts of step ``%(step)s`` for learner ``%(user)s``, after the row columns ``_ROW_JOINS[row]`` reads.

    ``listed_test_out`` is ``paths.test_out_sql`` for a quiz (a quiz submit then needs no
    query of its own to ask whether the learner may take it early), NULL for other steps and
    on a database that has no such SQL.
    """
    row_columns, row_join = _ROW_JOINS[row]
    columns = _FACT_COLUMNS.replace("TEST_OUT", learning_paths.test_out_sql(vendor) or "NULL")
    return f"""
SELECT {row_columns}{columns}
FROM curriculum_learningstep st JOIN curriculum_chapter ch ON ch.id = st.chapter_id
{row_join}
WHERE st.id = %(step)s
"""


def _step_facts(learner, step, *, row=None):
    """``(facts, progress)`` for one step and learner in one query (``progress`` None when they have no row yet).

    ``row``: None reads only the facts (``progress`` is None); "read" also
    reads the learner's LearningProgress row; "lock" reads it with SELECT ...
    FOR UPDATE (the caller's transaction then holds it). Only the ids of
    ``learner`` and ``step`` are used: the step's place in the curriculum is
    read afresh. Writes nothing.
    """
    connection = connections[router.db_for_write(LearningProgress)]  # the transaction a write runs in
    params = {
        "user": learner.pk,
        # SQLite keeps UUIDs as hex text, PostgreSQL as uuid.
        "step": LearningStep._meta.pk.get_db_prep_value(step.pk, connection),
        "completed": Status.COMPLETED.value, "skipped": Status.SKIPPED.value, "remedial": PathType.REMEDIAL.value,
        "true": True,  # "is_active = true", not "is_active": SQLite then uses the (user, is_active) index
        "quiz": StepType.QUIZ.value, **learning_paths.test_out_params(step),
    }
    if row == "lock" and not connection.features.has_select_for_update_of:
        row = "read"  # SQLite has no row locks: its write transactions are IMMEDIATE
    with connection.cursor() as cursor:  # a cursor, not RawQuerySet: this runs on every write
        cursor.execute(_facts_sql(connection.vendor, row), params)
        values = cursor.fetchone()
    if values is None:
        raise LearningStep.DoesNotExist(f"no step {step.pk}")
    facts = _StepFacts.from_columns(dict(zip(_FACT_NAMES, values[-len(_FACT_NAMES):], strict=True)))
    if row is None:
        return facts, None
    # A row with a NULL id: the learner has none yet (from_row gives None).
    (progress,) = raw_rows.from_row(values[:-len(_FACT_NAMES)], (LearningProgress,), connection.alias)
    return facts, progress


def _step_lock(step, facts, *, tests_out):
    """``(lock_reason, test_out)`` for one step from its facts: the rules of ``chapter_states``, for one step."""
    if not facts.chapter_active:
        return _("locked: this chapter is not open yet"), False
    if facts.chapter_prerequisite is not None and not facts.chapter_prerequisite[1]:
        return _("locked: finish the chapter '%(title)s' first") % {"title": facts.chapter_prerequisite[0]}, False
    if tests_out():
        return "", True  # its first attempt may come before the rest of the chapter
    if facts.previous_title is not None and not facts.previous_done:
        return _("locked: finish '%(title)s' first") % {"title": facts.previous_title}, False
    if facts.prerequisite is not None and not facts.prerequisite[2]:
        title, chapter_title, _done = facts.prerequisite
        reason = _("locked: finish '%(title)s' in '%(chapter)s' first") % {"title": title, "chapter": chapter_title}
        return reason, False
    return "", False


def _remedial_listing(remedial, step):
    key = str(step.pk)
    return [p for p in remedial if key in p.step_notes or key in p.steps_sequence]


def _availability(learner, step, *, row="read", paths=None, remedial=True):
    """One step's ``StepState`` by the rules of ``chapter_states``, for one step, in one query or two.

    ``row`` says what to do with the learner's LearningProgress row:
    ``"read"`` it; ``"lock"`` it (SELECT ... FOR UPDATE, inside the caller's
    transaction: the write then needs no second read); or None: leave it,
    for a caller that must lock something else first (``progress`` is then
    read only when the answer needs it: a test-out, a refusal). With
    ``remedial`` the active remedial paths listing the step are read (one
    query, only when the learner has one); otherwise whether the main path
    lists a quiz as a test-out comes with the facts (``paths.test_out_sql``:
    the path itself is not loaded), unless ``paths`` is given.
    """
    facts, progress = _step_facts(learner, step, row=row)
    if paths is None and remedial and facts.has_remedial:
        paths = learning_paths.active_paths(learner=learner)
    if paths is not None:
        main_path, remedial_paths = paths
        test_out_ids = learning_paths.test_out_step_ids(main_path)
    else:
        remedial_paths = []
        is_test_out = step.step_type == StepType.QUIZ and (
            facts.listed_test_out if facts.listed_test_out is not None
            else learning_paths.lists_as_test_out(learner=learner, step=step))
        test_out_ids = {str(step.pk)} if is_test_out else set()

    def load():
        nonlocal progress
        if progress is None and row is None:
            progress = LearningProgress.objects.filter(user=learner, step=step).first()
        return progress

    reason, test_out = _step_lock(
        step, facts,
        # The cheap half of _tests_out first: only a test-out quiz needs the row.
        tests_out=lambda: str(step.pk) in test_out_ids and _tests_out(step, load(), test_out_ids),
    )
    if reason:
        load()
    return StepState(step=step, progress=progress, lock_reason=reason, test_out=test_out,
                     remedial=_remedial_listing(remedial_paths, step) if remedial else [],
                     has_remedial=facts.has_remedial)


def step_state(*, learner, step, paths=None) -> StepState:
    """One step's state for one learner: the same answer and reason as ``chapter_states``, in one query or two.

    One query for the learner's row (if any) and the lock facts (``_step_facts``)
    and, when the learner has a remedial path, one for the active paths unless
    ``paths`` is given. Writes nothing.
    """
    return _availability(learner, step, paths=paths)


# --------------------------------------------------------------------------
# Criteria evaluation
# --------------------------------------------------------------------------


def criteria_for(progress, step):
    """The criteria that judge this learner: the snapshot taken when they started, else the step's."""
    return (progress.progress_data or {}).get("criteria") or step.required_completion_criteria


def evaluate(*, progress, step):
    """Judge ``progress`` against its criteria: ``(met, percentage, reason)``. Writes nothing."""
    criteria = criteria_for(progress, step)
    data = progress.progress_data or {}
    kind = criteria.get("type")
    if kind == "time":
        needed = int(criteria["value"])
        have = int(data.get("active_seconds", 0))  # whole seconds shown; tenths kept in progress_data
        if data.get("active_seconds", 0) >= needed:
            return True, 100, _("%(have)d of %(needed)d seconds") % {"have": have, "needed": needed}
        return (
            False,
            min(99, have * 100 // needed),
            _("not yet: %(have)d of %(needed)d seconds") % {"have": have, "needed": needed},
        )
    if kind == "quiz":
        best = data.get("best_score")
        needed = int(criteria["min_score"])
        if best is None:
            return False, 0, _("take the quiz: you need %(needed)d%% to pass") % {"needed": needed}
        if best >= needed:
            return True, 100, _("score %(best)d ≥ %(needed)d") % {"best": best, "needed": needed}
        return False, best, _("score %(best)d < %(needed)d") % {"best": best, "needed": needed}
    if kind == "view":
        return True, 100, _("opened")
    if kind == "manual":
        if data.get("marked_done"):
            return True, 100, _("marked done")
        return False, 0, _("mark it done when you have finished")
    if kind == "submission":
        if data.get("accepted_answer") is not None:
            return True, 100, _("answer accepted")
        if data.get("submissions"):
            return False, 0, _("not quite: check your answer and try again")
        return False, 0, _("submit your answer to finish this step")
    if kind == "external":
        if data.get("external_completed"):
            return True, 100, _("reported complete by the simulation")
        return False, 0, _("finish the simulation: it reports back when you are done")
    return False, 0, _("this step's completion criteria are not valid; ask your teacher")


# --------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------


class _Writes:
    """The rows one engine write changes, sent to the database together at its end.

    A learner's write changes their row and logs one to three events; an API
    caller adds its own record of the request (``also``). Sent one by one
    through the ORM that is a round trip, a statement to compile and, inside
    the caller's transaction, a savepoint each. Here they go as one statement
    on PostgreSQL (data-modifying ``WITH`` clauses: each runs exactly once, in
    the same snapshot; a unique violation anywhere fails the whole statement)
    and one after the other on SQLite, from SQL built once per model and
    field list. Values go through each field's ``pre_save`` (auto_now) and
    ``get_db_prep_save``, as ``Model.save()`` would send them. No model
    signals are sent for these rows (none are connected to them).
    """

    _sql = {}  # (vendor, model, fields, rows) -> SQL text

    def __init__(self):
        self.updates = {}  # id(instance) -> (instance, fields): a row saved twice is updated once
        self.inserts = []  # unsaved instances
        self.also = None  # the caller's ``also``: called with the Result, returns more instances to insert

    def update(self, instance, fields):
        known = self.updates.get(id(instance), (instance, []))[1]
        self.updates[id(instance)] = (instance, [*known, *(f for f in fields if f not in known)])

    def insert(self, instance):
        self.inserts.append(instance)
        return instance

    def _stamp_versions(self):
        """Give every learner whose progress or events this write changes a new progress version
        (progress/versions.py): folded into their profile's UPDATE when the write has one (one
        statement must not update a row twice), else one UPDATE more."""
        learners = {i.user_id for i in self.inserts if isinstance(i, ProgressEvent | LearningProgress)}
        learners.update(i.user_id for i, _f in self.updates.values() if isinstance(i, LearningProgress))
        if not learners:
            return
        version = progress_versions.new_version()
        for instance, fields in self.updates.values():
            if isinstance(instance, UserProfile) and instance.user_id in learners:
                instance.progress_version = version
                fields.append("progress_version")
                learners.discard(instance.user_id)
        for user_id in learners:
            profile = UserProfile(user_id=user_id, progress_version=version)
            self.updates[id(profile)] = (profile, ["progress_version"])

    def done(self, result):
        """``result`` is the write's answer: add the caller's rows for it (``also``) and return it."""
        if self.also is not None and result.ok:
            self.inserts.extend(self.also(result))
        return result

    def _statements(self, connection):
        self._stamp_versions()
        statements = []
        for instance, names in self.updates.values():
            opts = instance._meta
            fields = [opts.get_field(name) for name in names]
            # A profile is found by its learner (the version stamp has no profile id at hand).
            where = opts.get_field("user") if isinstance(instance, UserProfile) else opts.pk
            key = (connection.vendor, opts.label, "update", tuple(names))
            if key not in self._sql:
                qn = connection.ops.quote_name
                assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
                self._sql[key] = f"UPDATE {qn(opts.db_table)} SET {assignments} WHERE {qn(where.column)} = %s"
            params = [f.get_db_prep_save(f.pre_save(instance, False), connection) for f in fields]
            key_value = instance.user_id if where is not opts.pk else instance.pk
            statements.append((self._sql[key], [*params, where.get_db_prep_value(key_value, connection)]))
        by_model = {}
        for instance in self.inserts:
            by_model.setdefault(type(instance), []).append(instance)
        statements.extend(self.insert_statement(connection, model, instances) for model, instances in by_model.items())
        return statements

    @classmethod
    def insert_statement(cls, connection, model, instances):
        """``(sql, params)``: one INSERT of ``instances`` (unsaved, all of ``model``)."""
        opts = model._meta
        fields = [f for f in opts.concrete_fields if not f.primary_key or not f.db_returning]
        key = (connection.vendor, opts.label, "insert", len(instances))
        if key not in cls._sql:
            qn = connection.ops.quote_name
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            cls._sql[key] = (f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
                             f"VALUES {', '.join([row] * len(instances))}")
        params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for instance in instances for f in fields]
        return cls._sql[key], params

    def flush(self, connection, *, commit=False):
        """Send the queued rows. ``commit``: the caller's transaction is the outermost one and ends
        right after this; on PostgreSQL its COMMIT then goes in the same round trip as the write
        (a psycopg pipeline: the write, COMMIT, one Sync; a failed write skips the COMMIT and raises
        here, and Django's atomic() rolls back as usual). Django's own commit finds nothing to do."""
        statements = self._statements(connection)
        self.updates, self.inserts = {}, []
        if not statements:
            return
        if connection.vendor == "postgresql" and len(statements) > 1:
            *first, (last_sql, last_params) = statements
            clauses = ", ".join(f"w{n} AS ({sql})" for n, (sql, _params) in enumerate(first))
            statements = [(f"WITH {clauses} {last_sql}",
                           [p for _sql, params in first for p in params] + list(last_params))]
        pipelined = commit and getattr(connection, "can_pipeline", False)  # mars_labs/postgresql/base.py
        with connection.cursor() as cursor, connection.wrap_database_errors, (
            connection.connection.pipeline() if pipelined else contextlib.nullcontext()
        ):
            for sql, params in statements:
                cursor.execute(sql, params)
            if pipelined:
                cursor.cursor.execute("COMMIT", prepare=False)


_pending_writes = contextvars.ContextVar("engine_pending_writes", default=None)


@contextlib.contextmanager
def _write_transaction(*, also=None):
    """``transaction.atomic()`` for a learner's write whose rows go together (``_Writes``).

    Inside it ``_log`` and ``_save`` queue their rows instead of sending them;
    they are sent at the end unless the write was refused (``_refuse`` rolled
    back) or raised. Code that must read what it wrote uses plain
    ``transaction.atomic()`` instead. ``also``: see ``_Writes.done``.
    """
    writes = _Writes()
    writes.also = also
    token = _pending_writes.set(writes)
    connection = connections[router.db_for_write(LearningProgress)]
    # This atomic() starts and ends the transaction (no caller's transaction around it):
    # the write may send the COMMIT with its rows (_Writes.flush).
    outermost = connection.get_autocommit() and not connection.in_atomic_block
    try:
        with transaction.atomic(using=connection.alias):
            yield writes
            if not transaction.get_rollback(using=connection.alias):
                writes.flush(connection, commit=outermost)
    finally:
        _pending_writes.reset(token)


def _save(row, fields):
    """``row.save(update_fields=fields)``, or queued for the end of a ``_write_transaction``."""
    writes = _pending_writes.get()
    if writes is None:
        row.save(update_fields=fields)
    else:
        writes.update(row, fields)


def _locked_row(learner, step, *, exists=False):
    """The learner's row for ``step``, created if missing, locked until the transaction ends.

    INSERT ... ON CONFLICT DO NOTHING, then SELECT ... FOR UPDATE only when
    another transaction inserted the row first (the row this one inserted is
    its own until it commits: a racing insert waits for that, then does
    nothing): two requests racing here both end up holding the same single
    row, one after the other. ``exists``: the caller saw the row, so try the
    SELECT alone first (rows are never deleted but with their learner or step).
    """
    rows = LearningProgress.objects.select_for_update().filter(user=learner, step=step).order_by()
    if exists:
        row = next(iter(rows[:1]), None)
        if row is not None:
            return row
    row = LearningProgress(user=learner, step=step)
    connection = connections[router.db_for_write(LearningProgress)]
    sql, params = _Writes.insert_statement(connection, LearningProgress, [row])
    with connection.cursor() as cursor:  # hand-written: bulk_create's compiling cost more than the insert
        cursor.execute(f"{sql} ON CONFLICT DO NOTHING", params)
        inserted = cursor.rowcount == 1
    if not inserted:
        return rows.get()
    row._state.adding, row._state.db = False, connection.alias
    return row


def _log(*, user_id, step, kind, actor=None, reason="", now=None, **data):
    event = ProgressEvent(  # ids, not instances: a related instance costs its descriptor's checks (every write)
        user_id=user_id, step_id=step.pk, kind=kind, actor_id=None if actor is None else actor.pk, reason=reason,
        data=data, created_at=now or timezone.now(),
    )
    writes = _pending_writes.get()
    if writes is None:
        event.save(force_insert=True)
        return event
    return writes.insert(event)


def _start(row, step, now):
    """not_started -> in_progress, snapshotting the criteria the learner will be judged by."""
    row.status = Status.IN_PROGRESS
    row.started_at = row.started_at or now
    row.progress_data = {**(row.progress_data or {}), "criteria": step.required_completion_criteria}
    _log(now=now, user_id=row.user_id, step=step, kind=EventKind.STARTED)


# What a learner's write changes on their row (saving only these skips the keys and created_at).
_ROW_FIELDS = ["status", "completion_percentage", "started_at", "completed_at", "progress_data", "updated_at"]


def _settle(row, step, now, *, event_data=None):
    """Re-evaluate after a change: raise the percentage, complete when met. Saves the row.

    Returns ``(completed_now, reason)``.
    """
    met, percentage, reason = evaluate(progress=row, step=step)
    row.completion_percentage = max(row.completion_percentage, percentage)
    row.progress_data["reason"] = reason
    completed_now = False
    if met and row.status != Status.COMPLETED:
        row.status = Status.COMPLETED
        row.completed_at = now
        row.completion_percentage = 100
        completed_now = True
        _log(now=now, user_id=row.user_id, step=step, kind=EventKind.COMPLETED, **(event_data or {}))
    _save(row, _ROW_FIELDS)
    return completed_now, reason


def _refuse(outcome, reason, progress=None):
    """Leave no trace: roll back the enclosing transaction (e.g. a row just created) and say why."""
    transaction.set_rollback(True)
    return Result(outcome, reason, progress=progress)


def _guarded(learner, step, *, remedial=False, start_at=None):
    """Shared opening of every learner write: the lock check, then the locked row.

    One query when the learner already has a row (the check with the row locked
    by SELECT ... FOR UPDATE; for a quiz it also says whether the quiz is a
    test-out), two when it is created (the check finds no row, then INSERT ...
    ON CONFLICT); the paths are read only when the learner has a remedial one
    and ``remedial`` asks for them. ``remedial``:
    fill ``state.remedial`` (opening a step marks it reviewed). ``start_at``:
    a write that counts as starting the step (an answer, a report) starts it
    at that time if it was not started yet.
    Returns ``(state, row, None)``, or ``(state, None, Result)`` when the
    step is locked. Must run inside ``transaction.atomic()``.
    """
    state = _availability(learner, step, row="lock", remedial=remedial)
    if state.lock_reason:
        return state, None, _refuse(Outcome.LOCKED, state.lock_reason, state.progress)
    row = state.progress if state.progress is not None else _locked_row(learner, step)
    if start_at is not None and row.status == Status.NOT_STARTED:
        _start(row, step, start_at)
    return state, row, None


def open_step(*, learner, step, viewing=True, now=None, also=None) -> Result:
    """The learner opens ``step``: start it if new, and make it the step that earns active time.

    Changes: LearningProgress (in_progress, started_at, criteria snapshot; a
    view criterion completes here), UserProfile.viewing_step and
    last_heartbeat_at, a STARTED (and maybe COMPLETED) event.
    ``viewing=False`` (a simulation reporting "started" through the API)
    leaves the profile alone: only the learner's own page decides which
    step earns heartbeat time. ``also(result)``: unsaved rows the caller
    wants written with this change, in the same transaction (the API's
    ApiEvent); called only when the open is allowed.
    """
    now = now or timezone.now()
    with _write_transaction(also=also) as writes:
        state, row, refused = _guarded(learner, step, remedial=True)
        if refused:
            return refused
        if viewing:
            # Sent with the row at the end (one statement on PostgreSQL). Lock order: every write
            # locks its progress row first and the learner's profile last (the progress version
            # stamp, progress/versions.py, updates the profile at the end of every write), so two
            # writes of one learner never wait on each other in opposite order.
            # (ids, not instances: UserProfile(user=learner) would replace the learner's cached profile)
            _save(UserProfile(user_id=learner.pk, viewing_step_id=step.pk, last_heartbeat_at=now),
                  ["viewing_step", "last_heartbeat_at"])
        if state.remedial:
            learning_paths.mark_reviewed(remedial=state.remedial, step=step)
        if row.status != Status.NOT_STARTED:
            return writes.done(Result(Outcome.UNCHANGED, row.progress_data.get("reason", ""), progress=row))
        _start(row, step, now)
        completed, reason = _settle(row, step, now)
        return writes.done(Result(Outcome.CHANGED, reason, progress=row, completed=completed))


def record_active_time(*, learner, step, seconds, watched=None, now=None) -> Result:
    """A heartbeat: the learner was active on ``step`` for about ``seconds`` since their last beat.

    Credits min(seconds, wall-clock time since the learner's previous beat on
    any step, HEARTBEAT_MAX_SECONDS), and only for the step they opened last,
    so a background tab, two tabs or a forged value cannot inflate time.
    ``watched`` (0-100) is how much of a video the page has played; the
    highest value is kept as ``progress_data["watched_percent"]`` for
    teachers (it completes nothing: a video step's criterion decides).
    Completes a time criterion once met. Changes: LearningProgress,
    UserProfile.last_heartbeat_at, a TIME event (and maybe COMPLETED).
    """
    now = now or timezone.now()
    try:
        claimed = float(seconds)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int too large for a float
        return Result(Outcome.INVALID, _("seconds must be a number"))
    if not 0 <= claimed <= 24 * 3600 or claimed != claimed:  # NaN is not equal to itself
        return Result(Outcome.INVALID, _("seconds must be between 0 and 86400"))
    if watched is not None and (isinstance(watched, bool) or not isinstance(watched, int) or not 0 <= watched <= 100):
        return Result(Outcome.INVALID, _("watched must be a whole percentage from 0 to 100"))
    with _write_transaction():
        # The row is locked before the profile (see open_step), so the check must not lock it.
        state = _availability(learner, step, row=None, remedial=False)
        if state.lock_reason:
            return _refuse(Outcome.LOCKED, state.lock_reason, state.progress)
        row = _locked_row(learner, step, exists=True)  # a heartbeat comes after an open: the row is there
        # Locked: beats on any step wait here for each other, so "time since the last beat" is exact.
        profile = UserProfile.objects.select_for_update().get(user=learner)
        if profile.viewing_step_id != step.pk:
            # A late beat from a page the learner has left: not an error, just no credit.
            return _refuse(Outcome.UNCHANGED, _("this is not the step you are viewing: open it again"))
        if row.status == Status.NOT_STARTED:
            return _refuse(Outcome.INVALID, _("open the step first"))
        elapsed = (now - profile.last_heartbeat_at).total_seconds() if profile.last_heartbeat_at else 0
        # Tenths of a second, rounded down: never more than the wall clock, and
        # network jitter (15.0 claimed, 14.9 elapsed) costs a learner nothing.
        credit = math.floor(10 * max(0.0, min(claimed, elapsed, settings.HEARTBEAT_MAX_SECONDS))) / 10
        profile.last_heartbeat_at = now
        _save(profile, ["last_heartbeat_at"])
        if watched is not None and watched > row.progress_data.get("watched_percent", -1):
            row.progress_data["watched_percent"] = watched
            if credit == 0:
                _save(row, ["progress_data", "updated_at"])
        if credit == 0:
            return Result(Outcome.UNCHANGED, row.progress_data.get("reason", ""), progress=row,
                          details={"credited": 0})
        row.progress_data["active_seconds"] = round(row.progress_data.get("active_seconds", 0) + credit, 1)
        _log(now=now, user_id=learner.pk, step=step, kind=EventKind.TIME, seconds=credit)
        completed, reason = _settle(row, step, now)
    return Result(Outcome.CHANGED, reason, progress=row, completed=completed, details={"credited": credit})


def quiz_questions(step):
    """The questions as the page may show them: text and choices, never the answers."""
    return [
        {"index": i, "text": q["text"], "choices": list(enumerate(q["choices"]))}
        for i, q in enumerate((step.activity or {}).get("questions", []))
    ]


def _clean_quiz_answers(step, answers):
    """``{"0": 2, "1": 0}`` -> ``{0: 2, 1: 0}``, or a reason why the answers are not acceptable."""
    questions = (step.activity or {}).get("questions", [])
    if not questions:
        return None, _("this quiz has no questions yet")
    if not isinstance(answers, dict):
        return None, _("answers must map each question to a choice")
    cleaned = {}
    for key, value in answers.items():
        try:
            index = int(key)
            choice = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
            return None, _("answer %(key)r is not a choice number") % {"key": key}
        if isinstance(value, float) and value != choice:  # 1.5 names no choice; int() would make it 1
            return None, _("answer %(key)r is not a choice number") % {"key": key}
        # Python prints no whole number of over 4300 digits: a huge one is not shown.
        if isinstance(value, bool) or not 0 <= index < len(questions):
            return None, _("there is no question %(n)s") % {"n": key if abs(index) < 10**9 else "…"}
        if not 0 <= choice < len(questions[index]["choices"]):
            return None, _("question %(n)d has no choice %(c)s") % {
                "n": index + 1, "c": value if abs(choice) < 10**9 else "…"}
        cleaned[index] = choice
    missing = [str(i + 1) for i in range(len(questions)) if i not in cleaned]
    if missing:
        return None, _("answer every question (missing: %(list)s)") % {"list": ", ".join(missing)}
    return cleaned, ""


def submit_quiz(*, learner, step, answers, now=None) -> Result:
    """Grade a quiz attempt on the server and keep it; complete when the best score passes.

    ``answers`` maps question index to choice index. Invalid, missing or extra
    answers write nothing. Changes: LearningProgress.progress_data
    (``attempts`` gains {answers, score, at}; ``best_score``), an ANSWERED
    event (and maybe COMPLETED). ``details`` carries the score and, now that
    the learner has answered, which answers were right.
    """
    now = now or timezone.now()
    cleaned, problem = _clean_quiz_answers(step, answers)
    if problem:
        return Result(Outcome.INVALID, problem)
    questions = step.activity["questions"]
    correct = [cleaned[i] == q["answer"] for i, q in enumerate(questions)]
    score = round(100 * sum(correct) / len(questions))
    # The row and its events go together at the end (_Writes); what a test-out or a remedial
    # path reads and writes meanwhile is other rows, written through the ORM as before.
    with _write_transaction():
        state, row, refused = _guarded(learner, step, start_at=now)
        if refused:
            return refused
        data = row.progress_data
        attempt = {"answers": {str(k): v for k, v in cleaned.items()}, "score": score, "at": now.isoformat()}
        data["attempts"] = [*data.get("attempts", []), attempt]
        data["best_score"] = max(score, data.get("best_score") or 0)
        _log(now=now, user_id=learner.pk, step=step, kind=EventKind.ANSWERED, score=score,
             attempt=len(data["attempts"]))
        completed, reason = _settle(row, step, now, event_data={"score": score})
        passed = score >= int(criteria_for(row, step).get("min_score", 101))
        if state.test_out:
            _after_test_out(learner=learner, quiz=step, passed=passed, now=now)
        failed = failed_attempts(progress=row, step=step)
        # A remedial path to end exists only if the lock check saw one, or enough earlier failed
        # attempts at this quiz may have proposed one after that check's snapshot (PostgreSQL:
        # a racing submit that committed while this one waited for the row, which holds its attempt).
        if passed and (state.has_remedial or learning_paths.remedial_due(failed)):
            learning_paths.end_remedial(learner=learner, chapter=step.chapter, now=now)
        else:
            learning_paths.propose_remedial(learner=learner, quiz=step, failed=failed, now=now)
    return Result(
        Outcome.CHANGED, reason, progress=row, completed=completed,
        details={
            "score": score,
            "correct": correct,
            "attempts": len(row.progress_data["attempts"]),
            "best_score": row.progress_data["best_score"],
            "explanations": [q.get("explanation", "") for q in questions],
            "right_answers": [q["answer"] for q in questions],
        },
    )


def _after_test_out(*, learner, quiz, passed, now):
    """A test-out attempt: passing skips the rest of the chapter ("tested out"), failing restores it."""
    main_path, _remedial = learning_paths.active_paths(learner=learner)
    chapter_steps = list(quiz.chapter.steps.order_by("order_index"))
    done_ids = set(
        LearningProgress.objects.filter(user=learner, step__in=chapter_steps, status__in=DONE_STATUSES)
        .values_list("step_id", flat=True)
    )
    for step in learning_paths.after_test_out(
        learner=learner, main_path=main_path, quiz=quiz, passed=passed, chapter_steps=chapter_steps,
        done_ids=done_ids, now=now,
    ):
        row = _locked_row(learner, step)
        if row.status in DONE_STATUSES:
            continue
        row.status = Status.SKIPPED
        row.started_at = row.started_at or now
        row.progress_data["reason"] = learning_paths.TESTED_OUT
        row.save()
        _log(now=now, user_id=learner.pk, step=step, kind=EventKind.SKIPPED, reason=learning_paths.TESTED_OUT)


def _normalise_answer(text):
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    # Keep what changes a number's meaning (2.5, -3, 1/2, 40%); drop other punctuation.
    text = re.sub(r"[^\w.\-+/%]+", " ", text)
    return " ".join(word.strip(".") for word in text.split() if word.strip("."))


def submit_answer(*, learner, step, answer, now=None) -> Result:
    """An exercise answer: checked against ``activity.expected_answer`` when the step has one.

    Comparison ignores case, spacing and punctuation. Changes:
    progress_data ``submissions`` (and ``accepted_answer``), an ANSWERED
    event (and maybe COMPLETED).
    """
    now = now or timezone.now()
    answer = str(answer or "").strip()
    if not answer:
        return Result(Outcome.INVALID, _("write an answer first"))
    if len(answer) > 5000:
        return Result(Outcome.INVALID, _("that answer is too long (5000 characters at most)"))
    expected = (step.activity or {}).get("expected_answer")
    right = expected is None or _normalise_answer(answer) == _normalise_answer(expected)
    with _write_transaction():
        state, row, refused = _guarded(learner, step, start_at=now)
        if refused:
            return refused
        data = row.progress_data
        data["submissions"] = [*data.get("submissions", []), {"answer": answer, "right": right, "at": now.isoformat()}]
        if right and data.get("accepted_answer") is None:
            data["accepted_answer"] = answer
        _log(now=now, user_id=learner.pk, step=step, kind=EventKind.ANSWERED, right=right)
        completed, reason = _settle(row, step, now)
    return Result(Outcome.CHANGED, reason, progress=row, completed=completed, details={"right": right})


def mark_done(*, learner, step, now=None) -> Result:
    """The learner presses "Mark complete": a manual criterion is met by that; others are checked.

    When the criteria are not met nothing is written and the reason says why
    ("not yet: 34 of 60 seconds").
    """
    now = now or timezone.now()
    with _write_transaction():
        state, row, refused = _guarded(learner, step)
        if refused:
            return refused
        if row.status == Status.COMPLETED:
            return Result(Outcome.UNCHANGED, _("already completed"), progress=row)
        if row.status == Status.NOT_STARTED:
            return _refuse(Outcome.NOT_MET, _("open the step first"))
        criteria = criteria_for(row, step)
        if criteria.get("type") == "manual":
            row.progress_data["marked_done"] = True
        met, _percentage, reason = evaluate(progress=row, step=step)
        if not met:
            return _refuse(Outcome.NOT_MET, reason)
        completed, reason = _settle(row, step, now)
    return Result(Outcome.CHANGED, reason, progress=row, completed=completed)


# How many of a step's simulation reports its LearningProgress row keeps (all are in ProgressEvent).
EXTERNAL_REPORTS_KEPT = 20


def report_external(*, learner, step, completed=True, score=None, reporter=None, now=None, also=None) -> Result:
    """A lab simulation reports on ``step`` for ``learner`` (through the API).

    ``completed`` meets an external criterion; a ``score`` (0-100) counts as
    a quiz attempt's score for a quiz criterion. Changes: progress_data
    ``external_reports`` (the last EXTERNAL_REPORTS_KEPT), ``external_report_count``,
    ``external_completed``, maybe ``best_score``; an ANSWERED event (and maybe
    COMPLETED) with ``reporter`` as actor. ``also``: as for ``open_step``.
    """
    now = now or timezone.now()
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100):
        return Result(Outcome.INVALID, _("score must be a number from 0 to 100"))
    with _write_transaction(also=also) as writes:
        state, row, refused = _guarded(learner, step, start_at=now)
        if refused:
            return refused
        data = row.progress_data
        report = {"completed": bool(completed), "at": now.isoformat()}
        if score is not None:
            report["score"] = round(score)
            data["best_score"] = max(round(score), data.get("best_score") or 0)
        reports = data.get("external_reports", [])
        # The row keeps the latest reports and a count (rewriting an ever longer list on
        # every report would make a chatty simulation slower and slower); every report
        # stays in its ANSWERED event.
        data["external_report_count"] = data.get("external_report_count", len(reports)) + 1
        data["external_reports"] = [*reports, report][-EXTERNAL_REPORTS_KEPT:]
        if completed:
            data["external_completed"] = True
        _log(now=now, user_id=learner.pk, step=step, kind=EventKind.ANSWERED, actor=reporter, external=True, **report)
        done_now, reason = _settle(row, step, now)
        return writes.done(Result(Outcome.CHANGED, reason, progress=row, completed=done_now))


def _teacher_action_problem(actor, reason):
    if not reason or not str(reason).strip():
        return Result(Outcome.INVALID, _("a reason is required"))
    if actor is None or not actor.is_staff:
        return Result(Outcome.DENIED, _("only a teacher can do this"))
    return None


def skip_step(*, learner, step, reason=None, actor=None, now=None) -> Result:
    """Mark ``step`` skipped (done, so what follows unlocks). Always with a reason.

    A teacher (staff ``actor``) may excuse any step, locked or not, and must
    give the reason. A learner may skip only a step their active path marks
    skippable ("optional for intermediate learners", "tested out"); the
    path's note is the reason. Changes: LearningProgress status skipped, a
    SKIPPED event.
    """
    now = now or timezone.now()
    by_teacher = actor is not None and actor.is_staff
    if by_teacher and (not reason or not str(reason).strip()):
        return Result(Outcome.INVALID, _("a reason is required"))
    with transaction.atomic():
        if by_teacher:
            row = _locked_row(learner, step)
        else:
            reason = path_allows_skip(learner=learner, step=step)
            if not reason:
                return _refuse(Outcome.DENIED, _("only your teacher can excuse this step"))
            state, row, refused = _guarded(learner, step)
            if refused:
                return refused
        if row.status in DONE_STATUSES:
            return Result(Outcome.UNCHANGED, _("already done"), progress=row)
        row.status = Status.SKIPPED
        row.started_at = row.started_at or now
        row.progress_data["reason"] = str(reason)
        row.save()
        _log(now=now, user_id=learner.pk, step=step, kind=EventKind.SKIPPED, actor=actor, reason=str(reason))
    if by_teacher:
        audit("excuse", actor=actor.get_username(), learner=learner.get_username(), step=str(step.pk),
              reason=str(reason))
    return Result(Outcome.CHANGED, str(reason), progress=row)


def path_allows_skip(*, learner, step):
    """The reason the learner's active path lets them skip ``step`` ("tested out"), or "" if it does not."""
    main_path, remedial = learning_paths.active_paths(learner=learner)
    return learning_paths.skip_reason_on_path(main_path=main_path, remedial=remedial, step=step)


def reset(*, learner, step, actor, reason, now=None) -> Result:
    """A teacher sends ``step`` back to not started for ``learner``. History stays in ProgressEvent.

    Changes: LearningProgress back to defaults; a RESET event that keeps the
    old status and progress_data.
    """
    problem = _teacher_action_problem(actor, reason)
    if problem:
        return problem
    with transaction.atomic():
        row = LearningProgress.objects.select_for_update().filter(user=learner, step=step).first()
        if row is None or (row.status == Status.NOT_STARTED and not row.progress_data):
            return Result(Outcome.UNCHANGED, _("nothing to reset"), progress=row)
        _log(
            now=now, user_id=learner.pk, step=step, kind=EventKind.RESET, actor=actor, reason=str(reason),
            previous={"status": row.status, "completion_percentage": row.completion_percentage,
                      "progress_data": row.progress_data},
        )
        row.status = Status.NOT_STARTED
        row.completion_percentage = 0
        row.started_at = row.completed_at = None
        row.progress_data = {}
        row.save()
    audit("reset", actor=actor.get_username(), learner=learner.get_username(), step=str(step.pk), reason=str(reason))
    return Result(Outcome.CHANGED, str(reason), progress=row)


def force_complete(*, learner, step, actor, reason, now=None) -> Result:
    """A teacher or operator override: mark ``step`` completed whatever the criteria say.

    Changes: LearningProgress completed at 100 %; an OVERRIDE event with the
    actor and reason.
    """
    now = now or timezone.now()
    if not reason or not str(reason).strip():
        return Result(Outcome.INVALID, _("a reason is required"))
    if actor is not None and not actor.is_staff:
        return Result(Outcome.DENIED, _("only a teacher can do this"))
    with transaction.atomic():
        row = _locked_row(learner, step)
        if row.status == Status.COMPLETED:
            return Result(Outcome.UNCHANGED, _("already completed"), progress=row)
        if row.status == Status.NOT_STARTED:
            row.progress_data = {**row.progress_data, "criteria": step.required_completion_criteria}
        row.status = Status.COMPLETED
        row.started_at = row.started_at or now
        row.completed_at = now
        row.completion_percentage = 100
        row.progress_data["reason"] = str(reason)
        row.save()
        _log(now=now, user_id=learner.pk, step=step, kind=EventKind.OVERRIDE, actor=actor, reason=str(reason),
             status=Status.COMPLETED)
    audit("override", actor=actor.get_username() if actor else "operator", learner=learner.get_username(),
          step=str(step.pk), reason=str(reason))
    return Result(Outcome.CHANGED, str(reason), progress=row, completed=True)


# --------------------------------------------------------------------------
# Roll-ups (aggregate queries only)
# --------------------------------------------------------------------------


def _learner_chapters(learner):
    """The learner's active chapters (their class, plus grade-less ones), their class read inside the same query."""
    grade = Subquery(UserProfile.objects.filter(user=learner).values("grade")[:1])
    return Chapter.objects.filter(Q(grade=grade) | Q(grade__isnull=True), is_active=True)


def chapter_rollups(*, learner, chapters):
    """``chapters`` annotated with ``steps_total`` and ``steps_done`` for ``learner`` (one query)."""
    return chapters.annotate(
        mine=FilteredRelation("steps__progress", condition=Q(steps__progress__user=learner)),
    ).annotate(
        steps_total=Count("steps", distinct=True),
        steps_done=Count("mine", filter=Q(mine__status__in=DONE_STATUSES), distinct=True),
        steps_started=Count("mine", filter=Q(mine__status=Status.IN_PROGRESS), distinct=True),
    )


@dataclass(frozen=True)
class SubjectRollup:
    subject: Subject
    steps_total: int
    steps_done: int
    chapters_total: int
    chapters_done: int

    @property
    def percentage(self):
        return round(100 * self.steps_done / self.steps_total) if self.steps_total else 0


def subject_rollups(*, learner) -> list[SubjectRollup]:
    """Per subject of the learner's class: steps and chapters done out of total (one query).

    Only active chapters of the learner's grade (or with no grade) count.
    """
    chapters = _learner_chapters(learner)
    done_row = LearningProgress.objects.filter(user=learner, status__in=DONE_STATUSES, step=OuterRef("pk"))
    steps = LearningStep.objects.filter(chapter__in=chapters)
    step_total = steps.filter(chapter__subject=OuterRef("pk")).order_by().values("chapter__subject")
    step_done = step_total.filter(Exists(done_row))
    undone_step = LearningStep.objects.filter(chapter=OuterRef("pk")).exclude(Exists(done_row))
    chapter_base = chapters.filter(subject=OuterRef("pk")).order_by().values("subject")
    subjects = Subject.objects.annotate(
        steps_total=Subquery(step_total.annotate(n=Count("pk")).values("n")),
        steps_done=Subquery(step_done.annotate(n=Count("pk")).values("n")),
        chapters_total=Subquery(chapter_base.annotate(n=Count("pk")).values("n")),
        chapters_done=Subquery(
            chapter_base.filter(~Exists(undone_step)).annotate(n=Count("pk")).values("n")
        ),
    ).filter(chapters_total__gt=0)
    return [
        SubjectRollup(
            subject=s, steps_total=s.steps_total or 0, steps_done=s.steps_done or 0,
            chapters_total=s.chapters_total or 0, chapters_done=s.chapters_done or 0,
        )
        for s in subjects
    ]


def done_counts_by_chapter(*, learner) -> dict:
    """``{chapter_id: steps done}`` for ``learner`` (one aggregate query, from the (user, status, step) index)."""
    return dict(
        LearningProgress.objects.filter(user=learner, status__in=DONE_STATUSES)
        .values_list("step__chapter_id")
        .annotate(n=Count("step"))
        .order_by()
    )


def rollups_from_states(states) -> list[SubjectRollup]:
    """``subject_rollups`` computed from ``curriculum_states`` the page already has: no query.

    The same numbers: ``states`` holds exactly the learner's active chapters.
    """
    by_subject = {}
    for state in states.values():
        subject = state.chapter.subject
        entry = by_subject.setdefault(subject.pk, [subject, 0, 0, 0, 0])
        done = state.done_count
        entry[1] += len(state.steps)
        entry[2] += done
        entry[3] += 1
        entry[4] += done == len(state.steps)
    ordered = sorted(by_subject.values(), key=lambda e: (e[0].order, e[0].name))
    return [
        SubjectRollup(subject=subject, steps_total=total, steps_done=done, chapters_total=chapters,
                      chapters_done=chapters_done)
        for subject, total, done, chapters, chapters_done in ordered
    ]


def overall_percentage(rollups):
    """Steps done over steps total across the subject roll-ups (already aggregated in SQL)."""
    total = sum(r.steps_total for r in rollups)
    return round(100 * sum(r.steps_done for r in rollups) / total) if total else 0


# --------------------------------------------------------------------------
# The learner's whole curriculum: what to do next, time on task (dashboard)
# --------------------------------------------------------------------------


def curriculum_states(*, learner, chapters=None, paths=None, snapshot=None, done_data=True) -> dict:
    """``chapter_states`` for every chapter of the learner's curriculum, in three queries whatever its size.

    ``snapshot`` (curriculum/cache.py, for the learner's grade) replaces
    ``chapters`` and the two curriculum queries: then one query reads the
    learner's rows (``done_data``: see ``chapter_states``).

    ``chapters`` is a Chapter queryset (default: the active chapters of the
    learner's class plus grade-less ones, which costs one more query to read
    the class). Prerequisite chapters outside it (another class, a retired
    chapter) come in the same query, so ``chapter_states`` never has to look
    them up; they decide locks but are not returned. Returns
    ``{chapter_id: ChapterState}`` in subject order, grade-less chapters first,
    then by order_index. Writes nothing.
    """
    if snapshot is not None:
        states = chapter_states(learner=learner, chapters=snapshot.chapters, paths=paths, steps=snapshot.steps,
                                done_data=done_data)
        return {pk: state for pk, state in states.items() if state.chapter.in_curriculum}
    if chapters is None:
        chapters = _learner_chapters(learner)
    loaded = list(
        Chapter.objects.filter(Q(pk__in=chapters.values("pk")) | Q(pk__in=chapters.values("prerequisite_chapter")))
        .annotate(in_curriculum=Exists(chapters.filter(pk=OuterRef("pk"))))
        .select_related("subject")
        .order_by("subject__order", "subject__name", "subject_id", F("grade").asc(nulls_first=True), "order_index")
    )
    for chapter in loaded:
        if not chapter.in_curriculum:
            # Only whether this outside chapter is *done* matters here, never its
            # own lock; forgetting its prerequisite keeps chapter_states from
            # querying a chain of chapters that are not on the page.
            chapter.prerequisite_chapter_id = None
    states = chapter_states(learner=learner, chapters=loaded, paths=paths)
    return {pk: state for pk, state in states.items() if state.chapter.in_curriculum}


class SnapshotIndex:
    """What the frontier looks up in a curriculum/cache.py snapshot, built once per snapshot (``snapshot_index``).

    ``chapter_of``: ``{step_id: chapter}`` for every step of the snapshot;
    ``steps_of``: ``{chapter_id: [steps]}`` in order_index order; ``position``:
    ``{step_id: n}``, the step's place in ``curriculum_states`` order;
    ``interactive``: the ids of the simulation (interactive) steps; ``info_of_text``: ``{a step id
    as text: (step_id, its chapter's place in chapter_ids, its subject's place in subject_ids or None
    outside the curriculum, interactive)}``, the text in both spellings (hex, as SQLite stores a UUID,
    and with dashes, as PostgreSQL writes one); the same split up for counting with C loops:
    ``chapter_at_of_text``, ``interactive_subject_of_text`` (simulation steps of the curriculum) and
    ``curriculum_texts`` (the steps of the curriculum chapters);
    ``subjects``: ``[(subject, [its curriculum chapters])]`` in roll-up order
    (``rollups_from_states``); ``simulations_total``: ``{subject_id:
    interactive steps in its curriculum chapters}``. Read-only.
    """

    def __init__(self, snapshot):
        self.snapshot = snapshot
        self.chapter_by_id = {c.id: c for c in snapshot.chapters}
        self.steps_of = {c.id: [] for c in snapshot.chapters}
        for step in snapshot.steps:
            self.steps_of[step.chapter_id].append(step)
        self.chapter_of, self.position, self.interactive = {}, {}, set()
        self.info_of_text, self.chapter_ids, subject_at = {}, [c.id for c in snapshot.chapters], {}
        self.subject_ids = []
        self.chapter_at_of_text, self.interactive_subject_of_text, self.curriculum_texts = {}, {}, set()
        for chapter in snapshot.chapters:
            if chapter.in_curriculum and chapter.subject_id not in subject_at:
                subject_at[chapter.subject_id] = len(self.subject_ids)
                self.subject_ids.append(chapter.subject_id)
        self.simulations_total, by_subject = {}, {}
        for chapter_at, chapter in enumerate(snapshot.chapters):  # curriculum_states order
            if chapter.in_curriculum:
                by_subject.setdefault(chapter.subject_id, (chapter.subject, []))[1].append(chapter)
                self.simulations_total.setdefault(chapter.subject_id, 0)
            for step in self.steps_of[chapter.id]:
                self.chapter_of[step.id] = chapter
                self.position[step.id] = len(self.position)
                info = (step.id, chapter_at, subject_at.get(chapter.subject_id) if chapter.in_curriculum else None,
                        step.step_type == StepType.INTERACTIVE)
                _step_id, _chapter_at, in_subject_at, interactive = info
                for text in (step.id.hex, str(step.id)):
                    self.info_of_text[text] = info
                    self.chapter_at_of_text[text] = chapter_at
                    if in_subject_at is not None:
                        self.curriculum_texts.add(text)
                        if interactive:
                            self.interactive_subject_of_text[text] = in_subject_at
                if step.step_type == StepType.INTERACTIVE:
                    self.interactive.add(step.id)
                    if chapter.in_curriculum:
                        self.simulations_total[chapter.subject_id] += 1
        # sorted() is stable: subjects that tie keep curriculum order, as in rollups_from_states.
        self.subjects = sorted(by_subject.values(), key=lambda e: (e[0].order, e[0].name))
        self.chapters_by_subject = {subject.id: chapters for subject, chapters in self.subjects}
        self.curriculum_chapters = [c for c in snapshot.chapters if c.in_curriculum]  # curriculum_states order
        # For CurriculumFrontier.rollups: per subject (subject, steps, chapters, chapters without steps: done),
        # and the subject of each curriculum chapter.
        self.subject_totals = [(subject, sum(c.steps_total for c in chapters), len(chapters),
                                sum(1 for c in chapters if not c.steps_total)) for subject, chapters in self.subjects]
        self.curriculum_subject_of = {c.id: c.subject_id for c in self.curriculum_chapters}


_indexes = {}  # {id(snapshot): (snapshot, SnapshotIndex)}; snapshots are replaced whole, never changed


def snapshot_index(snapshot) -> SnapshotIndex:
    entry = _indexes.get(id(snapshot))
    if entry is not None and entry[0] is snapshot:
        return entry[1]
    index = SnapshotIndex(snapshot)
    if not snapshot.version:
        return index  # built for one request (the cache is down): keep nothing
    if len(_indexes) >= 16:  # older curriculum versions
        _indexes.clear()
    _indexes[id(snapshot)] = (snapshot, index)
    return index


# The learner's rows for CurriculumFrontier, in one statement of two parts. Done rows (most of a
# heavy learner's 3,000+) come as one row per status holding their step ids, row ids and
# percentages as comma-separated text: reading them as rows cost more than the rest of the page
# (Python builds a tuple and its strings per row: 7 ms on SQLite for 3,500 rows, 1 ms now). Both
# aggregates of a group see its rows in the same order, so the lists line up. A done row's time
# and JSON are never read (see chapter_states). Rows not done come whole.
_FRONTIER_SQL = """
SELECT status, {agg}(step_id{text}, ','), {agg}(id{text}, ','), {agg}(completion_percentage{text}, ','),
       NULL, NULL
FROM {table} WHERE user_id = %s AND status IN (%s, %s) GROUP BY status
UNION ALL
SELECT status, step_id{text}, id{text}, completion_percentage{text}, updated_at, progress_data
FROM {table} WHERE user_id = %s AND status IN (%s, %s)
"""
_NOT_DONE = tuple(s.value for s in Status if s not in DONE_STATUSES)


class CurriculumFrontier:
    """The learner's curriculum as ``curriculum_states`` sees it, computed only where a page looks.

    One query reads the learner's rows as plain values (``progress_data`` only
    for rows not done); every per-chapter count then comes from those rows and
    the snapshot (``done_counts``, ``rollups``), and ``state(chapter)`` runs
    ``chapter_states`` on that one chapter on demand, with the rows and its
    prerequisite chapter already known (no query): the same rules, the same
    answers as the full ``curriculum_states(snapshot=...)``, without building
    thousands of step states nobody shows. Writes nothing.
    """

    def __init__(self, *, learner, snapshot, paths):
        self.learner, self.paths = learner, paths
        self.index = snapshot_index(snapshot)
        self.curriculum_chapters = self.index.curriculum_chapters
        self.done_counts = {}  # {chapter_id: steps done}
        self.in_progress = []  # step ids of rows in progress in the curriculum
        self.has_progress = False  # a curriculum step the learner has started
        self.interactive_done = {}  # {subject_id: simulations done}
        done = tuple(s.value for s in DONE_STATUSES)
        db = router.db_for_read(LearningProgress)
        connection = connections[db]
        # Ids come as text, looked up in the snapshot's index by that text: no UUID is built per row.
        postgresql = connection.vendor == "postgresql"
        sql = _FRONTIER_SQL.format(text="::text" if postgresql else "", table=LearningProgress._meta.db_table,
                                   agg="string_agg" if postgresql else "group_concat")
        with connection.cursor() as cursor:
            cursor.execute(sql, [learner.pk, *done, learner.pk, *_NOT_DONE])
            rows = cursor.fetchall()
        index = self.index
        values_of, done_groups = {}, []
        done_at, interactive_at = collections.Counter(), collections.Counter()
        for status, step_text, pk_text, percentage, updated_at, data in rows:
            if status in done:
                # Counted by C loops (map, Counter) over the split text: no Python per row.
                steps = step_text.split(",")
                done_groups.append((status, steps, pk_text.split(","), str(percentage).split(",")))
                done_at.update(map(index.chapter_at_of_text.get, steps))
                interactive_at.update(map(index.interactive_subject_of_text.get, steps))
                if not self.has_progress and not index.curriculum_texts.isdisjoint(steps):
                    self.has_progress = True
                continue
            info = index.info_of_text.get(step_text)
            if info is None:
                continue  # a step outside the learner's curriculum and its prerequisite chapters
            values_of[step_text] = (pk_text, step_text, status, int(percentage), updated_at, data)
            step_id, _chapter_at, subject_at, _interactive = info  # subject_at None: a prerequisite outside
            if subject_at is not None:
                if status == Status.IN_PROGRESS:
                    self.in_progress.append(step_id)
                if status != Status.NOT_STARTED:
                    self.has_progress = True
        done_at.pop(None, None)  # steps outside the learner's curriculum and its prerequisite chapters
        interactive_at.pop(None, None)
        # Keyed by UUID once at the end, from small ints (a chapter's place, a subject's): a UUID hashes in Python.
        self.done_counts.update((index.chapter_ids[at], n) for at, n in done_at.items())
        self.interactive_done.update((index.subject_ids[at], n) for at, n in interactive_at.items())
        self._values = values_of  # rows not done: {step id as the database wrote it: row values}
        self._done_groups, self._done_of = done_groups, None
        self._text = str if postgresql else operator.attrgetter("hex")
        self._db, self._rows, self._states, self._test_out_ids = db, {}, {}, None

    def _done_values(self, text):
        """A done row's values as the rows not done have them (no time, no JSON), or None."""
        if self._done_of is None:  # built on the first done row a page shows; C loops again
            self._done_of = {}
            for status, steps, pks, percentages in self._done_groups:
                values = zip(pks, steps, itertools.repeat(status), percentages, strict=False)  # repeat() is endless
                self._done_of.update(zip(steps, values, strict=True))
        values = self._done_of.get(text)
        if values is None:
            return None
        pk, step_text, status, percentage = values
        return pk, step_text, status, int(percentage), None, None

    @classmethod
    def for_learner(cls, learner, *, profile=None, snapshot=None) -> CurriculumFrontier:
        """The frontier of ``learner``'s class as the pages read it: their active paths (built on their
        first page view; the main path without its step order) and the class's cached curriculum."""
        profile = profile or profile_of(learner)
        paths = learning_paths.ensure_active_paths(learner=learner, profile=profile, main_sequence=False)
        return cls(learner=learner, snapshot=snapshot or curriculum_cache.snapshot(profile.grade), paths=paths)

    def row(self, step_id):
        """The learner's LearningProgress for ``step_id`` (a done row without its JSON and times), or None."""
        if step_id in self._rows:
            return self._rows[step_id]
        text = self._text(step_id)
        values = self._values.get(text) or self._done_values(text)
        row = None
        if values is not None:
            pk, _step_text, status, percentage, updated_at, data = values
            names = ["id", "user_id", "step_id", "status", "completion_percentage"]
            loaded = [uuid.UUID(pk), self.learner.pk, step_id, status, percentage]
            if status not in DONE_STATUSES:  # concrete field order: progress_data comes before updated_at
                names += ["progress_data", "updated_at"]
                loaded += [raw_rows.converter(LearningProgress, "progress_data", self._db)(data),
                           raw_rows.converter(LearningProgress, "updated_at", self._db)(updated_at)]
            row = LearningProgress.from_db(self._db, names, loaded)
        self._rows[step_id] = row
        return row

    def chapter_done(self, chapter_id):
        """Every step done, or the chapter inactive (as ``chapter_states`` and ``_outside_chapters`` count it)."""
        chapter = self.index.chapter_by_id.get(chapter_id)
        if chapter is None:
            return False
        return not chapter.is_active or self.done_counts.get(chapter_id, 0) == chapter.steps_total

    def _prerequisite(self, chapter):
        pre_id = chapter.prerequisite_chapter_id
        if not pre_id:
            return None
        pre = self.index.chapter_by_id.get(pre_id)
        return (pre.title if pre is not None else "?", self.chapter_done(pre_id))

    def may_have_available(self, chapter):
        """False when no step of ``chapter`` can be open and not done: all done, or the chapter itself locked."""
        if self.done_counts.get(chapter.id, 0) == chapter.steps_total:
            return False
        return not _chapter_lock(chapter, self._prerequisite(chapter))

    def state(self, chapter) -> ChapterState:
        """``chapter_states`` for ``chapter`` alone (no query), kept for the rest of the request."""
        state = self._states.get(chapter.id)
        if state is None:
            steps = self.index.steps_of[chapter.id]
            wanted = [s.pk for s in steps] + [s.prerequisite_step_id for s in steps if s.prerequisite_step_id]
            rows = {step_id: row for step_id in wanted if (row := self.row(step_id)) is not None}
            prerequisite = self._prerequisite(chapter)
            outside = {chapter.prerequisite_chapter_id: prerequisite} if prerequisite is not None else {}
            if self._test_out_ids is None:
                self._test_out_ids = learning_paths.test_out_step_ids(self.paths[0])
            state = chapter_states(learner=self.learner, chapters=[chapter], paths=self.paths, steps=steps,
                                   rows=rows, outside=outside, test_out_ids=self._test_out_ids)[chapter.id]
            self._states[chapter.id] = state
        return state

    def step_state(self, step_id):
        """The StepState of a curriculum step (``step_id`` a UUID or its str), or None if not in the curriculum."""
        if isinstance(step_id, str):
            try:
                step_id = uuid.UUID(step_id)
            except ValueError:
                return None
        chapter = self.index.chapter_of.get(step_id)
        if chapter is None or not chapter.in_curriculum:
            return None
        return self.state(chapter).state_for(step_id)

    def chapters_of(self, subject_id):
        return self.index.chapters_by_subject.get(subject_id, [])

    def rollups(self) -> list[SubjectRollup]:
        """``rollups_from_states`` from the counts: the same numbers, no step states.

        Walks the chapters the learner has done steps in, not the whole curriculum (800 chapters at
        district scale): a chapter without steps counts as done, as in ``rollups_from_states``.
        """
        index, steps_done, chapters_done = self.index, {}, {}
        for chapter_id, count in self.done_counts.items():
            subject_id = index.curriculum_subject_of.get(chapter_id)
            if subject_id is None:
                continue  # a prerequisite chapter outside the learner's curriculum
            steps_done[subject_id] = steps_done.get(subject_id, 0) + count
            if count == index.chapter_by_id[chapter_id].steps_total:
                chapters_done[subject_id] = chapters_done.get(subject_id, 0) + 1
        return [
            SubjectRollup(subject=subject, steps_total=total, steps_done=steps_done.get(subject.id, 0),
                          chapters_total=chapters, chapters_done=chapters_done.get(subject.id, 0) + empty)
            for subject, total, chapters, empty in index.subject_totals
        ]

    def simulations_total(self):
        """``{subject_id: interactive steps}`` over the curriculum chapters."""
        return self.index.simulations_total

    def latest_in_progress(self):
        """The StepState of the most recently updated row in progress (ties: the first in curriculum order)."""
        if not self.in_progress:
            return None
        position = self.index.position
        ordered = sorted(self.in_progress, key=position.__getitem__)
        updated_at = raw_rows.converter(LearningProgress, "updated_at", self._db)  # as the ORM reads it
        latest = max(ordered, key=lambda step_id: updated_at(self._values[self._text(step_id)][4]))
        return self.step_state(latest)

    def first_available(self):
        """The first step in curriculum order that is open and not done (chapter by chapter), or None."""
        for chapter in self.curriculum_chapters:
            if not self.may_have_available(chapter):
                continue
            for step_state in self.state(chapter).steps:
                if step_state.is_available and not step_state.is_done:
                    return step_state
        return None


# A learner who failed the same quiz this many times is sent back to the reading first.
REVIEW_AFTER_FAILED_ATTEMPTS = 2


@dataclass(frozen=True)
class Recommendation:
    """A step the learner can do now and why it is suggested.

    ``kind`` is "next" (the next step of a subject) or "review" (read again
    before retrying ``quiz``, a quiz failed REVIEW_AFTER_FAILED_ATTEMPTS times).
    """

    state: StepState
    reason: str
    kind: str = "next"
    quiz: LearningStep | None = None

    @property
    def step(self):
        return self.state.step


def failed_attempts(*, progress, step) -> int:
    """How many of the quiz attempts in ``progress`` scored below the pass mark (0 if not a quiz)."""
    if progress is None:
        return 0
    criteria = criteria_for(progress, step)
    if criteria.get("type") != "quiz":
        return 0
    needed = int(criteria["min_score"])
    return sum(1 for a in (progress.progress_data or {}).get("attempts", []) if (a.get("score") or 0) < needed)


def _remedial_recommendations(remedial, state_of):
    """Steps of active remedial paths still to review, then their quiz, in path order (``state_of(str id)``)."""
    for path in remedial:
        quiz_state = state_of(path.steps_sequence[-1]) if path.steps_sequence else None
        to_review = [k for k, note in path.step_notes.items() if not note.get("reviewed")]
        for step_id in path.steps_sequence:
            state = state_of(step_id)
            note = path.step_notes.get(step_id)
            if state is None or not state.is_available or (note is not None and note.get("reviewed")):
                continue
            if note is None and state.is_done:  # the quiz itself, once passed (the path then ends)
                continue
            if state is quiz_state and to_review:
                continue  # the quiz comes back once the review is done
            if quiz_state is None or state is quiz_state:
                reason = _("try “%(quiz)s” again: your review is done") % {"quiz": state.step.title}
            else:
                reason = _("you failed “%(quiz)s” twice: review “%(title)s” first") % {
                    "quiz": quiz_state.step.title, "title": state.step.title,
                }
            yield Recommendation(state=state, kind="review", reason=reason,
                                 quiz=quiz_state.step if quiz_state else None)


class _EagerStates:
    """``next_steps``' view of a ``curriculum_states`` result (CurriculumFrontier is the lazy one)."""

    def __init__(self, states, remedial):
        self._states = states
        # Only remedial paths look steps up by id: without one, skip the 4000 str(uuid) of a big curriculum.
        self._by_id = {
            str(s.step.id): s for chapter_state in states.values() for s in chapter_state.steps
        } if remedial else {}
        self._by_subject = {}
        for chapter_state in states.values():
            self._by_subject.setdefault(chapter_state.chapter.subject_id, []).append(chapter_state.chapter)

    def step_state(self, step_id):
        return self._by_id.get(step_id)

    def chapters_of(self, subject_id):
        return self._by_subject.get(subject_id, [])

    def may_have_available(self, chapter):
        return True

    def state(self, chapter):
        return self._states[chapter.pk]


def next_steps(*, learner, limit=3, states=None, rollups=None, paths=None, frontier=None) -> list[Recommendation]:
    """Up to ``limit`` steps the learner can do now, each with its reason; locked steps never appear.

    Active remedial paths come first ("review path: Ohm's Law"). Then subjects
    ranked by their roll-up percentage (lowest first; ties keep subject
    order); within a subject, the learner's main path order (a test-out quiz
    first), else textbook order. A step the path leaves out is suggested only
    when it blocks the way ("optional for your level: read it or skip it").
    Without a remedial path, an available quiz failed REVIEW_AFTER_FAILED_ATTEMPTS
    times is replaced by the chapter's first reading step ("review Theory first").

    ``states`` (from ``curriculum_states``), ``rollups`` (``subject_rollups``)
    and ``paths`` (``paths.active_paths``) may be passed by a page that
    already has them, so nothing is queried twice. ``frontier`` (a
    CurriculumFrontier, with its ``rollups()``) replaces ``states``: then only
    the chapters a suggestion may come from get step states. Writes nothing.
    """
    paths = learning_paths.active_paths(learner=learner) if paths is None else paths
    main_path, remedial = paths
    if frontier is None:
        states = curriculum_states(learner=learner, paths=paths) if states is None else states
        frontier = _EagerStates(states, remedial)
    rollups = subject_rollups(learner=learner) if rollups is None else rollups
    position = {}  # {step_id: place on the main path}, built the first time two candidates need ordering
    omitted = main_path.omitted if main_path else {}
    remedial_chapters = {p.chapter_id for p in remedial}

    picked, seen = [], set()

    def pick(item):
        if item.step.pk in seen:
            return False
        seen.add(item.step.pk)
        picked.append(item)
        return len(picked) >= limit

    for item in _remedial_recommendations(remedial, frontier.step_state):
        if pick(item):
            return picked

    ranked = sorted(rollups, key=lambda r: r.percentage)
    # "Lowest" only when it is: with every subject at 0 % it would single one out for nothing.
    has_lowest = len(ranked) > 1 and ranked[0].percentage < ranked[1].percentage
    for rank, rollup in enumerate(ranked):
        if rank == 0 and has_lowest:
            reason = _("%(subject)s is your lowest subject at %(pct)d%%") % {
                "subject": rollup.subject.name, "pct": rollup.percentage,
            }
        elif not rollup.steps_done:
            reason = _("a first step in %(subject)s") % {"subject": rollup.subject.name}
        else:
            reason = _("next in %(subject)s (%(pct)d%% done)") % {
                "subject": rollup.subject.name, "pct": rollup.percentage,
            }
        for chapter in frontier.chapters_of(rollup.subject.pk):
            if chapter.pk in remedial_chapters:
                continue  # an active remedial path replaces the main path for this chapter
            if not frontier.may_have_available(chapter):
                continue  # every step done, or the chapter locked: nothing to suggest, no step states needed
            chapter_state = frontier.state(chapter)
            candidates = [s for s in chapter_state.steps if not s.is_done and s.is_available]
            if main_path is not None and len(candidates) > 1:
                if not position:  # (the dashboard loads the path without its sequence until here)
                    position.update((step_id, i) for i, step_id in enumerate(main_path.steps_sequence))
                candidates.sort(key=lambda s: position.get(str(s.step.pk), len(position)))
            for state in candidates:
                item = Recommendation(state=state, reason=reason)
                if str(state.step.pk) in omitted:
                    item = Recommendation(state=state, reason=_("optional for your level: read it or skip it"))
                elif failed_attempts(progress=state.progress, step=state.step) >= REVIEW_AFTER_FAILED_ATTEMPTS:
                    reading = next(
                        (s for s in chapter_state.steps
                         if s.step.step_type == StepType.READING and s.is_available and s is not state),
                        None,
                    )
                    if reading is not None:
                        item = Recommendation(
                            state=reading, kind="review", quiz=state.step,
                            reason=_("you failed “%(quiz)s” twice: review “%(title)s” first") % {
                                "quiz": state.step.title, "title": reading.step.title,
                            },
                        )
                if pick(item):
                    return picked
    return picked


@dataclass(frozen=True)
class DayActivity:
    """Active time on one calendar day (in the current time zone)."""

    day: datetime.date
    seconds: int

    @property
    def minutes(self):
        """Whole minutes, but never 0 for a day with some activity (20 s shows as 1 min, not nothing)."""
        return max(1, round(self.seconds / 60)) if self.seconds else 0


def active_minutes_by_day(*, learner, days=14, today=None) -> list[DayActivity]:
    """Active time per day over the last ``days`` days (today included), oldest first, zero-filled.

    Summed in SQL (one query) from the learner's TIME events' ``data["seconds"]``,
    grouped by calendar day in the current time zone. Writes nothing.

    The days' bounds (local midnights, daylight saving included) are worked out here and the
    database sorts each event between them with a CASE: no time-zone conversion per row (on
    SQLite that is a Python function called for every event) and no ORM query to compile.
    """
    today = today or timezone.localdate()
    first = today - datetime.timedelta(days=days - 1)
    tz = timezone.get_current_timezone()
    bounds = [datetime.datetime.combine(first + datetime.timedelta(days=n), datetime.time.min, tzinfo=tz)
              for n in range(days + 1)]
    db = router.db_for_read(ProgressEvent)
    connection = connections[db]
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor == "postgresql":
        # Float: heartbeats credit tenths of a second (an integer cast fails for "4.5").
        seconds = "(data ->> 'seconds')::double precision"
    else:
        seconds = "CAST(json_extract(data, '$.\"seconds\"') AS REAL)"
    day = " ".join(f"WHEN created_at < %s THEN {n}" for n in range(days - 1))
    sql = (f"SELECT CASE {day} ELSE {days - 1} END, SUM({seconds}) FROM {ProgressEvent._meta.db_table} "
           f"WHERE user_id = %s AND kind = %s AND created_at >= %s AND created_at < %s GROUP BY 1")
    params = [adapt(b) for b in bounds[1:days]] + [learner.pk, EventKind.TIME.value, adapt(bounds[0]),
                                                    adapt(bounds[days])]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        totals = dict(cursor.fetchall())
    return [DayActivity(day=first + datetime.timedelta(days=n), seconds=int(totals.get(n) or 0))
            for n in range(days)]


# --------------------------------------------------------------------------
# MARS-labs documents (legacy import and the compatible API)
# --------------------------------------------------------------------------

# MARS-labs keyed subjects by short codes, but clients also sent full names.
SUBJECT_ALIASES = {
    "physics": "phy", "phys": "phy",
    "chemistry": "chem",
    "maths": "math", "mathematics": "math",
    "biology": "bio",
}


def normalise_title(text):
    """Titles match after normalising case, punctuation and spacing: "ohms law" = "Ohm's Law"."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = re.sub(r"['’`]", "", text)  # "Ohm's" -> "ohms", not "ohm s"
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


@dataclass
class ApplyReport:
    """What applying one MARS-labs document did."""

    document_id: int
    completed: int = 0  # steps newly completed
    already_done: int = 0
    unmatched: list = field(default_factory=list)  # [{"subject", "list", "title", "reason"}]


class _ChapterIndex:
    """Chapters by (subject code, normalised title), steps by chapter and type: two queries in all."""

    def __init__(self):
        self.subject_codes = set(Subject.objects.values_list("code", flat=True))
        self.chapters = {}
        for chapter in Chapter.objects.select_related("subject").only("id", "grade", "title", "subject__code"):
            self.chapters.setdefault((chapter.subject.code, normalise_title(chapter.title)), []).append(chapter)
        self.steps = {}
        for step_id, chapter_id, step_type in LearningStep.objects.values_list("id", "chapter_id", "step_type"):
            self.steps.setdefault((chapter_id, step_type), []).append(step_id)

        # Documents repeat the same few titles: each (subject, list, title, class) is matched once per batch
        # (normalising a title costs three regexes, a reason a gettext).
        self._matches = {}

    def subject_code(self, key):
        key = str(key).strip().casefold()
        code = SUBJECT_ALIASES.get(key, key)
        return code if code in self.subject_codes else None

    def match(self, key, step_type, title, grade):
        """``(step ids, None)`` for one listed title, or ``((), reason)`` when it matches no step."""
        if not isinstance(title, str):
            return self._match(key, step_type, title, grade)
        memo = (key, step_type, title, grade)
        found = self._matches.get(memo)
        if found is None:
            found = self._matches[memo] = self._match(key, step_type, title, grade)
        return found

    def _match(self, key, step_type, title, grade):
        code = self.subject_code(key)
        if code is None:
            return (), _("no subject with code %(code)r") % {"code": key}
        chapter = self.chapter(code, title, grade)
        if chapter is None:
            return (), _("no chapter with this title")
        steps = self.steps.get((chapter.pk, step_type), [])
        if not steps:
            return (), _("chapter '%(title)s' has no %(type)s step") % {"title": chapter.title, "type": step_type}
        return steps, None

    def chapter(self, code, title, grade):
        """The chapter of that title, preferring the document's class, then grade-less, then any."""
        found = self.chapters.get((code, normalise_title(title)), [])
        for wanted in (grade, None):
            for chapter in found:
                if chapter.grade == wanted:
                    return chapter
        return found[0] if found else None


# Which steps each MARS-labs list completes.
_LIST_STEP_TYPES = {"completed_experiments": "interactive", "completed_quizzes": "quiz"}


def document_grade(data):
    """A MARS-labs document's ``class`` as a grade 1-12 (12, 12.0 or "12"), else None.

    Legacy documents are stored as they were, so the class may be anything:
    ASCII digits only ("²".isdigit() is true but int("²") fails, and int()
    refuses over 4300 digits).
    """
    grade = data.get("class") if isinstance(data, dict) else None
    digits = isinstance(grade, str) and re.fullmatch(r"[0-9]{1,10}", grade)
    if digits or (isinstance(grade, float) and grade.is_integer()):
        grade = int(grade)
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 12:
        return None
    return grade


def _document_targets(index, document, report):
    """The step ids one document completes; what matches nothing goes into ``report.unmatched``."""
    data = document.progress_data or {}
    grade = document_grade(data)
    targets = set()
    match = index.match
    for key, lists in (data.get("subject_progress") or {}).items():
        for list_name, step_type in _LIST_STEP_TYPES.items():
            for title in (lists or {}).get(list_name) or []:
                steps, reason = match(key, step_type, title, grade)
                if reason is not None:
                    report.unmatched.append({"subject": key, "list": list_name, "title": title, "reason": reason})
                targets.update(steps)
    return targets


def apply_marslabs_documents(*, documents, actor=None, trusted=True, now=None) -> list[ApplyReport]:
    """Apply stored MARS-labs documents (Progress rows) to LearningProgress, in bulk.

    ``completed_experiments`` completes the interactive steps of the chapter
    with that title in that subject, ``completed_quizzes`` its quiz steps.
    Trusted documents (an operator's import, a lab token, staff) bypass locks
    (the learner did the work elsewhere) and are marked ``imported`` in
    progress_data and in their COMPLETED event. A document a learner wrote
    about themselves is not trusted (``trusted=False``): see
    ``_apply_untrusted``.
    Several documents for one learner are unioned. Entries that match nothing
    are saved on each document's ``unmatched``; ``applied_at`` is set. A
    document's ``class`` fills the learner's grade when it is unset.
    Running it again changes nothing. A fixed number of queries per batch.
    """
    now = now or timezone.now()
    documents = list(documents)
    if not documents:
        return []
    index = _ChapterIndex()
    reports, wanted = [], {}
    for document in documents:
        report = ApplyReport(document_id=document.pk)
        for step_id in _document_targets(index, document, report):
            wanted.setdefault((document.user_id, step_id), document.pk)
        reports.append(report)
    by_document = {r.document_id: r for r in reports}
    if not trusted:
        return _apply_untrusted(documents, wanted, by_document, now=now)
    user_ids = {d.user_id for d in documents}
    with transaction.atomic():
        existing = {
            (row.user_id, row.step_id): row
            for row in LearningProgress.objects.select_for_update().filter(
                user_id__in=user_ids, step_id__in={step for _user, step in wanted}
            )
        }
        # (user, step, document) for each step this batch completes: new rows, then (rarely) existing ones.
        new_rows, updated_rows, events = [], [], []
        for (user_id, step_id), document_id in wanted.items():
            row = existing.get((user_id, step_id))
            if row is not None and row.status == Status.COMPLETED:
                by_document[document_id].already_done += 1
                continue
            if row is None:
                new_rows.append((user_id, step_id, document_id))
            else:
                row.status = Status.COMPLETED
                row.started_at = row.started_at or now
                row.completed_at = now
                row.completion_percentage = 100
                row.progress_data = {**(row.progress_data or {}), "imported": "marslabs", "document": document_id}
                updated_rows.append(row)
            by_document[document_id].completed += 1
            events.append((user_id, step_id, document_id))
        _write_imported_completions(new_rows, events, actor=actor, now=now)
        progress_versions.bump({user_id for user_id, _step, _document in events})  # bulk SQL sends no signals
        LearningProgress.objects.bulk_update(
            updated_rows, ["status", "started_at", "completed_at", "completion_percentage", "progress_data",
                           "updated_at"], batch_size=2000,
        )
        _save_applied(documents, by_document, now=now)
        grades = {}
        for document in documents:
            grade = document_grade(document.progress_data)
            if grade is not None:
                grades.setdefault(grade, set()).add(document.user_id)
        for grade, users in grades.items():
            UserProfile.objects.filter(user_id__in=users, grade__isnull=True).update(grade=grade)
    return reports


def _imported_marker(document_id):
    """The JSON text of ``{"imported": "marslabs", "document": id}`` exactly as the JSONField writes it
    (``json.dumps``), made once per document for its rows and events alike."""
    return f'{{"imported": "marslabs", "document": {int(document_id)}}}'


def _write_imported_completions(new_rows, events, *, actor, now):
    """INSERT the COMPLETED rows and events of a trusted import, ``(user id, step id, document id)`` each.

    The rows ``bulk_create`` would make (tests/progress/test_bulk_writes.py
    compares them column by column) through ``progress.bulk``: values prepared
    once per column or per document instead of once per field and row.
    """
    if not events:
        return
    markers, steps = {}, {}
    for _user_id, step_id, document_id in events:
        if document_id not in markers:
            markers[document_id] = _imported_marker(document_id)
        if step_id not in steps:
            steps[step_id] = step_id.hex
    if new_rows:
        stamp = timezone.now()  # what auto_now_add / auto_now would write
        bulk.insert(
            LearningProgress, ["id", "user_id", "step_id", "progress_data"],
            [(pk, user_id, steps[step_id], markers[document_id])
             for pk, (user_id, step_id, document_id) in zip(bulk.uuid4_hexes(len(new_rows)), new_rows, strict=True)],
            constant={"status": Status.COMPLETED, "completion_percentage": 100, "started_at": now,
                      "completed_at": now, "created_at": stamp, "updated_at": stamp},
        )
    bulk.insert(
        ProgressEvent, ["user_id", "step_id", "data"],
        [(user_id, steps[step_id], markers[document_id]) for user_id, step_id, document_id in events],
        constant={"kind": EventKind.COMPLETED, "actor": actor.pk if actor is not None else None,
                  "reason": _("imported from MARS-labs"), "created_at": now},
    )


def _save_applied(documents, by_document, *, now):
    """Save each document's ``unmatched`` entries and ``applied_at`` (what ``bulk_update`` of both would)."""
    rows = []
    for document in documents:
        unmatched = by_document[document.pk].unmatched
        document.unmatched = unmatched
        document.applied_at = now
        rows.append((document.pk, json.dumps(unmatched) if unmatched else "[]"))
    bulk.update(Progress, ["unmatched"], rows, constant={"applied_at": now})


def _apply_untrusted(documents, wanted, by_document, *, now):
    """A learner's own claim: each listed simulation is reported like a simulation would, nothing more.

    Locks and criteria hold (``report_external``): an external criterion
    completes, a quiz does not (a quiz is passed by taking it here), a locked
    step is refused. What was not applied is saved with its reason next to
    the unmatched entries, so a teacher sees it.
    """
    steps = LearningStep.objects.select_related("chapter").in_bulk({step_id for _user, step_id in wanted})
    learners = {d.user_id: d.user for d in documents}
    with transaction.atomic():
        for (user_id, step_id), document_id in wanted.items():
            report, step = by_document[document_id], steps[step_id]
            entry = {"step": str(step_id), "title": f"{step.chapter.title} › {step.title}"}
            if step.step_type == StepType.QUIZ:
                report.unmatched.append({**entry, "reason": _("a quiz is passed by taking it in MARS Labs")})
                continue
            result = report_external(learner=learners[user_id], step=step, completed=True, now=now)
            if result.completed:
                report.completed += 1
            elif result.progress is not None and result.progress.status == Status.COMPLETED:
                report.already_done += 1
            else:
                report.unmatched.append({**entry, "reason": result.reason})
        for document in documents:
            document.unmatched = by_document[document.pk].unmatched
            document.applied_at = now
        Progress.objects.bulk_update(documents, ["unmatched", "applied_at"])
    return list(by_document.values())


def apply_marslabs_document(*, document, actor=None, trusted=True, now=None) -> ApplyReport:
    """Apply one stored MARS-labs document; see ``apply_marslabs_documents``."""
    return apply_marslabs_documents(documents=[document], actor=actor, trusted=trusted, now=now)[0]


def marslabs_document_for(*, learner) -> dict:
    """The learner's progress in MARS-labs' shape, derived from LearningProgress (one query + grade).

    A chapter title is listed under ``completed_experiments`` when all its
    interactive steps are done, under ``completed_quizzes`` when all its quiz
    steps are done (chapters without such steps are left out of that list).
    """
    grade = UserProfile.objects.filter(user=learner).values_list("grade", flat=True).first()
    done_row = LearningProgress.objects.filter(user=learner, step=OuterRef("pk"), status__in=DONE_STATUSES)

    def steps_of_type(step_type, *, done=False):
        steps = LearningStep.objects.filter(chapter=OuterRef("pk"), step_type=step_type)
        if done:
            steps = steps.filter(Exists(done_row))
        return Coalesce(Subquery(steps.order_by().values("chapter").annotate(n=Count("pk")).values("n")), 0)

    chapters = (
        Chapter.objects.for_grade(grade)
        .annotate(
            labs=steps_of_type("interactive"),
            labs_done=steps_of_type("interactive", done=True),
            quizzes=steps_of_type("quiz"),
            quizzes_done=steps_of_type("quiz", done=True),
        )
        .order_by("subject__order", "subject__code", "order_index")
        .values_list("subject__code", "title", "labs", "labs_done", "quizzes", "quizzes_done")
    )
    subjects = {}
    for code, title, labs, labs_done, quizzes, quizzes_done in chapters:
        entry = subjects.setdefault(code, {"completed_experiments": [], "completed_quizzes": []})
        if labs and labs == labs_done:
            entry["completed_experiments"].append(title)
        if quizzes and quizzes == quizzes_done:
            entry["completed_quizzes"].append(title)
    document = {"subject_progress": subjects}
    if grade:
        document = {"class": grade, **document}
    return document


# --------------------------------------------------------------------------
# Recompute after a teacher changes a step's criteria (admin)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecomputeChange:
    """One learner whose row ``recompute`` changes (or, in a dry run, would change)."""

    progress: LearningProgress
    old_status: str
    new_status: str
    old_criteria: dict
    new_criteria: dict
    verdict: str  # the evaluation under the new criteria ("not yet: 45 of 90 seconds")

    @property
    def learner(self):
        return self.progress.user

    @property
    def status_changes(self):
        return self.old_status != self.new_status


def recompute(*, step, actor, reason, dry_run=True, learners=None, now=None) -> Result:
    """Judge the learners who started ``step`` but have not finished it by the step's *current* criteria.

    Learners are judged by the criteria snapshotted when they started (so a
    teacher's edit never silently changes a started step); this is the
    deliberate way to apply an edit to them. For each ``in_progress`` row whose
    snapshot differs from ``step.required_completion_criteria``: the snapshot
    is replaced, the row is evaluated, and it is completed when the new
    criteria are met. ``completion_percentage`` keeps the engine's rule: it
    never goes down.

    Never touched: completed rows (a completion is not revoked because the bar
    was raised later), skipped rows (a teacher's excuse stands), not-started
    rows (they take the current criteria when they start).

    ``learners`` (a User queryset) limits it, e.g. to a teacher's classes.
    ``details["changes"]`` lists a ``RecomputeChange`` per affected learner.
    With ``dry_run`` nothing is written (outcome UNCHANGED). Otherwise each
    change is saved with an OVERRIDE event carrying ``actor``, ``reason``,
    the old and new criteria and statuses; outcome CHANGED if anything changed.
    """
    now = now or timezone.now()
    if not dry_run:
        if not reason or not str(reason).strip():
            return Result(Outcome.INVALID, _("a reason is required"))
        if actor is None or not actor.is_staff:
            return Result(Outcome.DENIED, _("only a teacher can do this"))
    new_criteria = step.required_completion_criteria
    with transaction.atomic():
        rows = LearningProgress.objects.filter(step=step, status=Status.IN_PROGRESS).select_related("user")
        if learners is not None:
            rows = rows.filter(user__in=learners.values("pk"))
        if not dry_run:
            rows = rows.select_for_update(of=("self",))
        changes, events = [], []
        for row in rows.order_by("user__last_name", "user__first_name", "user__username"):
            old_criteria = criteria_for(row, step)
            if old_criteria == new_criteria:
                continue
            old_status = row.status
            row.progress_data = {**(row.progress_data or {}), "criteria": new_criteria}
            met, percentage, verdict = evaluate(progress=row, step=step)
            row.progress_data["reason"] = verdict
            row.completion_percentage = max(row.completion_percentage, percentage)
            if met:
                row.status = Status.COMPLETED
                row.completed_at = now
                row.completion_percentage = 100
            changes.append(RecomputeChange(
                progress=row, old_status=old_status, new_status=row.status,
                old_criteria=old_criteria, new_criteria=new_criteria, verdict=verdict,
            ))
            events.append(ProgressEvent(
                user_id=row.user_id, step=step, kind=EventKind.OVERRIDE, actor=actor, reason=str(reason or ""),
                created_at=now,
                data={"recompute": True, "criteria": {"from": old_criteria, "to": new_criteria},
                      "status": {"from": old_status, "to": row.status}},
            ))
        if dry_run or not changes:
            return Result(Outcome.UNCHANGED, _("nothing to recompute") if not changes else "",
                          details={"changes": changes})
        LearningProgress.objects.bulk_update(
            [c.progress for c in changes],
            # updated_at is left alone: a teacher's recompute is not the learner's activity
            # (the "stalled" report reads it).
            ["status", "completed_at", "completion_percentage", "progress_data"],
        )
        ProgressEvent.objects.bulk_create(events)
        progress_versions.bump({event.user_id for event in events})  # bulk writes send no signals
    return Result(Outcome.CHANGED, str(reason), details={"changes": changes})
