from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone


class Clock:
    """A settable ``timezone.now`` for the engine (freezegun is not installed)."""

    def __init__(self):
        self.now = timezone.now().replace(microsecond=0)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    """The engine's clock, under the test's control: ``clock.advance(15)``."""
    clock = Clock()
    with mock.patch("progress.engine.timezone.now", new=clock):
        yield clock
