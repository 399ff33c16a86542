"""Fixtures for the API tests: tokens, a small physics chapter, a JSON client."""

import json

import pytest
from django.core.cache import cache

from api.enums import TokenScope
from api.models import ApiToken
from tests.factories import TeacherFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and token "touched" marks live in the cache: start each test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def other_learner(db):
    return UserFactory(username="ravi", first_name="Ravi", last_name="Kumar", grade=12)


@pytest.fixture
def teacher(db):
    return TeacherFactory(username="teacher")


@pytest.fixture
def lab_token(db):
    """(ApiToken, plain) for a lab simulation."""
    return ApiToken.issue(name="olabs", scope=TokenScope.LAB)


@pytest.fixture
def learner_token(learner):
    return ApiToken.issue(name="asha-phone", scope=TokenScope.LEARNER, user=learner)


@pytest.fixture
def steps(ohms_law):
    """The chapter's steps by title."""
    return {step.title: step for step in ohms_law.steps.all()}


class Api:
    """A Django test client speaking JSON, with or without a bearer token."""

    def __init__(self, client, token=None):
        self.client, self.token = client, token

    def _headers(self, headers):
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def get(self, path, data=None, headers=None):
        return self.client.get(path, data, headers=self._headers(headers))

    def send(self, method, path, body=None, *, raw=None, content_type="application/json", headers=None):
        data = raw if raw is not None else json.dumps(body)
        return getattr(self.client, method)(path, data, content_type=content_type, headers=self._headers(headers))

    def post(self, path, body=None, **kwargs):
        return self.send("post", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.send("put", path, body, **kwargs)


@pytest.fixture
def lab_api(client, lab_token):
    return Api(client, lab_token[1])


@pytest.fixture
def learner_api(client, learner_token):
    return Api(client, learner_token[1])


@pytest.fixture
def anon_api(client):
    return Api(client)


@pytest.fixture(autouse=True)
def _forget_checked_tokens():
    """Tokens checked by an earlier test must not be remembered (api/auth.py keeps them a few seconds)."""
    from api.auth import forget_verified_tokens

    forget_verified_tokens()
    yield
    forget_verified_tokens()
