import pytest
from django.core.management import call_command
from django.db import transaction


@pytest.fixture(scope="class")
def demo_school(django_db_setup, django_db_blocker):
    """The seeded demo school (seed_demo), shared by a test class and rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", verbosity=0)
        yield
        transaction.set_rollback(True)
