"""Sessions on shared school computers: signed out after a spell of inactivity.

Django's database sessions expire ``SESSION_COOKIE_AGE`` seconds after they
were last *saved*, and a session is saved only when something in it changes.
``SESSION_SAVE_EVERY_REQUEST`` would turn that into an idle timeout, at the
price of one session write on every request (a learner's step page sends a
heartbeat every few seconds). This middleware saves a signed-in session at
most once every ``SESSION_REFRESH_SECONDS`` instead: the idle timeout is then
between ``SESSION_COOKIE_AGE - SESSION_REFRESH_SECONDS`` and
``SESSION_COOKIE_AGE``, for one write per learner per few minutes.

It only looks at a session the request has already loaded (a signed-in page,
a heartbeat), so API calls with a token, ``/healthz`` and anonymous pages
never load one for it.
"""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

REFRESHED_AT = "_refreshed_at"


@receiver(user_logged_in, dispatch_uid="learners.sessions.mark_fresh")
def mark_fresh(sender, request, user, **kwargs):
    """A login saves the session anyway: start the refresh interval there, so the next request writes nothing."""
    session = getattr(request, "session", None)
    if session is not None:
        session[REFRESHED_AT] = int(time.time())


class IdleSessionMiddleware:
    """Keep a signed-in session that is in use alive; let an unused one expire (see the module docstring).

    Place it after SessionMiddleware and AuthenticationMiddleware: it works on
    the way out, before SessionMiddleware saves the session.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not session.accessed or session.get(SESSION_KEY) is None:
            return response
        now = int(time.time())
        if session.modified or now - session.get(REFRESHED_AT, 0) >= settings.SESSION_REFRESH_SECONDS:
            session[REFRESHED_AT] = now  # marks the session modified: SessionMiddleware saves it with a new expiry
        return response
