"""The learner's own profile page (dashboard issue)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from progress.paths import rebuild_main_path

from .forms import ProfileForm
from .middleware import SUPPORTED_LANGUAGES
from .models import profile_of


def _own_profile(user):
    """The signed-in user's profile: only ever their own, so there is nothing in the URL to tamper with.

    A signal creates it with the user; ``profile_of`` covers users loaded from
    fixtures without one.
    """
    return profile_of(user)


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


def _safe_next(request):
    """Where to go after switching language: the page it was asked from, if it is one of ours."""
    for candidate in (request.POST.get("next"), request.META.get("HTTP_REFERER")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return "/"


@require_POST
def set_language(request):
    """The navigation's language switcher (POST, CSRF-protected).

    Sets the language cookie, as Django's set_language does, so the choice holds
    for an anonymous visitor; a signed-in user's profile is saved too, because
    their profile language decides every page they see. An unknown code is a
    400 that says which codes exist, and changes nothing.
    """
    language = request.POST.get("language", "")
    if language not in SUPPORTED_LANGUAGES:
        return HttpResponseBadRequest(
            _("Unknown language “%(code)s”. Choose one of: %(codes)s.") % {
                "code": language[:20], "codes": ", ".join(sorted(SUPPORTED_LANGUAGES)),
            },
            content_type="text/plain; charset=utf-8",
        )
    if request.user.is_authenticated:
        profile = _own_profile(request.user)
        if profile.preferred_language != language:
            profile.preferred_language = language
            profile.save(update_fields=["preferred_language", "updated_at"])
    translation.activate(language)
    return _remember_language(redirect(_safe_next(request)), language)
