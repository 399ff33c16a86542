from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import ApiEvent, ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with ``manage.py create_api_token`` (which shows the secret once); here
    they can be inspected and revoked. The hash is read-only and the secret is never stored."""

    list_display = ["name", "scope", "user", "prefix", "created_at", "last_used_at", "state"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["prefix", "secret_hash", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False  # `manage.py create_api_token NAME --scope lab|learner [--user USERNAME]`

    @admin.display(description=_("state"), ordering="revoked_at")
    def state(self, token):
        if token.revoked_at:
            return format_html('<span style="color:#a00">{}</span>', _("revoked"))
        return _("active")

    @admin.action(description=_("Revoke selected tokens (they stop working at once, for good)"))
    def revoke_tokens(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, ngettext("Revoked %d token.", "Revoked %d tokens.", count) % count,
                          messages.SUCCESS)


@admin.register(ApiEvent)
class ApiEventAdmin(admin.ModelAdmin):
    """Read-only: what simulations reported, and what the API answered."""

    list_display = ["created_at", "learner", "verb", "score", "step", "token"]
    list_filter = ["verb"]
    list_select_related = ["learner", "step", "token"]
    search_fields = ["event_id", "learner__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
