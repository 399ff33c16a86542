import gc

import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory


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
