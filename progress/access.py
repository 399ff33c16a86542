"""Who may see which subject, chapter and step: each page starts with one of these.

A learner sees the active chapters of their class (``profile.grade``) and the
grade-less ones; anything else answers 404, so a URL never reveals whether a
hidden chapter exists. Staff may see every chapter and step (a teacher
previewing the curriculum). Progress is never looked up here: the engine
always takes ``request.user`` as the learner, so no URL can reach someone
else's row.
"""

import functools
import time

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Subquery
from django.http import Http404
from django.utils.translation import gettext as _

from curriculum import cache as curriculum_cache
from curriculum.models import Chapter, LearningStep, Subject
from learners.models import UserProfile
from mars_labs import rows


def visible_chapters(user):
    """The chapters ``user`` may open, as a queryset (no query runs until it is used).

    The learner's grade is read in a subquery, so a page pays no extra query for it.
    """
    if user.is_staff:
        return Chapter.objects.all()
    grade = UserProfile.objects.filter(user=user).values("grade")[:1]
    return Chapter.objects.for_grade(Subquery(grade))


def get_subject_for(user, code):
    """The subject with ``code``, or 404. Its chapters are filtered by ``visible_chapters``."""
    subject = Subject.objects.filter(code=code).first()
    if subject is None:
        raise Http404(_("No such subject."))
    return subject


def get_chapter_for(user, slug):
    """The chapter with ``slug`` if ``user`` may see it, else 404."""
    chapter = visible_chapters(user).select_related("subject").filter(slug=slug).first()
    if chapter is None:
        raise Http404(_("No such chapter."))
    return chapter


# get_step_for's row in one hand-written statement: every step page and every step POST (a
# completion, a heartbeat) starts with it, and built with the ORM (select_related) it cost more
# CPU than the engine's whole write. A step changes only when the curriculum does, so each
# process keeps the rows it has read under the curriculum's version (curriculum/cache.py: every
# save in the admin, an import or a bulk action makes a new one) and at most
# CURRICULUM_CACHE_SECONDS old, as the curriculum snapshots are. Who may see the step is
# decided on every call (_sees: visible_chapters' rule; tests/progress/test_access.py holds the
# two to the same answers).
_STEP_SQL = f"""
SELECT {rows.columns(LearningStep, "s")}, {rows.columns(Chapter, "c")}, {rows.columns(Subject, "j")}
FROM curriculum_learningstep s
JOIN curriculum_chapter c ON c.id = s.chapter_id
JOIN curriculum_subject j ON j.id = c.subject_id
WHERE s.id = %(step)s
"""
STEP_ROWS_KEPT = 1024  # per process; a row holds the step's text, so a few MB at most


def _read_step_row(db, pk):
    with connections[db].cursor() as cursor:
        cursor.execute(_STEP_SQL, {"step": pk})
        return cursor.fetchone()


@functools.lru_cache(maxsize=STEP_ROWS_KEPT)
def _kept_step_row(db, pk, version, period):
    """``_read_step_row``, kept for one curriculum ``version`` and one ``period`` of max_age seconds."""
    return _read_step_row(db, pk)


def _step_row(db, pk):
    version = curriculum_cache.current_version()
    if version is None:  # the cache is unreachable: read the database, keep nothing
        return _read_step_row(db, pk)
    return _kept_step_row(db, pk, version, int(time.time() // max(1, curriculum_cache.max_age())))


def _sees(user, chapter):
    """``visible_chapters``' rule for one chapter: staff see all; others its class's active chapters."""
    if user.is_staff:
        return True
    if not chapter.is_active:
        return False
    if chapter.grade is None:
        return True
    try:
        return chapter.grade == user.profile.grade  # loaded with the user on a signed-in request
    except UserProfile.DoesNotExist:
        return False


def get_step_for(user, step_id):
    """The step ``step_id`` (with its chapter and subject) if its chapter is visible to ``user``, else 404.

    At most one query (none when this process has read the step under the current curriculum);
    also 404 for unknown ids. Each call returns new instances: callers may change them.
    """
    db = router.db_for_read(LearningStep)
    try:
        pk = LearningStep._meta.pk.get_db_prep_value(LearningStep._meta.pk.to_python(step_id), connections[db])
    except ValidationError:  # not a UUID: no such step (URLs route only UUIDs; this guards other callers)
        raise Http404(_("No such step.")) from None
    row = _step_row(db, pk)
    if row is None:
        raise Http404(_("No such step."))
    step, chapter, subject = rows.from_row(row, (LearningStep, Chapter, Subject), db)
    if not _sees(user, chapter):
        raise Http404(_("No such step."))
    chapter.subject = subject
    step.chapter = chapter
    return step
