"""manage.py create_learners: accounts from a CSV, all rows checked first, one-time passwords."""

import csv
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import ClassroomFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()

HEADER = "username,first_name,last_name,age,grade,background_level\n"


def write(tmp_path, body, header=HEADER):
    path = tmp_path / "learners.csv"
    path.write_text(header + body, encoding="utf-8")
    return str(path)


def run(path, **options):
    out = StringIO()
    call_command("create_learners", path, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def passwords_from(out):
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("One-time passwords"))) + 2
    return dict(line.split() for line in lines[start:] if line.startswith("  "))


def test_creates_learners_with_profiles_classroom_and_one_time_passwords(tmp_path):
    room = ClassroomFactory(name="12-A")
    path = write(tmp_path, "asha,Asha,Verma,16,12,advanced\nravi,Ravi,Kumar,,,\n")

    out = run(path, classroom="12-A")

    asha, ravi = User.objects.get(username="asha"), User.objects.get(username="ravi")
    assert (asha.first_name, asha.age, asha.profile.grade, asha.profile.background_level) == (
        "Asha", 16, 12, "advanced")
    assert (ravi.age, ravi.profile.grade, ravi.profile.background_level) == (None, None, "beginner")
    assert set(room.learners.all()) == {asha, ravi}
    passwords = passwords_from(out)
    assert set(passwords) == {"asha", "ravi"}
    assert asha.check_password(passwords["asha"])
    assert out.strip().endswith("Created 2 learners in 12-A.")


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_created(tmp_path):
    UserFactory(username="taken")
    path = write(tmp_path, "\n".join([
        "asha,Asha,Verma,16,12,beginner",   # line 2: fine
        ",No,Name,,,",                      # line 3
        "bad name!,B,,abc,13,expert",       # line 4
        "Asha,Again,,,,",                   # line 5: same as line 2 (case ignored)
        "TAKEN,T,,,,",                      # line 6: exists already
    ]) + "\n")

    with pytest.raises(CommandError) as raised:
        run(path)

    message = str(raised.value)
    assert message.startswith(f"{path} has 7 problems, so no learner was created:")
    for expected in (
        f"{path} line 3: username is empty",
        f"{path} line 4: username 'bad name!': Enter a valid username.",
        f"{path} line 4: age must be a whole number from 1 to 120, not 'abc'",
        f"{path} line 4: grade must be a whole number from 1 to 12, not '13'",
        f"{path} line 4: background_level must be one of beginner, intermediate, advanced, not 'expert'",
        f"{path} line 5: username 'Asha' is already on line 2",
        f"{path} line 6: a learner with the username 'TAKEN' already exists",
    ):
        assert any(line.strip().startswith(expected) for line in message.splitlines()), expected
    assert User.objects.count() == 1


def test_running_the_same_file_twice_reports_already_exists_for_each_row(tmp_path):
    path = write(tmp_path, "asha,Asha,Verma,16,12,\nravi,Ravi,Kumar,17,12,\n")
    run(path)

    with pytest.raises(CommandError) as raised:
        run(path)

    assert "line 2: a learner with the username 'asha' already exists" in str(raised.value)
    assert "line 3: a learner with the username 'ravi' already exists" in str(raised.value)
    assert User.objects.count() == 2


def test_dry_run_checks_and_creates_nothing(tmp_path):
    out = run(write(tmp_path, "asha,Asha,Verma,16,12,\n"), dry_run=True)

    assert not User.objects.exists()
    assert "would create asha" in out
    assert "Nothing was written." in out


def test_output_file_gets_the_passwords_instead_of_the_terminal(tmp_path):
    output = tmp_path / "passwords.csv"

    out = run(write(tmp_path, "asha,Asha,Verma,16,12,\n"), output=str(output))

    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [r["username"] for r in rows] == ["asha"]
    assert User.objects.get(username="asha").check_password(rows[0]["password"])
    assert rows[0]["password"] not in out


def test_existing_output_file_is_refused_before_anything_is_created(tmp_path):
    output = tmp_path / "passwords.csv"
    output.write_text("keep me")

    with pytest.raises(CommandError, match="already exists"):
        run(write(tmp_path, "asha,Asha,Verma,16,12,\n"), output=str(output))

    assert not User.objects.exists()
    assert output.read_text() == "keep me"


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [("first_name,last_name\n", "Asha,Verma\n", "line 1: the header must name the columns"),
     ("username,shoe_size\n", "asha,9\n", "unknown: shoe_size"),
     (HEADER, "", "has no learners in it")],
)
def test_bad_headers_and_empty_files(tmp_path, header, body, expected):
    with pytest.raises(CommandError, match=expected):
        run(write(tmp_path, body, header=header))


def test_unknown_classroom_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="There is no classroom named '12-Z'"):
        run(write(tmp_path, "asha,,,,,\n"), classroom="12-Z")
