"""LearningStep.get_step_type_display: the label Django's generated method gives, without rebuilding the choices."""

import pytest
from django.utils import translation

from curriculum.enums import StepType
from curriculum.models import LearningStep


def djangos_display(step):
    return step._get_FIELD_display(LearningStep._meta.get_field("step_type"))


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("step_type", [*StepType.values, "hologram", ""])
def test_the_label_is_djangos_in_every_language_and_an_unknown_type_shows_as_itself(step_type, language):
    step = LearningStep(step_type=step_type)
    with translation.override(language):
        assert step.get_step_type_display() == djangos_display(step)
    if step_type == "hologram":
        assert step.get_step_type_display() == "hologram"


def test_the_label_follows_the_active_language():
    step = LearningStep(step_type=StepType.INTERACTIVE)
    with translation.override("en"):
        english = step.get_step_type_display()
    with translation.override("hi"):
        hindi = step.get_step_type_display()
    assert english != hindi
