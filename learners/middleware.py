"""The interface language of a request.

Django's LocaleMiddleware (earlier in the chain) picks the language from the
language cookie, else the browser's Accept-Language. For a signed-in user this
middleware then overrides it with ``UserProfile.preferred_language``: the
learner's choice follows them from one school computer to the next.

It costs no query: the profile is loaded with the user
(learners.backends.ProfileModelBackend), and requests that carry no session
cookie, or an API token, never load the user at all.
"""

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from .backends import session_user
from .models import UserProfile

SUPPORTED_LANGUAGES = frozenset(code for code, _name in settings.LANGUAGES)


def profile_language(user):
    """The supported language code ``user``'s profile asks for, or None (anonymous, no profile, unknown code)."""
    if not user.is_authenticated:
        return None
    try:
        language = user.profile.preferred_language
    except UserProfile.DoesNotExist:
        return None
    return language if language in SUPPORTED_LANGUAGES else None


class ProfileLanguageMiddleware:
    """Activate a signed-in user's preferred language. Goes after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A token-authenticated API call is judged by its token alone (api/auth.py) and a request
        # without a session cookie is anonymous: neither should pay for loading a session user.
        if settings.SESSION_COOKIE_NAME in request.COOKIES and "HTTP_AUTHORIZATION" not in request.META:
            language = profile_language(request.user)
            if language and language != translation.get_language():
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


def get_user(request):
    """Django's ``get_user`` for the request, taking the user its session read along (learners/backends.py)."""
    if not hasattr(request, "_cached_user"):
        with session_user(request.session):
            request._cached_user = auth.get_user(request)
    return request._cached_user


class AuthenticationMiddleware(_AuthenticationMiddleware):
    """Django's, with ``request.user`` from the session's own read: one statement for both."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: get_user(request))
