"""Database sessions (Django's ``db`` engine) that bring their signed-in user along.

Every signed-in request starts by reading its session and then its user.
Here both come from one hand-written statement: the session row
(``learners.Session``) names its user (``user_id``, set from the session's
own data whenever it is saved), and the read joins the user and their
profile, as ``learners.backends.ProfileModelBackend`` would read them.
Django's ``get_user`` still decides whether that user is signed in (the
backend, the password hash, ``is_active``): the backend takes the user from
here instead of asking again (``learners.backends.session_user``). Writes,
expiry, ``flush`` on logout and ``cycle_key`` on login are Django's own.

Why the database and not the cache: a session row is the one place that
says whether a session is alive, so logging out, "sign out everywhere"
(deleting a learner's rows) and the idle timeout (learners/sessions.py,
which pushes ``expire_date``) take effect at once in every app process.
``cached_db`` would save the read only with a shared cache (with the
default per-process cache a session logged out in one process would live on
in another's memory) and would leave a row deleted by hand alive until its
cache entry expired; ``signed_cookies`` cannot be revoked at all.
"""

import functools

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.utils import timezone

from mars_labs import rows


@functools.cache  # built on first use: the models are not loaded when this module is imported
def _session_sql():
    from learners.models import Session, UserProfile

    user = Session.user.field.related_model
    return f"""SELECT s.session_data, {rows.columns(user, "u")}, {rows.columns(UserProfile, "p")}
FROM {Session._meta.db_table} s
LEFT JOIN {user._meta.db_table} u ON u.id = s.user_id
LEFT JOIN {UserProfile._meta.db_table} p ON p.user_id = u.id
WHERE s.session_key = %s AND s.expire_date > %s
"""


class SessionStore(db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        # (user, profile) read with the session: None until loaded, or when it names no user.
        self.user_row = None

    @classmethod
    def get_model_class(cls):
        from learners.models import Session

        return Session

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        user_field = self.model.user.field
        try:
            instance.user_id = user_field.to_python(data.get(SESSION_KEY))
        except ValidationError:  # not a user id of this user model: the session names no user
            instance.user_id = None
        return instance

    def _get_session_from_db(self):
        from learners.models import UserProfile

        model = self.model
        user_model = model.user.field.related_model
        connection = connections[router.db_for_read(model)]
        now = model._meta.get_field("expire_date").get_db_prep_value(timezone.now(), connection)
        with connection.cursor() as cursor:
            cursor.execute(_session_sql(), [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        user, profile = rows.from_row(row[1:], (user_model, UserProfile), connection.alias)
        if user is not None:
            self.user_row = (user, profile)
        return model(session_key=self.session_key, session_data=row[0])


