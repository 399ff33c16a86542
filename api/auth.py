"""Who is calling the API: a bearer token or the browser session.

A request that carries an ``Authorization`` header is judged by that header
alone (never by a session cookie that happens to ride along); a bad header is
a 401 even for a signed-in browser.
"""

import datetime
import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from .enums import TokenScope
from .models import ApiToken, hash_token
from .queries import token_with_prefix

# last_used_at is for people ("is this token still used?"): a minute is precise
# enough, and a write per request would cost more than the request itself.
TOUCH_EVERY = datetime.timedelta(minutes=1)


class AuthError(Exception):
    """The credentials presented are not acceptable (401)."""


@dataclass(frozen=True)
class Principal:
    """The caller. ``user`` is the session user, or the token's user (learner scope: the learner;
    lab scope: the person responsible, possibly None)."""

    user: object | None
    token: ApiToken | None = None

    @property
    def is_lab(self):
        return self.token is not None and self.token.scope == TokenScope.LAB

    @property
    def is_staff(self):
        """A teacher or admin signed in with the browser. A learner token never counts as staff."""
        return self.token is None and self.user is not None and self.user.is_staff

    @property
    def may_act_for_others(self):
        return self.is_lab or self.is_staff

    @property
    def own_learner(self):
        """The user whose data is "mine" (None for a lab token, which acts for nobody in particular)."""
        return None if self.is_lab else self.user

    def actor_for(self, learner):
        """ProgressEvent.actor for a write on ``learner``'s progress: nobody when learners act for
        themselves, else the caller (a teacher, or the lab token's owner, possibly None)."""
        return None if self.user is not None and self.user.pk == learner.pk else self.user

    @property
    def rate_key(self):
        return f"token:{self.token.pk}" if self.token is not None else f"user:{self.user.pk}"


def authenticate(request, *, now=None):
    """The Principal behind ``request``, None when anonymous. Raises AuthError for a bad token."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        scheme, _sep, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError(_("send the token as “Authorization: Bearer <token>”"))
        token = token_for(value.strip(), now=now)
        return Principal(user=token.user, token=token)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Principal(user=user)
    return None


# Tokens this process checked against the database lately: SHA-256 of the presented
# token -> (ApiToken, monotonic expiry). A simulation sends many events a second with
# the same token, and the lookup was a query on every one of them. The price: a token
# revoked (or whose user is deactivated) elsewhere keeps working in this process for
# up to API_TOKEN_CACHE_SECONDS (default 5; 0 turns the memory off). In the process
# that saves the token or a user the memory is dropped at once (the signals below).
# Only tokens that passed every check are kept, under the hash of the whole token,
# so a wrong secret never matches an entry and still costs its query and a 401.
_verified = {}
_VERIFIED_MAX = 1000  # tokens are few; a bound keeps a flood of distinct good tokens from growing it


def forget_verified_tokens(**_kwargs):
    """Drop the memory of checked tokens (a token or a user changed in this process)."""
    _verified.clear()


post_save.connect(forget_verified_tokens, sender=ApiToken, dispatch_uid="api-forget-tokens-on-token-save")
post_save.connect(forget_verified_tokens, sender=get_user_model(), dispatch_uid="api-forget-tokens-on-user-save")


def token_for(plain, *, now=None):
    """The live ApiToken for a presented token string, else AuthError.

    One query, or none when this process checked the same token less than
    API_TOKEN_CACHE_SECONDS ago (see ``_verified``).
    """
    digest = hash_token(plain)
    remembered = _verified.get(digest)
    if remembered is not None and remembered[1] > time.monotonic():
        token = remembered[0]
    else:
        token = _checked_token(plain, digest)
        seconds = getattr(settings, "API_TOKEN_CACHE_SECONDS", 5)
        if seconds > 0:
            if len(_verified) >= _VERIFIED_MAX:
                _verified.clear()
            _verified[digest] = (token, time.monotonic() + seconds)
    touch(token, now=now)
    return token


def _checked_token(plain, digest):
    prefix = ApiToken.prefix_of(plain)
    token = token_with_prefix(prefix) if prefix else None
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        raise AuthError(_("invalid API token"))
    if token.is_revoked:
        raise AuthError(_("this API token has been revoked"))
    if token.user_id is not None and not token.user_is_active:
        raise AuthError(_("this API token's user is deactivated"))
    return token


def touch(token, *, now=None):
    """Record that ``token`` was used, writing at most once a minute per token (across processes
    when the cache is shared; the stored value bounds it within one process either way)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    if not cache.add(f"api-token-touched:{token.pk}", 1, timeout=int(TOUCH_EVERY.total_seconds())):
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
