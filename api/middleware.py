"""Browser middleware that a token-authenticated API call skips.

A request to ``/api/`` with an ``Authorization`` header is judged by its token
alone (``api/auth.py``: any Authorization header means the token path, never the
session), so the session, the signed-in user, the flash messages and the HTML
page's Content-Security-Policy are never used for it. Running them cost about
a fifth of an API event's worker CPU. These subclasses of Django's and
django-csp's middleware step aside for exactly those requests and behave
as their parents for every other request (browsers, session-authenticated API
calls, anonymous ones). Subclasses, so Django's checks that look for the
parents (``admin.E408``-``E410``) still find them.

Not skipped: security headers, locale (API messages follow Accept-Language;
``LocaleMiddleware`` below only drops two look-ups whose answers go unused),
common, CSRF (exempt views return early; its checks look for the exact path),
clickjacking and django-axes.
"""

from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.middleware.locale import LocaleMiddleware as _LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers

from learners.middleware import AuthenticationMiddleware as _AuthenticationMiddleware

API_PREFIX = "/api/"


def is_token_call(request):
    """Whether ``request`` is an API call carrying credentials in the Authorization header."""
    return "HTTP_AUTHORIZATION" in request.META and request.path_info.startswith(API_PREFIX)


def _skipped_by_token_calls(base):
    class Middleware(base):
        def __call__(self, request):
            if is_token_call(request):
                return self.get_response(request)
            return super().__call__(request)

    Middleware.__name__ = Middleware.__qualname__ = base.__name__
    Middleware.__doc__ = f"{base.__module__}.{base.__name__}, skipped by token-authenticated API calls."
    return Middleware


SessionMiddleware = _skipped_by_token_calls(_SessionMiddleware)
AuthenticationMiddleware = _skipped_by_token_calls(_AuthenticationMiddleware)
MessageMiddleware = _skipped_by_token_calls(_MessageMiddleware)
CSPMiddleware = _skipped_by_token_calls(_CSPMiddleware)


class LocaleMiddleware(_LocaleMiddleware):
    """Django's LocaleMiddleware; for a token call without ``i18n_patterns`` in the URLconf, without the
    two look-ups of a language prefix in the path whose answers Django then uses only with them.

    What a token call gets is unchanged: the language from the cookie or Accept-Language, activated
    for the request, ``Vary: Accept-Language`` and ``Content-Language`` on the answer
    (tests/api/test_token_middleware.py). Every other request runs Django's code as it is.
    """

    def _fast(self, request):
        return is_token_call(request) and not is_language_prefix_patterns_used(
            getattr(request, "urlconf", settings.ROOT_URLCONF)
        )[0]

    def process_request(self, request):
        if not self._fast(request):
            return super().process_request(request)
        translation.activate(translation.get_language_from_request(request, check_path=False))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request, response):
        if not self._fast(request):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
