"""api/middleware.py: token-authenticated /api/ calls skip the browser-only middleware; nothing else does."""

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import checks
from django.test import RequestFactory

from api import middleware

CSP = "Content-Security-Policy"


def test_a_token_call_is_an_api_path_with_an_authorization_header():
    factory = RequestFactory()
    assert middleware.is_token_call(factory.get("/api/v1/users", headers={"Authorization": "Bearer x"}))
    assert middleware.is_token_call(factory.post("/api/v1/users", headers={"Authorization": "Basic x"}))
    assert not middleware.is_token_call(factory.get("/api/v1/users"))  # session or anonymous API call
    assert not middleware.is_token_call(factory.get("/", headers={"Authorization": "Bearer x"}))  # a page
    assert not middleware.is_token_call(factory.get("/apiary", headers={"Authorization": "Bearer x"}))


def test_the_skipping_middleware_runs_its_parent_for_other_requests():
    seen = {}

    def view(request):
        seen["session"], seen["user"] = hasattr(request, "session"), hasattr(request, "user")
        seen["messages"] = hasattr(request, "_messages")
        from django.http import HttpResponse

        return HttpResponse("ok")

    chain = middleware.SessionMiddleware(middleware.AuthenticationMiddleware(middleware.MessageMiddleware(view)))
    factory = RequestFactory()
    chain(factory.get("/api/v1/users", headers={"Authorization": "Bearer x"}))
    assert seen == {"session": False, "user": False, "messages": False}
    for request in (factory.get("/api/v1/users"), factory.get("/", headers={"Authorization": "Bearer x"})):
        chain(request)
        assert seen == {"session": True, "user": True, "messages": True}


def test_the_settings_use_them_and_djangos_checks_still_find_the_parents():
    assert issubclass(middleware.SessionMiddleware, SessionMiddleware)
    assert issubclass(middleware.AuthenticationMiddleware, AuthenticationMiddleware)
    assert issubclass(middleware.MessageMiddleware, MessageMiddleware)
    for name in ("SessionMiddleware", "AuthenticationMiddleware", "MessageMiddleware", "CSPMiddleware"):
        assert f"api.middleware.{name}" in settings.MIDDLEWARE
    errors = [m for m in checks.run_checks() if m.level >= checks.ERROR]
    assert errors == []


def test_a_token_call_answers_as_before_without_the_page_csp(lab_api, client, learner, steps):
    response = lab_api.get("/api/v1/users")
    assert response.status_code == 200
    assert CSP not in response
    assert "Set-Cookie" not in str(response.cookies) and not response.cookies
    assert response["X-Frame-Options"] == "DENY"  # kept: clickjacking middleware is not skipped
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_token_call_ignores_a_session_cookie_and_leaves_the_session_alone(client, lab_api, other_learner):
    """A signed-in browser's cookie rides along: the token alone decides, and the session is not touched."""
    client.force_login(other_learner)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/api/v1/me/progress").status_code == 200  # the session alone: the learner's own progress
    response = lab_api.get("/api/v1/me/progress")  # same client, same cookie, plus a lab token
    assert response.status_code == 403  # judged as the lab token, which acts for no learner
    assert settings.SESSION_COOKIE_NAME not in response.cookies  # not re-saved, not refreshed
    assert client.cookies[settings.SESSION_COOKIE_NAME].value == session_key


def test_session_api_calls_and_pages_keep_the_browser_middleware(client, learner, steps):
    client.force_login(learner)
    response = client.get("/api/v1/me/progress")
    assert response.status_code == 200  # the session and the user are there
    assert CSP in response
    page = client.get("/", headers={"Authorization": "Bearer anything"})
    assert CSP in page


def test_api_answers_are_never_cached_as_never_cache_would_say(lab_api, client, learner):
    """api/http.py sets never_cache's two headers itself (cheaper): the same Cache-Control, an Expires
    of now, on answers and errors, for token and session callers alike."""
    from django.http import HttpResponse
    from django.utils.cache import add_never_cache_headers
    from django.utils.http import parse_http_date

    reference = HttpResponse()
    add_never_cache_headers(reference)
    client.force_login(learner)
    for response in (lab_api.get("/api/v1/users"), lab_api.get("/api/v1/users?Id=987654"),
                     client.get("/api/v1/me/progress"), client.get("/api/v1/users")):
        assert response.status_code in (200, 403, 404)
        assert response["Cache-Control"] == reference["Cache-Control"]
        assert abs(parse_http_date(response["Expires"]) - parse_http_date(reference["Expires"])) <= 2


def test_the_locale_middleware_answers_token_calls_as_djangos_does():
    """api.middleware.LocaleMiddleware skips two unused look-ups for token calls: same language, same headers."""
    from django.http import HttpResponse
    from django.middleware.locale import LocaleMiddleware as DjangosLocaleMiddleware
    from django.utils import translation

    assert "api.middleware.LocaleMiddleware" in settings.MIDDLEWARE
    factory = RequestFactory()
    bearer = {"Authorization": "Bearer x"}
    requests = [
        lambda: factory.post("/api/v1/steps/x/events", headers={**bearer, "Accept-Language": "hi"}),
        lambda: factory.get("/api/v1/users", headers={**bearer, "Accept-Language": "fr-CA, en;q=0.5"}),
        lambda: factory.get("/api/v1/users", headers=bearer),
        lambda: factory.get("/hi/api/v1/users", headers={**bearer, "Accept-Language": "en"}),
        lambda: factory.get("/api/v1/users", headers={"Accept-Language": "hi"}),  # a session call: Django's code
    ]
    for make in requests:
        answers = []
        for middleware_class in (middleware.LocaleMiddleware, DjangosLocaleMiddleware):
            request = make()
            request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = "hi" if "Accept-Language" not in request.headers else ""
            with translation.override(None):
                response = middleware_class(lambda r: HttpResponse(translation.get_language()))(request)
            answers.append((request.LANGUAGE_CODE, response.content, response["Vary"], response["Content-Language"]))
        assert answers[0] == answers[1], make().path
