from django.db import models
from django.utils.translation import gettext_lazy as _


class StepType(models.TextChoices):
    READING = "reading", _("Reading")
    QUIZ = "quiz", _("Quiz")
    EXERCISE = "exercise", _("Exercise")
    VIDEO = "video", _("Video")
    INTERACTIVE = "interactive", _("Simulation")


class CriteriaType(models.TextChoices):
    TIME = "time", _("Time spent")
    QUIZ = "quiz", _("Quiz score")
    VIEW = "view", _("Opened")
    MANUAL = "manual", _("Marked done by the learner")
    SUBMISSION = "submission", _("Answer submitted")
    EXTERNAL = "external", _("Reported by a simulation")
