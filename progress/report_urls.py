"""Staff report pages under /reports/ (teacher issue): progress/views/reports.py."""

from django.urls import path

from .views import reports

app_name = "reports"

urlpatterns = [
    path("", reports.index, name="index"),
    path("classrooms/<int:classroom_id>/", reports.classroom_matrix, name="matrix"),
    path("classrooms/<int:classroom_id>/progress.csv", reports.classroom_matrix_csv, name="matrix-csv"),
    path("classrooms/<int:classroom_id>/attention/", reports.classroom_attention, name="attention"),
    path("classrooms/<int:classroom_id>/attention.csv", reports.classroom_attention_csv, name="attention-csv"),
    path("learners/<int:learner_id>/", reports.learner_detail, name="learner"),
    path("actions/step/", reports.step_action, name="step-action"),
]
