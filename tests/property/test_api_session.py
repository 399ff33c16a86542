"""schemathesis over every API operation as a teacher signed in with the browser (session + CSRF).

tests/api/test_openapi.py fuzzes every operation with a learner token and a
lab token. The third kind of caller, a browser session, takes another path
through api/http.py (Django's CSRF check on writes, staff acting for
learners), so it is fuzzed here too, with the same checks (but one) and aiming,
and each answer is checked to come from the signed-in teacher (no 401, no
CSRF refusal), so the run cannot pass by being turned away at the door.
"""

import pytest
from django.conf import settings as django_settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import settings
from schemathesis.specs.openapi.checks import ignored_auth

from tests.admin import make_teacher
from tests.api.conftest import steps  # noqa: F401 (fixture; ohms_law comes from tests/conftest.py)
from tests.api.test_openapi import HYPOTHESIS, aim, schema, wsgi_calls  # noqa: F401 (wsgi_calls: a fixture)

# Half the token runs' examples: this path differs from theirs only at the door (session, CSRF, staff).
SESSION_HYPOTHESIS = settings(HYPOTHESIS, max_examples=max(1, HYPOTHESIS.max_examples // 2))

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher_session(db):
    """(cookies, CSRF token) of a signed-in teacher, as a browser would send them."""
    client = Client()
    client.force_login(make_teacher(username="tara"))
    csrf = _get_new_csrf_string()
    cookies = {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value,
               django_settings.CSRF_COOKIE_NAME: csrf}
    return cookies, csrf


@schema.parametrize()
@SESSION_HYPOTHESIS
def test_schemathesis_with_a_teacher_session(case, wsgi_calls, teacher_session, learner, steps):  # noqa: F811
    cookies, csrf = teacher_session
    aim(case, learner_id=learner.pk, step_ids=[str(s.pk) for s in steps.values()], lab=False)
    # ignored_auth is left out: it swaps in made-up credentials but our real session cookie rides along, so it
    # would always "succeed". The token tests run it, and a session is refused without the cookie in tests/api.
    response = case.call_and_validate(cookies=cookies, headers={"X-CSRFToken": csrf},
                                      excluded_checks=[ignored_auth])
    if case.operation.path != "/openapi.json":
        # The session really is the caller: signed in, and past the CSRF check.
        assert response.status_code != 401, response.text
        assert "CSRF" not in response.text
