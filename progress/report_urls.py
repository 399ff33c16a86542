"""Staff report pages under /reports/ (teacher issue)."""

from django.urls import path  # noqa: F401

app_name = "reports"

urlpatterns: list = []
