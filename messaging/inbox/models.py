"""The inbox's own tables: teams and their routing, agents' availability, canned replies and
satisfaction surveys. Conversations, their messages and their events live in `sending`."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from messaging.channels.models import Channel


class Team(models.Model):
    """A group of agents. A number routed to the team (`channels`) has its new and unassigned
    conversations given to the team's available members in turn (round robin)."""

    name = models.CharField(max_length=80, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMember", related_name="inbox_teams", blank=True
    )
    channels = models.ManyToManyField(
        Channel, through="TeamChannel", related_name="teams", blank=True,
        help_text="Numbers whose conversations this team answers (one team per number).",
    )  # fmt: skip
    auto_assign = models.BooleanField(
        "assign automatically",
        default=True,
        help_text="Give new and unassigned conversations to available members in turn.",
    )
    # The round robin's state: who got the last conversation, and how many turns were taken.
    # Taking a turn updates this row first, which locks it until the assignment commits.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    turns = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("view_agent_report", "Can view the per-agent and per-team inbox report"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "user"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class TeamChannel(models.Model):
    """A number routed to a team; a number has at most one team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="routes")
    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="route")

    def __str__(self) -> str:
        return f"{self.channel} -> {self.team}"


class AgentAvailability(models.Model):
    """Whether an agent takes new conversations now. No row means available: a new agent
    is in the rotation until they say they are away."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
        related_name="inbox_availability",
    )  # fmt: skip
    available = models.BooleanField(default=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "agent availability"

    def __str__(self) -> str:
        return f"{self.user}: {'available' if self.available else 'away'}"


SHORTCUT_RE = r"^[a-z0-9][a-z0-9_-]*$"


class CannedReply(models.Model):
    """A saved answer an agent inserts by typing `/` and its shortcut in the reply box.
    Global (no team) ones are offered to everyone; a team's to its members."""

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="canned_replies",
        help_text="Empty: offered to everyone.",
    )  # fmt: skip
    shortcut = models.CharField(
        max_length=40,
        validators=[
            RegexValidator(SHORTCUT_RE, "Lower-case letters, digits, - and _ only, without spaces.")
        ],
        help_text="Typed after / in the reply box, e.g. refund-policy.",
    )
    title = models.CharField(max_length=100)
    body = models.TextField(max_length=4096)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["shortcut", "pk"]
        verbose_name_plural = "canned replies"
        constraints = [
            models.UniqueConstraint(
                fields=["team", "shortcut"], name="canned_reply_shortcut_per_team"
            ),
            models.UniqueConstraint(
                fields=["shortcut"],
                condition=Q(team__isnull=True),
                name="canned_reply_shortcut_global",
            ),
        ]
        permissions = [
            ("manage_cannedreply", "Can manage the global canned replies and every team's"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class SatisfactionSurvey(models.Model):
    """The 1-to-5 question sent after an agent closed a conversation (numbers that opted in),
    and the customer's answer. One per close."""

    conversation = models.ForeignKey(
        "messaging.Conversation", on_delete=models.CASCADE, related_name="surveys"
    )
    closed_at = models.DateTimeField(help_text="The close that asked the question.")
    # Who the rating is about: the assignee when it was closed, else whoever closed it.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="surveys"
    )
    message = models.OneToOneField(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="survey",
    )  # fmt: skip
    sent_at = models.DateTimeField(default=timezone.now)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rated_at = models.DateTimeField(null=True, blank=True)
    reply = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "closed_at"], name="survey_once_per_close"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="survey_rating_1_to_5",
            ),
        ]
        indexes = [models.Index(fields=["closed_at"], name="survey_closed_at")]

    def __str__(self) -> str:
        return f"survey of {self.conversation_id} at {self.closed_at:%Y-%m-%d %H:%M}"
