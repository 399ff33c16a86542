"""Admin tests. Shared helpers: a teacher in the "Teachers" group, a classroom with learners."""

from learners.roles import apply_teacher_role
from tests.factories import ClassroomFactory, TeacherFactory, UserFactory


def teachers_group():
    # The data migration made it; apply again (idempotent) in case a transactional test flushed the tables.
    group, _created, _added, _removed = apply_teacher_role()
    return group


def make_teacher(**kwargs):
    teacher = TeacherFactory(**kwargs)
    teacher.groups.add(teachers_group())
    return teacher


def make_superuser(**kwargs):
    return UserFactory(is_staff=True, is_superuser=True, **{"username": "root", **kwargs})


def make_classroom(*, teachers=(), learners=(), **kwargs):
    classroom = ClassroomFactory(**kwargs)
    classroom.teachers.add(*teachers)
    classroom.learners.add(*learners)
    return classroom
