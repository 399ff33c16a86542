from django.urls import path

from .views import dashboard, learning, paths

app_name = "progress"

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("path/", paths.my_path, name="path"),
    path("path/skip/<uuid:step_id>", paths.skip_on_path, name="path-skip"),
    path("subjects/<slug:code>/", learning.subject_detail, name="subject"),
    path("chapters/<slug:slug>/", learning.chapter_detail, name="chapter"),
    path("steps/<uuid:step_id>/", learning.step_detail, name="step"),
    path("steps/<uuid:step_id>/heartbeat", learning.heartbeat, name="step-heartbeat"),
    path("steps/<uuid:step_id>/complete", learning.mark_complete, name="step-complete"),
    path("steps/<uuid:step_id>/quiz", learning.quiz_submit, name="step-quiz"),
    path("steps/<uuid:step_id>/answer", learning.answer_submit, name="step-answer"),
    path("steps/<uuid:step_id>/report", learning.simulation_report, name="step-report"),
]
