from django.urls import path, re_path

from . import views

app_name = "api"

urlpatterns = [
    # MARS-labs-compatible (paths, fields and messages as MARS-labs had them)
    path("progress", views.progress_collection, name="progress"),
    # str, not int/uuid converters: a malformed id must get the API's JSON 404, not Django's HTML one.
    path("progress/<str:user_id>", views.progress_detail, name="progress-detail"),
    path("users", views.users, name="users"),
    path("update", views.update, name="update"),
    # MARS Labs' own
    path("steps/<str:step_id>/events", views.step_events, name="step-events"),
    path("me/progress", views.me_progress, name="me-progress"),
    path("learners/<str:learner_id>/progress", views.learner_progress_view, name="learner-progress"),
    path("openapi.json", views.openapi_json, name="openapi"),
    re_path(r"^(?P<rest>.*)$", views.unknown),
]
