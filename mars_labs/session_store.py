"""Database sessions (Django's ``db`` engine), read with one hand-written statement.

Every signed-in request reads its session first. Django's engine reads it
with ``Session.objects.get(...)``, whose query compiling costs several times
the database's work for a primary-key lookup. Everything else (writes,
expiry, ``flush`` on logout, ``cycle_key`` on login) is Django's own.

Why the database and not the cache: a session row is the one place that
says whether a session is alive, so logging out, "sign out everywhere"
(deleting a learner's rows) and the idle timeout (learners/sessions.py,
which pushes ``expire_date``) take effect at once in every app process.
``cached_db`` would save this one query only with a shared cache (with the
default per-process cache a session logged out in one process would live on
in another's memory) and would leave a row deleted by hand alive until its
cache entry expired; ``signed_cookies`` cannot be revoked at all.
"""

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        model = self.model
        connection = connections[router.db_for_read(model)]
        now = model._meta.get_field("expire_date").get_db_prep_value(timezone.now(), connection)
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",
                           [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])
