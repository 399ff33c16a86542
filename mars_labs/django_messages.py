"""Django's own messages that MARS Labs pages show, so the project's Hindi catalogue covers them.

Django's Hindi catalogue is incomplete (and words it differently from ours:
"शब्दकूट" for password), and the project's LOCALE_PATHS catalogue wins over
Django's. Listing the exact Django 5.2 msgids here lets ``make messages`` pick
them up; nothing imports this module. Keep the text byte-identical to
Django's source (note the typographic apostrophes).
"""

from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_MESSAGES = (
    # django/contrib/auth/forms.py: the login and password-change forms
    gettext_noop("Username"),
    gettext_noop("Password"),
    gettext_noop("Old password"),
    gettext_noop("New password"),
    gettext_noop("New password confirmation"),
    gettext_noop("Enter the same password as before, for verification."),
    gettext_noop("The two password fields didn’t match."),
    gettext_noop("Your old password was entered incorrectly. Please enter it again."),
    gettext_noop(
        "Please enter a correct %(username)s and password. Note that both fields may be case-sensitive."
    ),
    gettext_noop("This account is inactive."),
    # django/contrib/auth/password_validation.py: help texts and errors under the new password
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("Your password can’t be entirely numeric."),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("This password is too common."),
    gettext_noop("This password is entirely numeric."),
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        "min_length",
    ),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
    # django/forms/fields.py
    gettext_noop("This field is required."),
)
