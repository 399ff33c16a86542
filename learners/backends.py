"""Django's ModelBackend, loading the learner's profile with the user in one query.

Every signed-in request needs the profile's ``preferred_language``
(learners.middleware.ProfileLanguageMiddleware), so the user row comes with its
profile through a join instead of a second query per request. On a request,
the session's own read brings both (mars_labs/session_store.py): while
Django's ``get_user`` runs for that request (``session_user``), the backend
takes them from there and asks the database nothing.
"""

import contextlib
import contextvars

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router

from mars_labs import rows

from .models import UserProfile

UserModel = get_user_model()


# The user and their profile in one hand-written statement: every signed-in request runs it,
# and the ORM's select_related(...).get() cost several times the database's work to compile.
_USER_SQL = f"""
SELECT {rows.columns(UserModel, "u")}, {rows.columns(UserProfile, "p")}
FROM {UserModel._meta.db_table} u LEFT JOIN {UserProfile._meta.db_table} p ON p.user_id = u.id
WHERE u.id = %s
"""


_session = contextvars.ContextVar("learners_backends_session", default=None)


@contextlib.contextmanager
def session_user(session):
    """While the block runs, ``get_user`` may take the user that ``session`` read with itself."""
    token = _session.set(session)
    try:
        yield
    finally:
        _session.reset(token)


class ProfileModelBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            pk = UserModel._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        session = _session.get()
        found = getattr(session, "user_row", None)
        if found is not None and found[0].pk == pk:
            user, profile = found
        else:
            db = router.db_for_read(UserModel)
            with connections[db].cursor() as cursor:
                cursor.execute(_USER_SQL, [pk])
                row = cursor.fetchone()
            if row is None:
                return None
            user, profile = rows.from_row(row, (UserModel, UserProfile), db)
        # As select_related("profile") leaves it: user.profile answers without a query (or raises).
        UserModel.profile.related.set_cached_value(user, profile)
        if profile is not None:
            UserProfile.user.field.set_cached_value(profile, user)
        return user if self.user_can_authenticate(user) else None
