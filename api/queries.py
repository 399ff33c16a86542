"""Query helpers for the API's hot paths."""

from django.contrib.auth import get_user_model
from django.db import connections, router

from curriculum.models import LearningStep
from mars_labs import rows

from .enums import TokenScope
from .models import ApiEvent, ApiToken


def one(queryset):
    """The first row of ``queryset`` or None: ``.first()`` without its ORDER BY.

    For lookups by a unique key, where ``.first()``'s ordering (models' Meta.ordering
    or the pk) only costs query compilation time on the API's hot path.
    """
    return next(iter(queryset.order_by()[:1]), None)


# Everything POST /steps/<uuid>/events looks up before it writes, in one statement:
# the step, the ApiEvent already stored under the event id (a retry is answered from
# it without another query), whether ``learner`` is a learner
# (views.learners(): active, neither staff nor superuser) and whether the step is
# in their class (Chapter.objects.for_grade: active, their grade or none). Written
# by hand because, built with the ORM, these lookups cost more CPU than the
# engine's whole write; tests/api/test_event_queries.py holds it to the ORM's answers.
_EVENT_TARGET_SQL = f"""
SELECT {rows.columns(LearningStep, "s")}, {rows.columns(ApiEvent, "e")},
    EXISTS (SELECT 1 FROM learners_user u
             WHERE u.id = %(learner)s AND u.is_active = %(true)s AND u.is_staff = %(false)s
               AND u.is_superuser = %(false)s) AS is_learner,
    EXISTS (SELECT 1 FROM curriculum_chapter c
             WHERE c.id = s.chapter_id AND c.is_active = %(true)s
               AND (c.grade IS NULL
                    OR c.grade = (SELECT p.grade FROM learners_userprofile p WHERE p.user_id = %(learner)s))
           ) AS in_class
FROM curriculum_learningstep s
LEFT JOIN api_apievent e ON e.event_id = %(event)s
WHERE s.id = %(step)s
"""


def event_target(*, step_id, learner_id, event_id):
    """The LearningStep ``step_id`` (None if there is none) with what an event about it needs to know.

    ``seen``: the ApiEvent stored under ``event_id``, or None; ``is_learner``:
    user ``learner_id`` is an active learner; ``in_class``: the step's chapter
    is open to that learner's class. One query.
    """
    connection = connections[router.db_for_read(LearningStep)]
    params = {
        "step": LearningStep._meta.pk.get_db_prep_value(LearningStep._meta.pk.to_python(step_id), connection),
        "event": ApiEvent._meta.get_field("event_id").get_db_prep_value(event_id, connection),
        "learner": learner_id,
        "true": True, "false": False,  # "= true", not a bare column: SQLite plans it better
    }
    with connection.cursor() as cursor:
        cursor.execute(_EVENT_TARGET_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    step, step.seen = rows.from_row(row[:-2], (LearningStep, ApiEvent), connection.alias)
    step.is_learner, step.in_class = (bool(value) for value in row[-2:])  # SQLite answers 0/1
    return step


# The token behind a presented prefix (unique, indexed) and whether its user is active.
_TOKEN_SQL = """
SELECT t.*, u.is_active AS user_is_active
FROM api_apitoken t LEFT JOIN learners_user u ON u.id = t.user_id
WHERE t.prefix = %(prefix)s
"""


def token_with_prefix(prefix):
    """The ApiToken with ``prefix`` (None if none), with ``user_is_active``: one query, no ORM compiling.

    A learner token's user is loaded on first use (it is the learner the
    request acts as). A lab token's user, the person responsible, only ever
    serves as an actor id, so it comes as a deferred User (fields load on use).
    """
    token = next(iter(ApiToken.objects.raw(_TOKEN_SQL, {"prefix": prefix})), None)
    if token is not None and token.scope == TokenScope.LAB and token.user_id is not None:
        token.user = get_user_model().from_db(token._state.db, ["id"], [token.user_id])
    return token
