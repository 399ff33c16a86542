"""The home page ``/``: the student dashboard, or a staff start page. Thin: progress/dashboard.py assembles."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from progress.dashboard import dashboard_response


@login_required
def home(request):
    """A learner's dashboard; staff (teachers, admins) get links to where their work is instead."""
    if request.user.is_staff:
        return render(request, "progress/staff_home.html")
    return dashboard_response(request)
