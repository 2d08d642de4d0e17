"""Auto-reply rules and their runs, the FAQ, and the automated answers staff rate."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from messaging.automation.rules import AutoReplyAction, AutoReplyTrigger, rule_problems
from messaging.channels.models import MessageTemplate
from messaging.sending.models import Message


class AutoReplyRule(models.Model):
    """When an inbound message matches `trigger`, do `action`. Rules run in `order` (lowest
    first) after the built-in Click-to-Unlock rule; `stop_processing` ends the evaluation;
    `fallback` rules run last, after the responders, and only if nothing replied. Whatever
    matches, at most one automated reply goes out per inbound message."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveIntegerField(default=100, db_index=True)
    enabled = models.BooleanField(default=True)
    trigger = models.CharField(max_length=20, choices=AutoReplyTrigger.choices)
    trigger_value = models.CharField(
        max_length=500, blank=True,
        help_text="The payload, payload prefix or reply id; keywords separated by commas; a "
        "regular expression (case-insensitive). Empty for office hours.",
    )  # fmt: skip
    action = models.CharField(max_length=20, choices=AutoReplyAction.choices)
    text = models.TextField(blank=True, help_text="For 'send text': the reply (≤ 4,096 chars).")
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="For 'send a template': an approved template.",
    )  # fmt: skip
    template_parameters = models.JSONField(
        default=dict, blank=True,
        help_text='Constant values: {"body": ["Asha", "#123"], "header": ["..."]} (lists for '
        "positional templates, objects by name for named ones).",
    )  # fmt: skip
    content_payload = models.CharField(
        max_length=200, blank=True,
        help_text="For 'send a content item': the unlock payload, e.g. UNLOCK_CONTENT:42.",
    )  # fmt: skip
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tag = models.ForeignKey(
        "crm.Tag", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=0, help_text="Do not fire again for the same contact within this many minutes."
    )
    stop_processing = models.BooleanField(
        default=True, help_text="Evaluate no further rules (nor the FAQ/AI responders)."
    )
    fallback = models.BooleanField(
        default=False,
        help_text="Only when nothing else answered: evaluated after the FAQ/AI responders "
        "(an out-of-office note that gives way to a real answer, say).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "auto-reply rule"

    def __str__(self) -> str:
        return self.name

    def clean(self):
        problems = rule_problems(self)
        if problems:
            raise ValidationError(problems)


class AutoReplyOutcome(models.TextChoices):
    SENT = "sent", "Reply sent"
    ACTED = "acted", "Action done"
    SKIPPED = "skipped", "Skipped"
    REFUSED = "refused", "Send refused"
    NO_ANSWER = "no_answer", "Nothing to send"
    ERROR = "error", "Error"


class AutoReplyRun(models.Model):
    """What automation did for one inbound message, once per (message, rule).

    `rule_key` names the rule (`rule:<id>`) or a built-in (`builtin:unlock`, `responder:faq`,
    `responder:ai`). At most one run per inbound message carries a reply.
    """

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="autoreply_runs")
    rule = models.ForeignKey(
        AutoReplyRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    rule_key = models.CharField(max_length=64)
    outcome = models.CharField(max_length=12, choices=AutoReplyOutcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    reply = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "auto-reply run"
        constraints = [
            models.UniqueConstraint(fields=["message", "rule_key"], name="autoreply_run_once"),
            models.UniqueConstraint(
                fields=["message"], condition=Q(reply__isnull=False), name="autoreply_one_reply"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_key} on {self.message_id}: {self.outcome}"


class FaqEntry(models.Model):
    """A question the FAQ responder answers when an inbound text matches it well enough."""

    question = models.CharField(max_length=300)
    keywords = models.CharField(
        max_length=500, blank=True, help_text="Words or phrases, separated by commas."
    )
    answer = models.TextField(help_text="Sent as a text reply (≤ 4,096 characters).")
    topic = models.CharField(max_length=64, db_index=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic", "question"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question


class AutomatedAnswer(models.Model):
    """The automation behind an automated reply: who answered, on what topic, how sure, and
    how an agent rated it (1 to 5)."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="automated_answer"
    )
    question = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    responder = models.CharField(max_length=32, help_text="faq, ai, rule or unlock.")
    topic = models.CharField(max_length=64, blank=True, db_index=True)
    confidence = models.FloatField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="automated_answer_rating_1_5",
            )
        ]
        permissions = [("rate_automatedanswer", "Can rate automated answers")]

    def __str__(self) -> str:
        return f"{self.responder} answer {self.message_id} ({self.topic or 'no topic'})"
