from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from learners.forms import LoginForm

from . import bench_views, views

admin.site.site_header = _("MARS Labs administration")
admin.site.site_title = _("MARS Labs")
admin.site.index_title = _("Curriculum, classes and progress")

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

# bench/run.py's baseline page: mounted only when MARS_BENCH_BASELINE=1 (never in production).
urlpatterns = bench_views.urlpatterns() + urlpatterns
