"""The learner's own profile page (dashboard issue)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from progress.paths import rebuild_main_path

from .forms import ProfileForm
from .models import UserProfile


def _own_profile(user):
    """The signed-in user's profile: only ever their own, so there is nothing in the URL to tamper with.

    A signal creates it with the user; get_or_create covers users loaded from
    fixtures without one.
    """
    return UserProfile.objects.get_or_create(user=user)[0]


def _remember_language(response, language):
    """Make the preferred language the interface language, as Django's set_language view would."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language,
        max_age=settings.LANGUAGE_COOKIE_AGE, path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN, secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY, samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@login_required
def profile(request):
    """Edit class, background level and preferred language; saving goes back to the dashboard."""
    profile = _own_profile(request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        if {"grade", "background_level"} & set(form.changed_data):
            # A new class or level means a different path (issue: learning paths).
            rebuild_main_path(learner=request.user)
        if "grade" in form.changed_data:
            messages.success(request, _("Profile saved. Your dashboard now follows class %(grade)d.") % {
                "grade": profile.grade,
            })
        else:
            messages.success(request, _("Profile saved."))
        return _remember_language(redirect("progress:home"), profile.preferred_language)
    return render(request, "learners/profile.html", {"form": form, "profile": profile})
