import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from learners.models import GRADE_VALIDATORS
from mars_labs.schemas import SchemaError, validate_activity, validate_completion_criteria

from .enums import StepType

# Only these can be left out of a path: quizzes, exercises and labs are how learning is checked.
OPTIONAL_STEP_TYPES = (StepType.READING, StepType.VIDEO)


# Curriculum content stays in the language it was written in. A subject or chapter
# may say which (a BCP 47 code such as en, hi, mr); an empty chapter language is
# its subject's, an empty subject language the site's default (LANGUAGE_CODE).
LANGUAGE_CODE_VALIDATOR = RegexValidator(
    r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", _("Use a language code such as en, hi or mr."), code="invalid_language"
)


def language_field(help_text):
    return models.CharField(
        _("language"), max_length=16, blank=True, default="", validators=[LANGUAGE_CODE_VALIDATOR],
        help_text=help_text,
    )


def default_completion_criteria():
    return {"type": "time", "value": 60}


class Subject(models.Model):
    """A school subject; ``code`` is the MARS-labs key (phy, chem, math, bio, ...)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    language = language_field(_("The language its chapters are written in (en, hi, mr, ...). Empty: English."))

    class Meta:
        ordering = ["order", "name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("progress:subject", args=[self.code])

    @property
    def content_language(self):
        """The language code this subject's content is written in."""
        return self.language or settings.LANGUAGE_CODE


class ChapterQuerySet(models.QuerySet):
    def for_grade(self, grade):
        """Active chapters a learner of ``grade`` works through: their grade plus grade-less ones."""
        return self.filter(Q(grade=grade) | Q(grade__isnull=True), is_active=True)


class Chapter(models.Model):
    """A chapter of a subject's textbook for one grade (seed: Chapter)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="chapters")
    grade = models.PositiveSmallIntegerField(
        _("class"), null=True, blank=True, validators=GRADE_VALIDATORS,
        help_text=_("Leave empty for a chapter every class works through."),
    )
    title = models.CharField(_("title"), max_length=255)
    slug = models.SlugField(_("slug"), max_length=255, unique=True, blank=True)
    description = models.TextField(_("description"))
    order_index = models.PositiveIntegerField(_("order"))
    prerequisite_chapter = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="unlocks",
        verbose_name=_("prerequisite chapter"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    language = language_field(_("The language this chapter is written in, if not its subject's (en, hi, mr, ...)."))
    external_id = models.CharField(
        _("external id"), max_length=255, null=True, blank=True, unique=True,
        help_text=_("An id from another system, e.g. olabs:1/2/3 for an OLabs simulation."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChapterQuerySet.as_manager()

    class Meta:
        ordering = ["subject__order", "grade", "order_index"]
        constraints = [
            # A (subject, grade) is one textbook: titles and positions are unique in it.
            # NULL grades never collide in SQL, so grade-less chapters get their own pair.
            models.UniqueConstraint(
                fields=["subject", "grade", "title"], name="chapter_title_unique_in_textbook",
                condition=Q(grade__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["subject", "grade", "order_index"], name="chapter_order_unique_in_textbook",
                condition=Q(grade__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["subject", "title"], name="chapter_title_unique_no_grade", condition=Q(grade__isnull=True)
            ),
            models.UniqueConstraint(
                fields=["subject", "order_index"], name="chapter_order_unique_no_grade",
                condition=Q(grade__isnull=True),
            ),
            models.CheckConstraint(
                condition=Q(grade__isnull=True) | Q(grade__gte=1, grade__lte=12), name="chapter_grade_1_to_12"
            ),
            models.CheckConstraint(
                condition=~Q(prerequisite_chapter=models.F("id")), name="chapter_not_own_prerequisite"
            ),
        ]
        indexes = [
            # Dashboard and subject page: a grade's active chapters in order.
            models.Index(fields=["subject", "grade", "is_active", "order_index"], name="chapter_textbook_idx"),
        ]

    def __str__(self):
        grade = f" (class {self.grade})" if self.grade else ""
        return f"{self.subject.code}: {self.title}{grade}" if self.subject_id else self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(Chapter, self.title, grade=self.grade, exclude_pk=self.pk)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("progress:chapter", args=[self.slug])

    @property
    def content_language(self):
        """The language code this chapter is written in: its own, else its subject's."""
        return self.language or self.subject.content_language

    def clean(self):
        if self.prerequisite_chapter_id and self.prerequisite_chapter_id == self.pk:
            raise ValidationError({"prerequisite_chapter": _("A chapter cannot be its own prerequisite.")})


def unique_slug(model, title, *, grade=None, exclude_pk=None):
    """A URL slug from the title, with the grade and a counter when needed to be unique."""
    base = slugify(title)[:200] or "chapter"
    if grade:
        base = f"{base}-class-{grade}"
    slug, n = base, 2
    taken = model.objects.exclude(pk=exclude_pk)
    while taken.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


class LearningStep(models.Model):
    """One step of a chapter that learners complete in order (seed: LearningStep)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="steps")
    title = models.CharField(_("title"), max_length=255)
    content = models.TextField(_("content"), blank=True, help_text=_("Markdown. Scripts and unsafe HTML are removed."))
    step_type = models.CharField(_("type"), max_length=16, choices=StepType.choices)
    order_index = models.PositiveIntegerField(_("order"))
    prerequisite_step = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="unlocks",
        verbose_name=_("prerequisite step"),
        help_text=_("A step (possibly in another chapter) that must be done first."),
    )
    required_completion_criteria = models.JSONField(_("completion criteria"), default=default_completion_criteria)
    activity = models.JSONField(
        _("activity"), default=dict, blank=True,
        help_text=_("Quiz questions, video or simulation address, expected answer."),
    )
    optional_for_intermediate = models.BooleanField(
        _("optional for intermediate learners"), default=False,
        help_text=_("Left out of intermediate learners' personalized paths. Only reading and video steps."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["chapter", "order_index"]
        constraints = [
            # Also serves the (chapter, order_index) index the seed asks for.
            models.UniqueConstraint(fields=["chapter", "order_index"], name="step_order_unique_in_chapter"),
            models.CheckConstraint(condition=Q(step_type__in=StepType.values), name="step_type_valid"),
            models.CheckConstraint(
                condition=~Q(prerequisite_step=models.F("id")), name="step_not_own_prerequisite"
            ),
            models.CheckConstraint(
                condition=Q(optional_for_intermediate=False) | Q(step_type__in=OPTIONAL_STEP_TYPES),
                name="step_optional_only_reading_or_video",
            ),
        ]

    def __str__(self):
        return f"{self.chapter.title} › {self.title}" if self.chapter_id else self.title

    def get_absolute_url(self):
        return reverse("progress:step", args=[self.pk])

    def get_step_type_display(self):
        """The type's label in the active language, as Django's generated method gives it.

        Django's rebuilds a dict of the field's choices on every call (40 µs); a dashboard shows five
        and a chapter page one per step. An unknown value shows as itself, as Django's does.
        """
        try:
            return str(StepType(self.step_type).label)
        except ValueError:
            return str(self.step_type)

    @property
    def criteria_type(self):
        return (self.required_completion_criteria or {}).get("type")

    def clean(self):
        errors = {}
        try:
            validate_completion_criteria(self.required_completion_criteria)
        except SchemaError as exc:
            errors["required_completion_criteria"] = exc.messages
        try:
            validate_activity(self.activity, criteria=self.required_completion_criteria)
        except SchemaError as exc:
            errors["activity"] = exc.messages
        if self.prerequisite_step_id and self.prerequisite_step_id == self.pk:
            errors["prerequisite_step"] = [_("A step cannot be its own prerequisite.")]
        if self.optional_for_intermediate and self.step_type not in OPTIONAL_STEP_TYPES:
            errors["optional_for_intermediate"] = [_("Only reading and video steps can be optional.")]
        if errors:
            raise ValidationError(errors)
