from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from learners.forms import LoginForm

from . import views

admin.site.site_header = "MARS Labs administration"
admin.site.site_title = "MARS Labs"
admin.site.index_title = "Curriculum, classes and progress"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("reports/", include("progress.report_urls")),
    path("", include("learners.urls")),
    path("", include("progress.urls")),
]
