from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    SKIPPED = "skipped", _("Skipped")


# "Done" unlocks what comes next (DESIGN.md, sequential execution).
DONE_STATUSES = (Status.COMPLETED, Status.SKIPPED)


class PathType(models.TextChoices):
    DEFAULT = "default", _("Default")
    PERSONALIZED = "personalized", _("Personalized")
    REMEDIAL = "remedial", _("Remedial")


class EventKind(models.TextChoices):
    STARTED = "started", _("Started")
    TIME = "time", _("Active time")
    ANSWERED = "answered", _("Answered")
    COMPLETED = "completed", _("Completed")
    SKIPPED = "skipped", _("Skipped")
    RESET = "reset", _("Reset")
    OVERRIDE = "override", _("Override")
    PATH = "path", _("Path changed")
