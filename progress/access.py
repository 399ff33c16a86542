"""Who may see which subject, chapter and step: each page starts with one of these.

A learner sees the active chapters of their class (``profile.grade``) and the
grade-less ones; anything else answers 404, so a URL never reveals whether a
hidden chapter exists. Staff may see every chapter and step (a teacher
previewing the curriculum). Progress is never looked up here: the engine
always takes ``request.user`` as the learner, so no URL can reach someone
else's row.
"""

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Subquery
from django.http import Http404
from django.utils.translation import gettext as _

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


# get_step_for in one hand-written statement: every step page and every step POST (a
# completion, a heartbeat) starts with it, and built with the ORM (select_related, the
# visible_chapters subquery) it cost more CPU than the engine's whole write. The rule is
# visible_chapters' own (tests/progress/test_access.py holds the two to the same answers).
_STEP_SQL = f"""
SELECT {rows.columns(LearningStep, "s")}, {rows.columns(Chapter, "c")}, {rows.columns(Subject, "j")}
FROM curriculum_learningstep s
JOIN curriculum_chapter c ON c.id = s.chapter_id
JOIN curriculum_subject j ON j.id = c.subject_id
WHERE s.id = %(step)s
  AND (%(staff)s OR (c.is_active = %(true)s
                     AND (c.grade IS NULL
                          OR c.grade = (SELECT p.grade FROM learners_userprofile p WHERE p.user_id = %(user)s))))
"""


def get_step_for(user, step_id):
    """The step ``step_id`` (with its chapter and subject) if its chapter is visible to ``user``, else 404.

    One query; also 404 for unknown ids.
    """
    db = router.db_for_read(LearningStep)
    connection = connections[db]
    try:
        pk = LearningStep._meta.pk.get_db_prep_value(LearningStep._meta.pk.to_python(step_id), connection)
    except ValidationError:  # not a UUID: no such step (URLs route only UUIDs; this guards other callers)
        raise Http404(_("No such step.")) from None
    params = {"step": pk, "staff": bool(user.is_staff), "true": True, "user": user.pk}
    with connection.cursor() as cursor:
        cursor.execute(_STEP_SQL, params)
        row = cursor.fetchone()
    if row is None:
        raise Http404(_("No such step."))
    step, chapter, subject = rows.from_row(row, (LearningStep, Chapter, Subject), db)
    chapter.subject = subject
    step.chapter = chapter
    return step
