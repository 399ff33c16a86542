"""API credentials and the simulation events the API has accepted."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import TokenScope, Verb

TOKEN_PREFIX = "mars_"


def hash_token(plain):
    """SHA-256 of the whole token. The secret part is 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(plain.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once.

    The token reads ``mars_<prefix>_<secret>``: ``prefix`` finds the row with
    one indexed lookup, the hash of the whole token proves it.
    """

    name = models.CharField(_("name"), max_length=100, unique=True,
                            help_text=_("What uses it, e.g. “olabs-physics-sims”."))
    scope = models.CharField(_("scope"), max_length=16, choices=TokenScope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="api_tokens",
        help_text=_("Learner scope: the learner it acts as. Lab scope: the person responsible for it (optional)."),
    )
    # unique: also the index behind the per-request lookup.
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(_("SHA-256 of the token"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False,
                                        help_text=_("Updated at most once a minute."))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=TokenScope.values), name="api_token_scope_valid"),
            models.CheckConstraint(
                condition=~Q(scope=TokenScope.LEARNER) | Q(user__isnull=False), name="api_token_learner_has_user"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_scope_display()})"

    def clean(self):
        if self.scope == TokenScope.LEARNER and self.user_id is None:
            raise ValidationError({"user": _("A learner token needs the learner it acts as.")})

    @classmethod
    def issue(cls, *, name, scope, user=None):
        """Create a token; returns ``(token, plain)``. ``plain`` exists only here: show it once."""
        prefix = secrets.token_hex(6)
        plain = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(name=name, scope=scope, user=user, prefix=prefix, secret_hash=hash_token(plain))
        return token, plain

    @staticmethod
    def prefix_of(plain):
        """The lookup prefix of a presented token, or None when it is not shaped like one of ours."""
        if not plain.startswith(TOKEN_PREFIX):
            return None
        prefix, sep, secret = plain[len(TOKEN_PREFIX):].partition("_")
        return prefix if sep and prefix and secret else None

    def matches(self, plain):
        return hmac.compare_digest(self.secret_hash, hash_token(plain))

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    def revoke(self, *, now=None):
        """Revoke for good (a revoked token never works again; issue a new one)."""
        if self.revoked_at is None:
            self.revoked_at = now or timezone.now()
            self.save(update_fields=["revoked_at"])


class ApiEvent(models.Model):
    """A simulation event the API accepted, kept so the same event id is applied once.

    Written in the same transaction as the engine's change, so there is never
    an event without its effect or an effect without its event. ``response``
    is the answer given the first time; a repeated id gets it again.
    """

    # unique: the idempotency key and its index.
    event_id = models.UUIDField(_("event id"), unique=True)
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_events")
    # SET_NULL: a deleted step must not make an old event id usable again.
    step = models.ForeignKey("curriculum.LearningStep", on_delete=models.SET_NULL, null=True, related_name="+")
    verb = models.CharField(_("verb"), max_length=16, choices=Verb.choices)
    score = models.FloatField(_("score"), null=True, blank=True)
    duration = models.DurationField(_("duration"), null=True, blank=True)
    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text=_("The signed-in user who sent it, or the token's owner."),
    )
    response = models.JSONField(_("response"), default=dict)
    created_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("simulation event")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(verb__in=Verb.values), name="api_event_verb_valid"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100), name="api_event_score_0_to_100"
            ),
        ]

    def __str__(self):
        return f"{self.event_id} {self.verb}"

    def same_as(self, *, learner_id, step_id, verb, score, duration):
        """Whether a repeated post describes this very event (else the id was reused for another one)."""
        return (self.learner_id, self.step_id, self.verb, self.score, self.duration) == (
            learner_id, step_id, verb, None if score is None else float(score), duration,
        )
