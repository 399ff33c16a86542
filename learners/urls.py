from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import views

app_name = "learners"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    # Django's views: saving keeps this session (update_session_auth_hash) and the new
    # password hash signs out every other session of the user (tests/security/test_sessions.py).
    path(
        "profile/password/",
        auth_views.PasswordChangeView.as_view(
            template_name="learners/password_change.html", success_url=reverse_lazy("learners:password-done"),
        ),
        name="password",
    ),
    path(
        "profile/password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="learners/password_change_done.html"),
        name="password-done",
    ),
    path("language/", views.set_language, name="set_language"),
]
