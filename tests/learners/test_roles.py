"""learners/roles.py, the Teachers data migration and ``manage.py setup_roles``."""

import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connection

from learners.roles import (
    TEACHERS_GROUP,
    apply_teacher_role,
    can_see_learner,
    classrooms_for,
    learners_for,
    teacher_permission_names,
)
from tests.admin import make_classroom, make_superuser, make_teacher
from tests.factories import TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db


def group_permission_names(group):
    return sorted(
        f"{app}.{codename}" for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    )


def test_teacher_role_is_exactly_the_listed_permissions():
    apply_teacher_role()
    group = Group.objects.get(name=TEACHERS_GROUP)
    assert group_permission_names(group) == teacher_permission_names()
    assert "curriculum.change_learningstep" in teacher_permission_names()
    assert "progress.reset_progress" in teacher_permission_names()


def test_teacher_role_has_no_user_management_or_progress_editing():
    names = teacher_permission_names()
    assert not [n for n in names if n.startswith("auth.") or n.endswith("_user")]
    assert not [n for n in names if n.startswith(("learners.add", "learners.change", "learners.delete"))]
    assert "progress.change_learningprogress" not in names
    assert "progress.delete_progressevent" not in names


def test_data_migration_creates_group_with_permissions():
    Group.objects.filter(name=TEACHERS_GROUP).delete()
    Permission.objects.filter(codename__in=["reset_progress", "excuse_progress", "override_progress"]).delete()
    migration = importlib.import_module("learners.migrations.0004_teachers_group")
    migration.create_teachers_group(apps, SimpleNamespace(connection=connection))
    group = Group.objects.get(name=TEACHERS_GROUP)
    assert group_permission_names(group) == teacher_permission_names()


def test_setup_roles_is_idempotent_and_restores_the_set():
    call_command("setup_roles", stdout=StringIO())
    group = Group.objects.get(name=TEACHERS_GROUP)
    group.permissions.remove(Permission.objects.get(codename="reset_progress"))
    group.permissions.add(Permission.objects.get(codename="delete_user"))
    out = StringIO()
    call_command("setup_roles", stdout=out)
    assert "+ progress.reset_progress" in out.getvalue()
    assert "- learners.delete_user" in out.getvalue()
    assert group_permission_names(group) == teacher_permission_names()
    again = StringIO()
    call_command("setup_roles", stdout=again)
    assert "nothing changed" in again.getvalue()
    assert Group.objects.filter(name=TEACHERS_GROUP).count() == 1


def test_setup_roles_dry_run_writes_nothing():
    Group.objects.filter(name=TEACHERS_GROUP).delete()
    out = StringIO()
    call_command("setup_roles", "--dry-run", stdout=out)
    assert "would be created" in out.getvalue()
    assert not Group.objects.filter(name=TEACHERS_GROUP).exists()


def test_setup_roles_adds_staff_teacher_and_refuses_non_staff():
    teacher = TeacherFactory(username="tara")
    call_command("setup_roles", "--add", "tara", stdout=StringIO())
    assert teacher.groups.filter(name=TEACHERS_GROUP).exists()
    UserFactory(username="pupil")
    with pytest.raises(CommandError, match="not staff"):
        call_command("setup_roles", "--add", "pupil", stdout=StringIO())
    with pytest.raises(CommandError, match="no user"):
        call_command("setup_roles", "--add", "ghost", stdout=StringIO())


def test_teacher_perms_through_the_group():
    teacher = make_teacher()
    assert teacher.has_perm("curriculum.add_chapter")
    assert teacher.has_perm("progress.excuse_progress")
    assert not teacher.has_perm("learners.view_user")
    assert not teacher.has_perm("auth.change_group")
    assert not teacher.is_superuser


def test_scoping_to_classrooms_a_teacher_teaches():
    teacher, other_teacher = make_teacher(), make_teacher()
    mine, theirs, both = UserFactory(), UserFactory(), UserFactory()
    first = make_classroom(teachers=[teacher], learners=[mine, both])
    second = make_classroom(teachers=[teacher, other_teacher], learners=[both])
    make_classroom(teachers=[other_teacher], learners=[theirs])
    assert set(classrooms_for(teacher)) == {first, second}
    # A learner in two of the teacher's classrooms appears once.
    assert list(learners_for(teacher).order_by("pk")) == sorted([mine, both], key=lambda u: u.pk)
    assert can_see_learner(teacher, mine.pk)
    assert not can_see_learner(teacher, theirs.pk)
    root = make_superuser()
    assert can_see_learner(root, theirs.pk)
    assert classrooms_for(root).count() == 3
    assert not learners_for(UserFactory()).exists()  # not staff: nobody
