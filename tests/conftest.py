import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory


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
