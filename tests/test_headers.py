"""Security headers on real responses."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def directives(response):
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def test_login_page_has_strict_content_security_policy(client):
    csp = directives(client.get(reverse("login")))

    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["style-src"]


def test_student_page_headers(learner_client):
    response = learner_client.get(reverse("progress:home"))

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_simulation_sources_allowed_to_be_framed(settings, client):
    from csp.constants import SELF

    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "frame-src": [SELF, "https://sims.example"]}
    }

    csp = directives(client.get(reverse("login")))

    assert csp["frame-src"] == ["'self'", "https://sims.example"]
