from django.db import models
from django.utils.translation import gettext_lazy as _


class TokenScope(models.TextChoices):
    # A lab simulation or integration: may report for any learner and list/create users.
    LAB = "lab", _("Lab (any learner)")
    # One learner's own client: reads and writes only that learner's data.
    LEARNER = "learner", _("Learner (own data only)")


class Verb(models.TextChoices):
    """What a simulation says happened (a minimal xAPI-like vocabulary)."""

    STARTED = "started", _("started")
    COMPLETED = "completed", _("completed")
    PASSED = "passed", _("passed")
    FAILED = "failed", _("failed")
    ANSWERED = "answered", _("answered")
