"""Which messaging tables the audit log follows (core.audit), and why.

Recorded, field by field, when staff or an API token write them: the configuration people
edit, the price card (`PriceCard`, `PriceRate`: what every message costs), `Channel`
(secrets are never in it: it names the settings that hold them, and those names are
shown), `MessageTemplate`, `Campaign` (with launch, pause, resume and cancel also named
actions), `ContentItem`, `AutoReplyRule`, `FaqEntry`, `NotificationType`,
`NotificationPreference`, `TrackedLink`, `WebhookSubscription` (without its secret), the
inbox's `Team` (with its members and routed
numbers, `TeamMember`, `TeamChannel`) and `CannedReply`; and `Conversation` (assignment,
closing), without the timestamps every inbound message moves; the media library's
`MediaAsset` (added and deleted by staff and tokens; not `last_used_at`, which sends move).
Agents' availability toggles (`AgentAvailability`) are not configuration and are not recorded.

Not recorded: the traffic, high-volume and written by the send path and webhooks (`Message`,
`MessageStatusEvent`, `Notification`, `WebhookEvent`, `LinkClick`, `ContentDelivery`,
`ContentUnlock`, `AutoReplyRun`, `AutomatedAnswer`, `RateLimitState`, `SatisfactionSurvey`,
`MediaUpload`: the ids the send path gets from the provider, `WebhookDelivery`),
and the append-only
histories that already name who acted (`CampaignTransition`, `ContentTransition`,
`ConversationEvent`, `NotificationPreferenceEvent`). Bulk writes (a campaign's messages,
held and released rows) are one named event each (`launch`, `pause`, `resume`, `cancel`).
"""

from __future__ import annotations

from core.audit import audit_register
from messaging.automation.models import AutoReplyRule, FaqEntry
from messaging.campaigns.models import Campaign
from messaging.channels.models import Channel, MessageTemplate, PriceCard, PriceRate
from messaging.content.models import ContentItem
from messaging.hooks_out.models import WebhookSubscription
from messaging.inbox.models import CannedReply, Team, TeamChannel, TeamMember
from messaging.links.models import TrackedLink
from messaging.media.models import MediaAsset
from messaging.notifications.models import NotificationPreference, NotificationType
from messaging.sending.models import Conversation


def audit_register_messaging() -> None:
    for model in (
        Channel, MessageTemplate, ContentItem, AutoReplyRule, FaqEntry, NotificationType,
        NotificationPreference, TrackedLink, PriceCard, PriceRate, TeamMember, TeamChannel,
        CannedReply,
    ):  # fmt: skip
        audit_register(model)
    audit_register(Campaign, m2m_fields={"tags"})
    audit_register(Team, exclude_fields=["last_assigned", "turns"])
    audit_register(MediaAsset, exclude_fields=["last_used_at"])
    # Never the secret (rotations are the named action `webhook_secret_rotated`), nor the
    # delivery bookkeeping workers write.
    audit_register(
        WebhookSubscription,
        exclude_fields=[
            "secret", "secret_rotated_at", "failing_since", "last_success_at",
            "consecutive_failures", "retry_at", "updated_at",
        ],
    )  # fmt: skip
    audit_register(
        Conversation,
        exclude_fields=[
            "first_inbound_at", "last_inbound_at", "first_response_at",
            "first_response_automated", "last_activity_at",
        ],
    )  # fmt: skip
