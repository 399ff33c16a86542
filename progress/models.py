import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from learners.enums import BackgroundLevel
from mars_labs.schemas import SchemaError, validate_marslabs_progress, validate_steps_sequence

from .enums import EventKind, PathType, Status


class LearningProgress(models.Model):
    """Where one learner stands on one step (seed: LearningProgress).

    Written only through progress/engine.py. ``progress_data`` holds
    ``active_seconds``, ``attempts``, ``best_score``, ``criteria`` (as they were
    when the learner started) and ``reason`` (the last evaluation's verdict).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column index on either key: the unique (user, step) and the (step, status) index
    # below start with them and serve every lookup and cascade by learner or step; a second copy
    # only cost every insert (docs/performance.md "Step completions").
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="step_progress", db_index=False
    )
    step = models.ForeignKey(
        "curriculum.LearningStep", on_delete=models.CASCADE, related_name="progress", db_index=False
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    completion_percentage = models.PositiveSmallIntegerField(_("completion %"), default=0)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    progress_data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("step progress")
        verbose_name_plural = _("step progress")
        constraints = [
            # One row per learner and step; also the seed's (user, step) index.
            models.UniqueConstraint(fields=["user", "step"], name="progress_one_row_per_user_step"),
            models.CheckConstraint(
                condition=Q(completion_percentage__gte=0, completion_percentage__lte=100),
                name="progress_percentage_0_to_100",
            ),
            models.CheckConstraint(
                condition=(Q(status=Status.COMPLETED, completed_at__isnull=False)
                           | (~Q(status=Status.COMPLETED) & Q(completed_at__isnull=True))),
                name="progress_completed_at_iff_completed",
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="progress_status_valid"),
        ]
        indexes = [
            # Seed: index on status (teacher reports filter by it).
            models.Index(fields=["status"], name="progress_status_idx"),
            # Dashboard "continue" card: a learner's most recently touched steps.
            models.Index(fields=["user", "-updated_at"], name="progress_user_recent_idx"),
            # Class reports: everyone's progress on one step, by status.
            models.Index(fields=["step", "status"], name="progress_step_status_idx"),
            # Class report matrix and roll-ups: a learner's done steps, read from the index alone
            # (never the rows with their JSON); docs/performance.md "Query plans".
            models.Index(fields=["user", "status", "step"], name="progress_user_status_step_idx"),
        ]

    def __str__(self):
        return f"{self.user} · {self.step_id} · {self.status}"

    @property
    def is_done(self):
        return self.status in (Status.COMPLETED, Status.SKIPPED)


class PathRule(models.Model):
    """How a personalized path treats one background level: the rules as data teachers can change.

    Seeded by a migration: beginners get the full sequence, intermediate
    learners leave out steps marked optional, advanced learners may test out
    of a chapter by passing its quiz first.
    """

    background_level = models.CharField(
        _("background level"), max_length=16, choices=BackgroundLevel.choices, unique=True
    )
    leave_out_optional = models.BooleanField(
        _("leave out optional steps"), default=False,
        help_text=_("Steps marked optional for intermediate learners are left out of the path."),
    )
    test_out = models.BooleanField(
        _("test out"), default=False,
        help_text=_("Each chapter with a quiz opens with it; passing skips the rest of the chapter as 'tested out'."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("path rule")
        ordering = ["background_level"]

    def __str__(self):
        return f"Path rule for {self.get_background_level_display()} learners"


class LearningPath(models.Model):
    """An ordered list of steps for one learner (seed: LearningPath), built by progress/paths.py.

    ``step_notes`` explains steps: ``{step_id: {"skippable": true, "note": "tested out", "test_out": true}}``;
    ``omitted`` lists steps left out and why. A learner has at most one active
    main path (default or personalized) and one active remedial path per chapter.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learning_paths")
    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    path_type = models.CharField(_("type"), max_length=16, choices=PathType.choices, default=PathType.DEFAULT)
    steps_sequence = models.JSONField(_("steps"), default=list)
    step_notes = models.JSONField(_("step notes"), default=dict, blank=True)
    omitted = models.JSONField(_("left out"), default=dict, blank=True)
    chapter = models.ForeignKey(
        "curriculum.Chapter", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text=_("For a remedial path: the chapter whose quiz it prepares for."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(path_type__in=PathType.values), name="path_type_valid"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_active=True) & ~Q(path_type=PathType.REMEDIAL),
                name="path_one_active_main_path",
            ),
            models.UniqueConstraint(
                fields=["user", "chapter"], condition=Q(is_active=True, path_type=PathType.REMEDIAL),
                name="path_one_active_remedial_per_chapter",
            ),
            models.CheckConstraint(
                condition=~Q(path_type=PathType.REMEDIAL) | Q(chapter__isnull=False), name="path_remedial_has_chapter"
            ),
        ]
        indexes = [
            # Every page that follows the path: a learner's active paths.
            models.Index(fields=["user", "is_active"], name="path_user_active_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_path_type_display()}) for {self.user}"

    def clean(self):
        from curriculum.models import LearningStep

        try:
            validate_steps_sequence(self.steps_sequence)
        except SchemaError as exc:
            raise ValidationError({"steps_sequence": exc.messages}) from exc
        wanted = {str(uuid.UUID(s)) for s in self.steps_sequence}
        found = {str(pk) for pk in LearningStep.objects.filter(pk__in=wanted).values_list("pk", flat=True)}
        missing = sorted(wanted - found)
        if missing:
            raise ValidationError({"steps_sequence": _("Unknown step ids: %(ids)s") % {"ids": ", ".join(missing)}})


class Progress(models.Model):
    """A MARS-labs progress document as received, kept verbatim (nothing lost).

    The engine applies it to LearningProgress (``apply_marslabs_document``);
    titles that match no chapter are listed in ``unmatched``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="marslabs_documents")
    progress_data = models.JSONField(_("progress document"))
    unmatched = models.JSONField(_("unmatched entries"), default=list, blank=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("MARS-labs progress document")
        ordering = ["id"]

    def __str__(self):
        return f"MARS-labs document #{self.pk} for {self.user}"

    def clean(self):
        try:
            validate_marslabs_progress(self.progress_data)
        except SchemaError as exc:
            raise ValidationError({"progress_data": exc.messages}) from exc


class ProgressEvent(models.Model):
    """Append-only history: what happened to whose progress, when, by whom and why."""

    # Neither key has its own index: event_user_kind_time_idx and event_step_kind_idx start with
    # them and serve the lookups and the cascade / SET_NULL; each event insert (several per
    # completion, into a table of millions) updated two more B-trees for nothing.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="progress_events", db_index=False
    )
    # SET_NULL: a deleted step must not erase the learner's history.
    step = models.ForeignKey(
        "curriculum.LearningStep", on_delete=models.SET_NULL, null=True, blank=True, related_name="events",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text=_("Who caused it, when not the learner (a teacher, an operator)."),
    )
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    # default, not auto_now_add: the engine stamps each event with the same
    # "now" as the change it records (and importers with the original time).
    created_at = models.DateTimeField(default=timezone.now, db_index=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Dashboard activity chart and history: a learner's events by time.
            models.Index(fields=["user", "kind", "created_at"], name="event_user_kind_time_idx"),
            # Audits and "who completed this step": one step's events.
            models.Index(fields=["step", "kind"], name="event_step_kind_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_valid")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user} {self.kind}"
