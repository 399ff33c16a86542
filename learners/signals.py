from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from mars_labs.audit import audit

from .models import UserProfile


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile_for_new_user(sender, instance, created, raw=False, **kwargs):
    # get_or_create, not create: a fixture load (raw) may bring its own profile.
    if created and not raw:
        UserProfile.objects.get_or_create(user=instance)


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    audit("login", user=user.get_username(), ip=_client_ip(request))


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    # ``credentials`` holds the password too: take the username only.
    audit("login_failed", user=credentials.get("username", ""), ip=_client_ip(request))


@receiver(user_locked_out)
def audit_locked_out(sender, request, username, ip_address, **kwargs):
    audit("locked_out", user=username, ip=ip_address)


def _client_ip(request):
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""
