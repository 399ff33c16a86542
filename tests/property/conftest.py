"""Shared pieces for the hostile-input property tests (hypothesis).

Every test here drives a real entry point (a view or API call through the
test client, a management command through call_command, or the validators the
admin, importers and API share) with generated input and asserts the same
three things: never a 5xx or an unexpected exception, a clear 4xx / error
message for bad input, and an unchanged database when the input is refused.

Each example runs inside a savepoint that is rolled back afterwards
(``rolled_back``), so examples do not see each other's writes.
"""

import contextlib

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from api.models import ApiEvent
from curriculum.models import Chapter, LearningStep
from learners.models import Classroom, UserProfile
from progress.models import LearningPath, LearningProgress, Progress, ProgressEvent

User = get_user_model()


def fuzz_settings(max_examples):
    """Modest, reproducible runs: the property suite must stay well under 40 s per database."""
    return settings(
        max_examples=max_examples, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )


# Rows and values a refused input must leave exactly as they were.
SNAPSHOT_MODELS = (User, UserProfile, Classroom.learners.through, Chapter, LearningStep, LearningProgress,
                   ProgressEvent, Progress, LearningPath, ApiEvent)


def snapshot():
    """Every row of the models a learner-facing write can touch, as plain values."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in SNAPSHOT_MODELS}


@contextlib.contextmanager
def rolled_back():
    """Run one example in a savepoint and undo it, so the next example starts from the same data."""
    with transaction.atomic():
        cache.clear()  # rate-limit counters, quiz results in cached sessions
        yield
        transaction.set_rollback(True)


# --- JSON-ish values -----------------------------------------------------------------

# Text that has broken parsers before: Unicode digits, a trailing newline, NUL, RTL marks, huge digit runs.
TRICKY_TEXT = st.sampled_from([
    "", " ", "0", "1", "12", "012", "12\n", " 12", "²", "١٢", "１２", "12.0", "-1", "1e3", "NaN", "Infinity",
    "9" * 5000, "\x00", "\u202e", "phy", "PHY", "phy\n", "Ohm's Law", "ohms law", "<script>alert(1)</script>",
    "javascript:alert(1)", "../../etc/passwd", "' OR 1=1 --", "𝟙𝟚", "ß", "İ",
])
TEXT = st.one_of(TRICKY_TEXT, st.text(max_size=30))
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, 12, 13, 60, 86400, 86401, 2**63, -(2**63)]),
    # Over 4300 digits: Python will not print it (built lazily: hypothesis prints its strategies).
    st.sampled_from([1, -1]).map(lambda sign: sign * 10**5000),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)
# What JSON text can actually carry (json.loads gives no NaN/Infinity to a strict parser, and PostgreSQL no NUL).
FINITE_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT.filter(lambda t: "\x00" not in t),
)
FINITE_JSON = st.recursive(
    FINITE_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(TEXT.filter(lambda t: "\x00" not in t), children, max_size=4),
    ),
    max_leaves=12,
)


@pytest.fixture(autouse=True)
def _unlimited_api(settings):
    settings.API_RATE_LIMIT = "1000000/minute"  # hypothesis sends far more than 600 requests a minute
