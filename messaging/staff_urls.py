"""Staff pages of messaging, under /staff/ (namespace `messaging`), from each domain's urls."""

from messaging.automation.urls import urlpatterns as automation
from messaging.campaigns.urls import urlpatterns as campaigns
from messaging.channels.urls import urlpatterns as channels
from messaging.content.urls import urlpatterns as content
from messaging.hooks_out.urls import urlpatterns as hooks_out
from messaging.inbox.urls import urlpatterns as inbox
from messaging.media.urls import urlpatterns as media
from messaging.notifications.urls import urlpatterns as notifications

urlpatterns = [
    *campaigns, *content, *notifications, *automation, *inbox, *channels, *media, *hooks_out,
]  # fmt: skip
