from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .models import UserProfile


class LoginForm(AuthenticationForm):
    """Django's login form; autofocus and autocomplete hints for shared school computers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class ProfileForm(forms.ModelForm):
    """What a learner may change about themselves: level, language and class (1-12).

    The class decides which chapters count on the dashboard (their grade plus
    grade-less ones), so it is a required choice rather than a free number.
    """

    grade = forms.TypedChoiceField(
        label=_("Class"),
        choices=(),  # filled per request in __init__, so the labels follow the active language
        coerce=int,
        empty_value=None,
        help_text=_("Your subjects and chapters follow your class."),
    )

    class Meta:
        model = UserProfile
        fields = ["grade", "background_level", "preferred_language"]
        help_texts = {
            "background_level": _("How much you already know; it helps suggest what to do next."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grade"].choices = [("", _("Choose your class"))] + [
            (n, _("Class %(n)d") % {"n": n}) for n in range(1, 13)
        ]
