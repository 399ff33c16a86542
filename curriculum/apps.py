from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CurriculumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "curriculum"
    verbose_name = _("Curriculum")

    def ready(self):
        from . import cache

        cache.connect_signals()  # a saved or deleted chapter, step, subject or path rule invalidates the snapshot
