import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mars_labs.schemas import SchemaError, validate_learning_preferences

from .enums import BackgroundLevel

GRADE_VALIDATORS = [MinValueValidator(1), MaxValueValidator(12)]


class User(AbstractUser):
    """A person who signs in: learner, teacher (staff in "Teachers") or admin.

    ``age`` was a VARCHAR(4) in MARS-labs; here it is a number, and optional.
    """

    age = models.PositiveSmallIntegerField(_("age"), null=True, blank=True, validators=[MaxValueValidator(120)])
    # The User.id this learner had in a MARS-labs database (import_marslabs), so a
    # second import finds them again instead of creating a duplicate.
    legacy_id = models.PositiveIntegerField(_("MARS-labs id"), null=True, blank=True, unique=True, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.CheckConstraint(condition=Q(age__isnull=True) | Q(age__lte=120), name="user_age_plausible"),
        ]

    def __str__(self):
        return self.get_full_name() or self.username


class UserProfile(models.Model):
    """What a learner tells us about themselves (seed: UserProfile).

    Created automatically with each User (see signals.py). ``grade`` is the
    MARS-labs "class" and decides which chapters count for the learner.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    background_level = models.CharField(
        _("background level"), max_length=16, choices=BackgroundLevel.choices, default=BackgroundLevel.BEGINNER
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    grade = models.PositiveSmallIntegerField(_("class"), null=True, blank=True, validators=GRADE_VALIDATORS)
    learning_preferences = models.JSONField(_("learning preferences"), default=dict, blank=True)
    # Where the learner is right now, for engine.record_active_time: only the
    # step last opened earns time, and each beat earns at most the wall-clock
    # time since the learner's previous beat, so two tabs cannot double it.
    viewing_step = models.ForeignKey(
        "curriculum.LearningStep", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        editable=False,
    )
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Changes with every change to the learner's progress, paths or events (progress/versions.py):
    # cached progress pages are keyed by it, and it comes with the user at no extra query.
    progress_version = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("learner profile")
        constraints = [
            models.CheckConstraint(
                condition=Q(grade__isnull=True) | Q(grade__gte=1, grade__lte=12), name="profile_grade_1_to_12"
            ),
            models.CheckConstraint(
                condition=Q(background_level__in=BackgroundLevel.values), name="profile_background_level_valid"
            ),
        ]

    def __str__(self):
        return f"Profile of {self.user}"

    def clean(self):
        try:
            validate_learning_preferences(self.learning_preferences)
        except SchemaError as exc:
            raise SchemaError({"learning_preferences": exc.messages}) from exc


def profile_of(user):
    """``user``'s profile: the one loaded with the user on a signed-in request (learners/backends.py)
    costs no query; else read, or created for a user that has none (a fixture's, say)."""
    try:
        return user.profile
    except UserProfile.DoesNotExist:
        return UserProfile.objects.get_or_create(user=user)[0]


class Session(AbstractBaseSession):
    """A browser session (Django's database session) that also names its signed-in user.

    ``user`` is filled from the session's own data on every save
    (mars_labs/session_store.py), so the one statement every signed-in
    request starts with reads the session, the user and the profile
    together. Deleting a user deletes their sessions, which signs them out.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+", editable=False
    )

    @classmethod
    def get_session_store_class(cls):
        from mars_labs.session_store import SessionStore

        return SessionStore

    class Meta(AbstractBaseSession.Meta):
        verbose_name = _("session")
        verbose_name_plural = _("sessions")


class Classroom(models.Model):
    """A class of learners and the teachers who follow it; scopes teacher reports."""

    name = models.CharField(_("name"), max_length=100)
    grade = models.PositiveSmallIntegerField(_("class"), null=True, blank=True, validators=GRADE_VALIDATORS)
    teachers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teaching", blank=True, limit_choices_to={"is_staff": True}
    )
    learners = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="classrooms", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["grade", "name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="classroom_name_unique"),
            models.CheckConstraint(
                condition=Q(grade__isnull=True) | Q(grade__gte=1, grade__lte=12), name="classroom_grade_1_to_12"
            ),
        ]

    def __str__(self):
        return self.name
