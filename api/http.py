"""The plumbing every API endpoint shares: methods, size limit, authentication, CSRF, rate limit,
JSON bodies and JSON errors.

Order of checks, each answering in JSON: 405 (method) -> 413 (Content-Length)
-> 401 (credentials) -> 403 (CSRF, session callers only) -> 429 (rate) ->
the handler (which may read the body: 413 / 415 / 400).
"""

import json
import re

from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from mars_labs.audit import audit

from . import ratelimit
from .auth import AuthError, authenticate

# The API's own limit, below Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): a
# progress document is a few kilobytes, so a megabyte is already generous.
MAX_BODY_BYTES = 1024 * 1024
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
MAX_ID = 2**63 - 1  # the largest primary key either database can hold; larger ids would be a database error
# The Cache-Control header Django's never_cache sends (tests/api/test_token_middleware.py holds it to that).
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"


class ApiError(Exception):
    """Answer ``status`` with ``{"message": message, **extra}`` and write nothing."""

    def __init__(self, status, message, *, headers=None, extra=None):
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, str(message), headers or {}, extra or {}

    def response(self):
        response = JsonResponse({"message": self.message, **self.extra}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


class _JsonCsrf(CsrfViewMiddleware):
    """Django's own CSRF check, answering in JSON instead of the HTML failure page."""

    def _reject(self, request, reason):
        return ApiError(403, _("CSRF check failed (%(reason)s): send the X-CSRFToken header, "
                               "or use an API token") % {"reason": reason}).response()


_csrf = _JsonCsrf(lambda request: None)


def endpoint(public=False, **handlers):
    """A view that sends each HTTP method to its handler, after the shared checks.

    ``endpoint(GET=read, PUT=write)``. Handlers receive the request (with
    ``request.principal`` set) and the URL kwargs and return a response or
    raise ApiError. ``public=True`` skips authentication and the rate limit.
    """
    allowed = sorted(handlers)

    # csrf_exempt: the middleware must not judge token calls; session calls get the same check below.
    @csrf_exempt
    def view(request, **kwargs):
        try:
            handler = handlers.get(request.method)
            if handler is None:
                raise ApiError(405, _("method %(method)s is not allowed here") % {"method": request.method},
                               headers={"Allow": ", ".join(allowed)})
            if not public:
                _check_declared_length(request)
                request.principal = _principal(request)
                if request.principal.token is None and request.method not in SAFE_METHODS:
                    rejected = _csrf.process_view(request, None, (), {})
                    if rejected is not None:
                        return rejected
                verdict = ratelimit.hit(request.principal.rate_key)
                if not verdict.allowed:
                    raise ApiError(
                        429, _("too many requests: %(limit)d allowed per window; retry in %(s)d s")
                        % {"limit": verdict.limit, "s": verdict.retry_after},
                        headers={"Retry-After": str(verdict.retry_after)},
                    )
            response = handler(request, **kwargs)
        except ApiError as error:
            response = error.response()
        _audit_token_write(request, response)
        # never_cache's headers, set directly: its header parsing cost about 2 % of an event's CPU.
        # No API answer sets either header itself.
        response.headers["Expires"] = http_date()
        response.headers["Cache-Control"] = NEVER_CACHE
        return response

    return view


def _audit_token_write(request, response):
    """One audit line per write made with an API token (about 20 µs): which token (never its secret),
    for which learner, what answer. Reads are not logged; the token's last_used_at covers them."""
    principal = getattr(request, "principal", None)
    if principal is None or principal.token is None or request.method in SAFE_METHODS:
        return
    token = principal.token
    audit("api_token_used", key_id=token.pk, key_name=token.name, scope=token.scope, method=request.method,
          path=request.path, status=response.status_code, learner_id=getattr(request, "audit_learner", None))


def _principal(request):
    try:
        principal = authenticate(request)
    except AuthError as error:
        raise ApiError(401, str(error), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    if principal is None:
        raise ApiError(401, _("authentication required: sign in, or send “Authorization: Bearer <token>”"),
                       headers={"WWW-Authenticate": "Bearer"})
    return principal


def _too_large():
    return ApiError(413, _("the request body is larger than %(n)d bytes") % {"n": MAX_BODY_BYTES})


def _check_declared_length(request):
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, _("Content-Length is not a number")) from None
    if declared > MAX_BODY_BYTES:
        raise _too_large()


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


def read_json(request):
    """The request body as a JSON object (a dict), or ApiError 413 / 415 / 400.

    Reads at most MAX_BODY_BYTES + 1 bytes whatever Content-Length claims.
    Refuses NaN/Infinity, and text PostgreSQL cannot store (NUL, lone surrogates).
    """
    if request.content_type and not (
        request.content_type == "application/json" or request.content_type.endswith("+json")
    ):
        raise ApiError(415, _("send JSON with “Content-Type: application/json”"))
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ApiError(400, _("the request body is not valid JSON")) from None
    if not isinstance(body, dict):
        raise ApiError(400, _("the request body must be a JSON object"))
    problem = unstorable_text(body)
    if problem:
        raise ApiError(400, problem)
    return body


def unstorable_text(value):
    """A message when any string (or key) in ``value`` holds NUL or a lone surrogate, else ''.

    Walks iteratively: a deeply nested document must not exhaust the stack.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return _("text cannot contain the NUL character (\\u0000)")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return _("text cannot contain unpaired surrogates (\\ud800-\\udfff)")
    return ""


def as_id(value):
    """A database id from JSON (int) or a URL/query string (ASCII digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        value = int(value) if re.fullmatch(r"[0-9]{1,19}", value) else None
    if isinstance(value, int) and 1 <= value <= MAX_ID:
        return value
    return None


def json_response(data, status=200):
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
