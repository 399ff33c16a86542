"""Who may see which subject, chapter and step: each page starts with one of these.

A learner sees the active chapters of their class (``profile.grade``) and the
grade-less ones; anything else answers 404, so a URL never reveals whether a
hidden chapter exists. Staff may see every chapter and step (a teacher
previewing the curriculum). Progress is never looked up here: the engine
always takes ``request.user`` as the learner, so no URL can reach someone
else's row.
"""

from django.db.models import Subquery
from django.http import Http404
from django.utils.translation import gettext as _

from curriculum.models import Chapter, LearningStep, Subject
from learners.models import UserProfile


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


def get_step_for(user, step_id):
    """The step ``step_id`` if its chapter is visible to ``user``, else 404 (also for unknown ids)."""
    step = (
        LearningStep.objects.select_related("chapter__subject")
        .filter(pk=step_id, chapter__in=visible_chapters(user))
        .first()
    )
    if step is None:
        raise Http404(_("No such step."))
    return step
