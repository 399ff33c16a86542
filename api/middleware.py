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

Not skipped: security headers, locale (API messages follow Accept-Language),
common, CSRF (exempt views return early; its checks look for the exact path),
clickjacking and django-axes.
"""

from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware

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
