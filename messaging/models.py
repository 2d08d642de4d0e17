"""Messaging's models, one module per domain; re-exported here so that app labels, table
names, permissions and `from messaging.models import ...` stay as they were."""

from messaging.automation.models import (  # noqa: F401
    AutomatedAnswer,
    AutoReplyAction,
    AutoReplyOutcome,
    AutoReplyRule,
    AutoReplyRun,
    AutoReplyTrigger,
    FaqEntry,
)
from messaging.campaigns.models import (  # noqa: F401
    Campaign,
    CampaignState,
    CampaignTestSend,
    CampaignTransition,
)
from messaging.channels.models import (  # noqa: F401
    Channel,
    MessageTemplate,
    PriceCard,
    PriceRate,
    PricingCategory,
    Provider,
    RateLimitState,
    TemplateCategory,
    TemplateEvent,
    TemplateEventKind,
    TemplateEventSource,
    TemplateStatus,
)
from messaging.content.models import (  # noqa: F401
    ContentDelivery,
    ContentItem,
    ContentRevision,
    ContentSource,
    ContentState,
    ContentTarget,
    ContentTransition,
    ContentUnlock,
    UnlockKind,
)
from messaging.hooks_out.models import (  # noqa: F401
    DeliveryState,
    HookEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from messaging.inbox.models import (  # noqa: F401
    AgentAvailability,
    CannedReply,
    SatisfactionSurvey,
    Team,
    TeamChannel,
    TeamMember,
)
from messaging.links.models import (  # noqa: F401
    LinkClick,
    TrackedLink,
)
from messaging.media.models import (  # noqa: F401
    MediaAsset,
    MediaUpload,
)
from messaging.notifications.models import (  # noqa: F401
    Notification,
    NotificationPreference,
    NotificationPreferenceEvent,
    NotificationPreferenceSource,
    NotificationType,
)
from messaging.sending.models import (  # noqa: F401
    PROVIDER_STATUSES,
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Lane,
    Message,
    MessageStatusEvent,
    MessageType,
    Status,
)
from messaging.webhooks.models import (  # noqa: F401
    WebhookEvent,
    WebhookState,
)
