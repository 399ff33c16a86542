"""Who is calling the API: a bearer token or the browser session.

A request that carries an ``Authorization`` header is judged by that header
alone (never by a session cookie that happens to ride along); a bad header is
a 401 even for a signed-in browser.
"""

import datetime
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from .enums import TokenScope
from .models import ApiToken
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


def token_for(plain, *, now=None):
    """The live ApiToken for a presented token string (one query), else AuthError."""
    prefix = ApiToken.prefix_of(plain)
    token = token_with_prefix(prefix) if prefix else None
    if token is None or not token.matches(plain):
        raise AuthError(_("invalid API token"))
    if token.is_revoked:
        raise AuthError(_("this API token has been revoked"))
    if token.user_id is not None and not token.user_is_active:
        raise AuthError(_("this API token's user is deactivated"))
    touch(token, now=now)
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
