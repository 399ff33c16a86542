"""The eight roles of the permission matrix, and a small world where learner A owns one of everything.

Roles (issue #10): anonymous; student A; student B (same class level, another
classroom); a teacher of A's class; a teacher of another class (B's); a lab
token; a learner token (B's: the IDOR attacker with an API client); an admin
(superuser). Every URL is requested with A's ids, so each cell says what that
role can do to A.
"""

import uuid
from dataclasses import dataclass, field

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from api.enums import TokenScope, Verb
from api.models import ApiEvent, ApiToken
from curriculum.enums import StepType
from learners.roles import TEACHERS_GROUP
from progress import engine
from progress.models import LearningPath, LearningProgress, PathRule, Progress, ProgressEvent
from progress.paths import rebuild_main_path
from tests.admin import make_classroom, make_superuser, make_teacher
from tests.factories import ChapterFactory, ProgressFactory, QuizStepFactory, StepFactory, SubjectFactory, UserFactory

ROLES = ("anonymous", "student_a", "student_b", "teacher_a", "teacher_other", "lab_token", "learner_token", "admin")
# Who may legitimately change A's data: everyone else must leave it exactly as it was.
MAY_CHANGE_A = {"student_a", "teacher_a", "lab_token", "admin"}
# Who may see A's name: everyone else must never find it in a response.
MAY_SEE_A = MAY_CHANGE_A

# Unusual enough that finding them in a page means the page shows A.
A_USERNAME, A_LAST_NAME = "pupil_alphonsa", "Zedwickova"


@dataclass
class World:
    a: object
    b: object
    teacher_a: object
    teacher_other: object
    admin: object
    classroom_a: object
    classroom_b: object
    subject: object
    chapter: object
    theory: object
    simulation: object
    quiz: object
    a_progress: object  # A's row on the simulation step (in progress)
    a_path: object
    a_document: object
    a_event: object
    a_api_event: object
    a_token: object
    lab_plain: str
    learner_plain: str  # B's learner token
    admin_objects: dict = field(default_factory=dict)  # "app_label.model" -> the object of A's the admin pages use

    def a_state(self):
        """Everything of A's that an attacker might try to read-and-write, as comparable values."""
        a = type(self.a).objects.get(pk=self.a.pk)
        return {
            "user": (a.username, a.password, a.first_name, a.last_name, a.email, a.is_active, a.is_staff),
            "profile": tuple(
                type(a.profile).objects.filter(user=a).values_list("grade", "background_level", "preferred_language")
            ),
            "progress": list(
                LearningProgress.objects.filter(user=a).order_by("step_id").values_list(
                    "step_id", "status", "completion_percentage", "progress_data", "completed_at")
            ),
            "events": ProgressEvent.objects.filter(user=a).count(),
            "documents": list(Progress.objects.filter(user=a).order_by("pk").values_list("pk", "progress_data")),
            "paths": list(LearningPath.objects.filter(user=a).order_by("pk").values_list(
                "pk", "steps_sequence", "is_active", "path_type")),
            "api_events": ApiEvent.objects.filter(learner=a).count(),
            "tokens": list(ApiToken.objects.filter(user=a).values_list("pk", "revoked_at")),
            "classrooms": sorted(a.classrooms.values_list("pk", flat=True)),
        }


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and token "touched" marks live in the cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    teacher_a, teacher_other = make_teacher(username="teacher_of_a"), make_teacher(username="teacher_other")
    admin = make_superuser(username="site_admin")
    a = UserFactory(username=A_USERNAME, first_name="Alphonsa", last_name=A_LAST_NAME, grade=12)
    b = UserFactory(username="pupil_bartholomew", first_name="Bartholomew", last_name="Quist", grade=12)
    classroom_a = make_classroom(name="Class 12 A", teachers=[teacher_a], learners=[a])
    classroom_b = make_classroom(name="Class 12 B", teachers=[teacher_other], learners=[b])

    subject = SubjectFactory(code="phy", name="Physics")
    chapter = ChapterFactory(subject=subject, grade=12, title="Ohm's Law", slug="ohms-law")
    theory = StepFactory(chapter=chapter, order_index=1, title="Theory")
    simulation = StepFactory(chapter=chapter, order_index=2, title="Simulation", step_type=StepType.INTERACTIVE,
                             required_completion_criteria={"type": "external"})
    quiz = QuizStepFactory(chapter=chapter, order_index=3, title="Quiz")

    # A's history: Theory done, Simulation opened, a MARS-labs document, a path, a simulation event, a token.
    engine.open_step(learner=a, step=theory)
    engine.open_step(learner=a, step=simulation)
    a_progress = LearningProgress.objects.get(user=a, step=simulation)
    a_path = rebuild_main_path(learner=a).path
    a_document = ProgressFactory(user=a)
    a_event = ProgressEvent.objects.filter(user=a).order_by("pk").first()
    a_api_event = ApiEvent.objects.create(event_id=uuid.uuid4(), learner=a, step=simulation, verb=Verb.STARTED)
    a_token, _plain = ApiToken.issue(name="alphonsa-tablet", scope=TokenScope.LEARNER, user=a)
    _lab, lab_plain = ApiToken.issue(name="olabs", scope=TokenScope.LAB)
    _b_token, learner_plain = ApiToken.issue(name="bartholomew-phone", scope=TokenScope.LEARNER, user=b)

    axes_fields = {"username": A_USERNAME, "ip_address": "10.0.0.7", "user_agent": "matrix"}
    world = World(
        a=a, b=b, teacher_a=teacher_a, teacher_other=teacher_other, admin=admin,
        classroom_a=classroom_a, classroom_b=classroom_b, subject=subject, chapter=chapter,
        theory=theory, simulation=simulation, quiz=quiz, a_progress=a_progress, a_path=a_path,
        a_document=a_document, a_event=a_event, a_api_event=a_api_event, a_token=a_token,
        lab_plain=lab_plain, learner_plain=learner_plain,
    )
    world.admin_objects = {
        "auth.group": Group.objects.get(name=TEACHERS_GROUP),
        "axes.accessattempt": AccessAttempt.objects.create(
            failures_since_start=1, get_data="", post_data="", http_accept="", path_info="/accounts/login/",
            **axes_fields),
        "axes.accesslog": AccessLog.objects.create(http_accept="", path_info="/accounts/login/", **axes_fields),
        "axes.accessfailurelog": AccessFailureLog.objects.create(
            http_accept="", path_info="/accounts/login/", locked_out=False, **axes_fields),
        "learners.user": a,
        "learners.userprofile": a.profile,
        "learners.classroom": classroom_a,
        "curriculum.subject": subject,
        "curriculum.chapter": chapter,
        "curriculum.learningstep": simulation,
        "progress.learningprogress": a_progress,
        "progress.learningpath": a_path,
        "progress.progress": a_document,
        "progress.progressevent": a_event,
        "progress.pathrule": PathRule.objects.order_by("pk").first(),
        "api.apitoken": a_token,
        "api.apievent": a_api_event,
    }
    return world


def client_for(role, world):
    """A fresh test client acting as ``role`` (tokens: only the Authorization header, no session)."""
    if role == "lab_token":
        return Client(headers={"Authorization": f"Bearer {world.lab_plain}"})
    if role == "learner_token":
        return Client(headers={"Authorization": f"Bearer {world.learner_plain}"})
    client = Client()
    user = {"student_a": world.a, "student_b": world.b, "teacher_a": world.teacher_a,
            "teacher_other": world.teacher_other, "admin": world.admin}.get(role)
    if user is not None:
        client.force_login(user)
    return client
