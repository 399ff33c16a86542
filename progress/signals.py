from django.db.models.signals import pre_delete
from django.dispatch import receiver

from curriculum.models import LearningStep

from .paths import drop_deleted_step


@receiver(pre_delete, sender=LearningStep)
def drop_step_from_paths(sender, instance, **kwargs):
    # Paths hold step ids in JSON, which no foreign key cleans up.
    drop_deleted_step(instance.pk)
