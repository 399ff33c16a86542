"""``manage.py seed_demo``: the demo school, idempotent, with progress made by the engine."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.http import HttpRequest

from curriculum.models import Chapter, LearningStep, Subject
from learners.management.commands.seed_demo import DEMO_PASSWORDS, STUDENTS
from learners.models import Classroom, UserProfile
from progress.enums import EventKind, Status
from progress.models import LearningProgress, Progress, ProgressEvent

pytestmark = pytest.mark.django_db

User = get_user_model()
MODELS = (User, UserProfile, Classroom, Subject, Chapter, LearningStep, LearningProgress, ProgressEvent, Progress)


def seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts():
    counts = {model.__name__: model.objects.count() for model in MODELS}
    counts["classroom learners"] = Classroom.learners.through.objects.count()
    counts["classroom teachers"] = Classroom.teachers.through.objects.count()
    return counts


def printed_logins(output):
    """``{username: password}`` from the table seed_demo prints."""
    logins = {}
    for line in output.splitlines():
        cells = line.split()
        if len(cells) >= 3 and cells[0] in DEMO_PASSWORDS:
            logins[cells[1]] = cells[2]
    return logins


def done_count(username):
    return LearningProgress.objects.filter(user__username=username, status=Status.COMPLETED).count()


@pytest.fixture(scope="class")
def demo_school(django_db_setup, django_db_blocker):
    """One seeded demo school for a whole test class, rolled back afterwards; returns what seed_demo printed.

    Seeding replays about 150 engine calls (a couple of seconds), so the tests
    share it. Each test still runs in its own savepoint inside this
    transaction, so a test that changes data (or seeds again) leaves the next
    one the school as first seeded.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed("--verbosity", "2")
        transaction.set_rollback(True)


class TestDemoSchool:
    def test_prints_the_logins(self, demo_school):
        assert printed_logins(demo_school) == {
            "asha": "mars-student", "ravi": "mars-student", "meera": "mars-student", "kabir": "mars-student",
            "teacher": "mars-teacher", "admin": "mars-admin",
        }
        assert "Asha Verma" in demo_school
        assert "The demo school is ready." in demo_school

    def test_students_can_log_in_with_the_printed_password(self, demo_school, client):
        logins = printed_logins(demo_school)

        for student in STUDENTS:
            password = logins[student.username]
            logged_in = client.login(request=HttpRequest(), username=student.username, password=password)
            assert logged_in, student.username
            client.logout()

    def test_builds_the_class_with_teacher_and_admin(self, demo_school):
        classroom = Classroom.objects.get(name="Class 12 A")
        assert classroom.grade == 12
        assert sorted(classroom.learners.values_list("username", flat=True)) == ["asha", "kabir", "meera", "ravi"]
        teacher = User.objects.get(username="teacher")
        assert list(classroom.teachers.all()) == [teacher]
        assert teacher.is_staff and not teacher.is_superuser
        admin = User.objects.get(username="admin")
        assert admin.is_staff and admin.is_superuser
        asha = User.objects.get(username="asha")
        assert (asha.first_name, asha.last_name, asha.profile.grade) == ("Asha", "Verma", 12)
        levels = set(UserProfile.objects.filter(user__classrooms=classroom).values_list("background_level", flat=True))
        assert levels == {"beginner", "intermediate", "advanced"}
        # The Teachers group comes from a data migration (learners.roles); seed_demo only joins it.
        assert list(Group.objects.values_list("name", flat=True)) == ["Teachers"]

    def test_loads_the_demo_curriculum(self, demo_school):
        assert Subject.objects.count() == 3
        assert LearningStep.objects.count() == 49
        assert "Create chapter 'Titration' in chem class 12." in demo_school

    def test_gives_students_different_progress_through_the_engine(self, demo_school):
        assert done_count("meera") > done_count("asha") > done_count("ravi") > done_count("kabir") == 0
        # Asha: most of physics done, the Mole Concept quiz failed once.
        phy = LearningStep.objects.filter(chapter__subject__code="phy")
        asha_phy = LearningProgress.objects.filter(user__username="asha", step__in=phy, status=Status.COMPLETED)
        assert asha_phy.count() >= phy.count() * 3 // 4
        quiz = LearningProgress.objects.get(
            user__username="asha", step__chapter__title="Mole Concept", step__step_type="quiz"
        )
        assert quiz.status == Status.IN_PROGRESS
        assert [a["score"] for a in quiz.progress_data["attempts"]] == [50]
        # Ravi: only just started, one step part-read.
        ravi = LearningProgress.objects.get(user__username="ravi", status=Status.IN_PROGRESS)
        assert 0 < ravi.progress_data["active_seconds"] < ravi.step.required_completion_criteria["value"]
        # Every completion was made by the engine, which logs it (or the teacher's override).
        for row in LearningProgress.objects.filter(status=Status.COMPLETED):
            assert ProgressEvent.objects.filter(
                user=row.user, step=row.step, kind__in=[EventKind.COMPLETED, EventKind.OVERRIDE]
            ).exists(), row
        override = ProgressEvent.objects.get(kind=EventKind.OVERRIDE)
        assert (override.user.username, override.actor.username) == ("meera", "teacher")
        assert override.reason

    def test_spreads_the_story_over_past_days(self, demo_school):
        days = {e.created_at.date() for e in ProgressEvent.objects.filter(user__username="meera")}
        assert len(days) >= 10
        completed = LearningProgress.objects.filter(user__username="meera").order_by("completed_at")
        assert completed.first().completed_at < completed.last().completed_at

    def test_running_again_gives_the_same_row_counts(self, demo_school):
        first = row_counts()

        output = seed()

        assert row_counts() == first
        assert first["Subject"] == 3 and first["Classroom"] == 1
        assert first["User"] == 6 and first["UserProfile"] == 6
        assert "Steps: 0 created, 0 updated, 49 unchanged" in output

    def test_running_again_leaves_students_with_progress_alone(self, demo_school):
        LearningProgress.objects.filter(user__username="asha").exclude(status=Status.COMPLETED).delete()
        counts = row_counts()

        seed()

        assert row_counts() == counts

    def test_running_again_keeps_changed_passwords_unless_asked_to_reset(self, demo_school, client):
        asha = User.objects.get(username="asha")
        asha.set_password("my-own-secret")
        asha.save()

        output = seed()

        assert client.login(request=HttpRequest(), username="asha", password="my-own-secret")
        assert "mars-student *" in output and "run with --reset-passwords" in output

        seed("--reset-passwords")

        assert client.login(request=HttpRequest(), username="asha", password=DEMO_PASSWORDS["student"])

    def test_running_again_restores_the_demo_flags(self, demo_school):
        User.objects.filter(username="admin").update(is_superuser=False)
        Classroom.objects.get().learners.clear()

        seed()

        assert User.objects.get(username="admin").is_superuser
        assert Classroom.objects.get().learners.count() == 4

    def test_puts_the_teacher_in_the_teachers_group(self, demo_school):
        group = Group.objects.get(name="Teachers")

        seed()

        assert list(group.user_set.values_list("username", flat=True)) == ["teacher"]

    def test_is_quiet_at_verbosity_0(self, demo_school):
        assert seed("--verbosity", "0") == ""


def test_seed_demo_dry_run_writes_nothing():
    output = seed("--dry-run")

    assert all(count == 0 for count in row_counts().values())
    assert "Subjects: 3 created" in output
    assert "Dry run: nothing was written." in output
    assert printed_logins(output)["asha"] == "mars-student"
