"""``manage.py create_learners``: a CSV creates every learner it lists, or none of them.

Generated files mix good rows with the mistakes people make in spreadsheets
(Unicode digits, stray cells, duplicate names in other cases, NUL bytes,
quoted newlines, names that exist already) and with text that is not CSV at
all. Properties: the command succeeds or raises CommandError naming the file
(never another exception); on success exactly the listed learners exist, with
their values; on failure nothing at all changed.
"""

import csv
import io
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from hypothesis import event, given
from hypothesis import strategies as st

from tests.factories import ClassroomFactory, UserFactory

from .conftest import TEXT, fuzz_settings, rolled_back, snapshot

pytestmark = pytest.mark.django_db
User = get_user_model()

HEADER = ["username", "first_name", "last_name", "age", "grade", "background_level"]
GOOD_ROW = st.fixed_dictionaries({
    "username": st.from_regex(r"[a-z][a-z0-9_.]{2,12}", fullmatch=True),
    "first_name": st.sampled_from(["Asha", "राहुल", "Zoë", ""]),
    "last_name": st.sampled_from(["Verma", "O'Brien", "", "Smith, Jr."]),
    "age": st.one_of(st.just(""), st.integers(1, 120).map(str)),
    "grade": st.one_of(st.just(""), st.integers(1, 12).map(str)),
    "background_level": st.sampled_from(["", "beginner", "Intermediate", "advanced"]),
})
# str.isdigit() says yes to all of these; int() refuses the first and the last, and reads the others.
UNICODE_DIGITS = st.sampled_from(["²", "١٢", "１２", "𝟙𝟚", "9" * 5000])
JUNK = {
    "username": st.one_of(st.sampled_from(["", "bad name!", "TAKEN", "taken", "a" * 151, "x\x00y", "ß", "é"]),
                          TEXT),
    "first_name": st.one_of(st.sampled_from(["a" * 151, "Ann\x00", "line\nbreak", "=cmd|' /C calc'!A0"]), TEXT),
    "last_name": TEXT,
    "age": st.one_of(st.sampled_from(["0", "121", "12.5", "-3", " 16 ", "abc"]), UNICODE_DIGITS, TEXT),
    "grade": st.one_of(st.sampled_from(["0", "13", "12\n"]), UNICODE_DIGITS, TEXT),
    "background_level": st.one_of(st.sampled_from(["expert", "BEGINNER", " advanced "]), TEXT),
}


@st.composite
def csv_rows(draw):
    row = draw(GOOD_ROW)
    for name in draw(st.sets(st.sampled_from(HEADER), max_size=2)):
        row[name] = draw(JUNK[name])
    cells = [row[name] for name in HEADER]
    extra = draw(st.sampled_from([[], [], [], ["stray"], None]))  # None: a short row
    return cells[:4] if extra is None else cells + extra


@st.composite
def csv_files(draw):
    """(file text, the rows as written) -- or junk text that is not the expected CSV at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.text(max_size=60), st.sampled_from(["", "\ufeff", "username\n", "a,b\n1,2\n"]))), []
    rows = draw(st.lists(csv_rows(), min_size=1, max_size=4))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(HEADER)
    writer.writerows(rows)
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + buffer.getvalue(), rows


@pytest.fixture
def existing(db):
    UserFactory(username="taken")
    return ClassroomFactory(name="12-A")


@fuzz_settings(60)
@given(file=csv_files(), dry_run=st.booleans())
def test_create_learners_creates_all_rows_or_nothing(existing, tmp_path_factory, file, dry_run):
    text, rows = file
    path = tmp_path_factory.mktemp("csv") / "learners.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with rolled_back():
        before = snapshot()
        try:
            call_command("create_learners", str(path), classroom="12-A", dry_run=dry_run,
                         stdout=StringIO(), stderr=StringIO())
        except CommandError as error:
            event("refused")
            assert str(path) in str(error)
            assert snapshot() == before
            return
        event("dry run" if dry_run else "created")
        if dry_run:
            assert snapshot() == before
            return
        usernames = [row[0].strip() for row in rows]
        created = User.objects.filter(username__in=usernames)
        assert sorted(created.values_list("username", flat=True)) == sorted(usernames)
        assert User.objects.count() == len(before["learners.User"]) + len(rows)
        assert existing.learners.count() == len(rows)
        for row in rows:
            user = User.objects.select_related("profile").get(username=row[0].strip())
            assert (user.first_name, user.age) == (row[1].strip(), int(row[3]) if row[3].strip() else None)
            assert user.profile.grade == (int(row[4]) if len(row) > 4 and row[4].strip() else None)
