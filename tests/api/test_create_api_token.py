"""manage.py create_api_token: print the token once, store only its hash; --revoke."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from api.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


def test_creates_a_lab_token_and_prints_it_once(teacher):
    output = run("olabs", "--scope", "lab", "--user", "teacher")

    plain = output.strip().splitlines()[-1]
    token = ApiToken.objects.get(name="olabs")
    assert (token.scope, token.user, token.secret_hash) == ("lab", teacher, hash_token(plain))
    assert "not shown again" in output


def test_creates_a_learner_token(learner):
    run("asha-tablet", "--scope", "learner", "--user", "asha")

    assert ApiToken.objects.get(name="asha-tablet").user == learner


def test_learner_token_needs_a_user(db):
    with pytest.raises(CommandError, match="needs --user"):
        run("x", "--scope", "learner")
    assert not ApiToken.objects.exists()


def test_unknown_user_and_duplicate_names_are_refused(lab_token):
    with pytest.raises(CommandError, match="No user"):
        run("y", "--scope", "lab", "--user", "nobody")
    with pytest.raises(CommandError, match="exists already"):
        run("olabs", "--scope", "lab")


def test_dry_run_creates_nothing(db):
    assert "Would create" in run("z", "--scope", "lab", "--dry-run")
    assert not ApiToken.objects.exists()


def test_revoke(lab_token):
    assert "Revoked" in run("olabs", "--revoke")
    assert ApiToken.objects.get().is_revoked
    assert "already revoked" in run("olabs", "--revoke")


def test_revoke_unknown_is_an_error(db):
    with pytest.raises(CommandError, match="No token"):
        run("ghost", "--revoke")
