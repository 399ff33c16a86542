import gc

import pytest

from curriculum.enums import StepType
from tests.factories import (
    DEFAULT_PASSWORD,
    ChapterFactory,
    QuizStepFactory,
    StepFactory,
    SubjectFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: a curriculum snapshot must not outlive its test's rolled-back rows."""
    from django.core.cache import cache

    from curriculum import cache as curriculum_cache

    cache.clear()
    curriculum_cache.clear_local()
    yield
    gc.unfreeze()  # curriculum_cache.snapshot() freezes what it builds; let the test's objects be collected


@pytest.fixture
def learner(db):
    return UserFactory(username="asha", first_name="Asha", last_name="Verma", grade=12)


@pytest.fixture
def learner_client(client, learner):
    client.force_login(learner)
    return client


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in English. A request through the test client leaves the thread in the
    language it was served in (a Hindi learner's page activates "hi"), which would otherwise leak
    into the next test's template rendering."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def ohms_law(db):
    """Physics class 12 "Ohm's Law" in the OLabs pattern: Theory (view), Simulation (external), Quiz (min 70)."""
    chapter = ChapterFactory(subject=SubjectFactory(code="phy", name="Physics"), grade=12, title="Ohm's Law")
    StepFactory(chapter=chapter, order_index=1, title="Theory")
    StepFactory(chapter=chapter, order_index=2, title="Simulation", step_type=StepType.INTERACTIVE,
                required_completion_criteria={"type": "external"})
    QuizStepFactory(chapter=chapter, order_index=3, title="Quiz")
    return chapter
