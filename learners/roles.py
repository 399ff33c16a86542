"""Who a teacher is, and whom a teacher may see.

A *teacher* is a staff user in the "Teachers" group. The group's permissions
are data, below, applied by ``apply_teacher_role()``: the data migration
``learners/0004_teachers_group`` runs it once, and ``manage.py setup_roles``
re-applies it (idempotent) after the list changes.

What the group grants, exactly:

* edit the curriculum: add / change / delete / view Subject, Chapter, LearningStep;
* view progress: LearningProgress, ProgressEvent, Progress (MARS-labs documents),
  LearningPath, UserProfile, Classroom;
* see and change the path rules (PathRule: what each background level's path leaves out);
* act on progress, always with a reason, through the engine: reset, excuse
  (skip) and override (mark complete, recompute, re-apply MARS-labs documents).

Nothing on auth.User, Group or Permission (no user management), and the group
never makes anyone a superuser. The three custom permissions live on
LearningProgress's content type; they are created here rather than in
``LearningProgress.Meta.permissions`` so that the role is one piece of data.

Viewing is scoped per object as well: a teacher sees only learners in the
classrooms where they are a teacher (``scope_to_learners``); superusers see
everyone. The admin's ``get_queryset``, the report pages and their CSV exports
all go through these helpers.

This module imports no models at import time: the data migration imports it
and passes the historical ``apps``.
"""

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS

TEACHERS_GROUP = "Teachers"

# Custom permissions on progress.LearningProgress, checked with user.has_perm("progress.<codename>").
PROGRESS_ACTION_PERMISSIONS = {
    "reset_progress": "Can reset a learner's step (with a reason)",
    "excuse_progress": "Can excuse a learner from a step (with a reason)",
    "override_progress": "Can mark a learner's step complete or recompute it (with a reason)",
}

# (app label, model name) -> the default permissions the group gets on it.
CRUD = ("add", "change", "delete", "view")
TEACHER_MODEL_PERMISSIONS = {
    ("curriculum", "subject"): CRUD,
    ("curriculum", "chapter"): CRUD,
    ("curriculum", "learningstep"): CRUD,
    ("progress", "learningprogress"): ("view",),
    ("progress", "progressevent"): ("view",),
    ("progress", "progress"): ("view",),
    ("progress", "learningpath"): ("view",),
    # The personalized-path rules are data a teacher can see and change (learning paths issue).
    ("progress", "pathrule"): ("change", "view"),
    ("learners", "userprofile"): ("view",),
    ("learners", "classroom"): ("view",),
}


def teacher_permission_names():
    """Every permission of the role as "app_label.codename", sorted (for tests and ``setup_roles``)."""
    names = {
        f"{app_label}.{action}_{model}"
        for (app_label, model), actions in TEACHER_MODEL_PERMISSIONS.items()
        for action in actions
    }
    names.update(f"progress.{codename}" for codename in PROGRESS_ACTION_PERMISSIONS)
    return sorted(names)


class RoleError(Exception):
    """The role cannot be applied (e.g. a model's permissions were never created)."""


def ensure_progress_action_permissions(*, apps=global_apps, using=DEFAULT_DB_ALIAS):
    """Create the custom reset / excuse / override permissions if missing; returns them."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    content_type, _created = ContentType.objects.using(using).get_or_create(
        app_label="progress", model="learningprogress"
    )
    permissions = []
    for codename, name in PROGRESS_ACTION_PERMISSIONS.items():
        permission, _created = Permission.objects.using(using).get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        permissions.append(permission)
    return permissions


def apply_teacher_role(*, apps=global_apps, using=DEFAULT_DB_ALIAS):
    """Create or update the "Teachers" group so it holds exactly the role's permissions.

    Run ``django.contrib.auth.management.create_permissions`` for the
    curriculum, progress and learners apps first (the migration and
    ``setup_roles`` do): the model permissions must exist. Permissions the
    group had but the role no longer lists are removed. Returns
    ``(group, created, added, removed)`` with added/removed as sorted lists of
    "app_label.codename". Raises ``RoleError`` naming any permission missing.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ensure_progress_action_permissions(apps=apps, using=using)

    wanted = set(teacher_permission_names())
    found = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.using(using)
        .filter(content_type__app_label__in={label for label, _model in TEACHER_MODEL_PERMISSIONS})
        .values_list("pk", "content_type__app_label", "codename")
        if f"{app_label}.{codename}" in wanted
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise RoleError(
            "These permissions do not exist yet (run `manage.py migrate` first): " + ", ".join(missing)
        )

    group, created = Group.objects.using(using).get_or_create(name=TEACHERS_GROUP)
    before = {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list("content_type__app_label", "codename")
    }
    group.permissions.set(found.values())
    return group, created, sorted(wanted - before), sorted(before - wanted)


# --------------------------------------------------------------------------
# Scoping: which learners and classrooms a staff user may see
# --------------------------------------------------------------------------


def sees_everyone(user):
    """Superusers see every learner; teachers only those in their classrooms."""
    return bool(user.is_active and user.is_superuser)


def classrooms_for(user):
    """The classrooms ``user`` may look at: all for a superuser, else those they teach."""
    from learners.models import Classroom

    if sees_everyone(user):
        return Classroom.objects.all()
    return Classroom.objects.filter(teachers=user)


def learners_for(user):
    """The learners (users) ``user`` may look at, as a queryset usable in ``__in`` (a subquery, no query yet).

    A superuser: everyone. A teacher: the learners of the classrooms they
    teach. Anyone else: nobody.
    """
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if sees_everyone(user):
        return User.objects.all()
    if not (user.is_active and user.is_staff):
        return User.objects.none()
    return User.objects.filter(classrooms__teachers=user).distinct()


def scope_to_learners(queryset, user, learner_field="user"):
    """``queryset`` limited to rows whose ``learner_field`` is a learner ``user`` may see.

    Filters with ``IN (subquery)`` rather than a join, so a learner in two of
    the teacher's classrooms does not appear twice.
    """
    if sees_everyone(user):
        return queryset
    return queryset.filter(**{f"{learner_field}__in": learners_for(user).values("pk")})


def can_see_learner(user, learner_id):
    """Whether ``user`` may look at the learner with id ``learner_id`` (one query; superusers none)."""
    if sees_everyone(user):
        return True
    return learners_for(user).filter(pk=learner_id).exists()
