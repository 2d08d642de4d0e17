"""Messaging's REST API, under /api/v1/, from each domain's api_urls.

`messages/bulk/` (campaigns) comes before `messages/<uuid:id>/` (sending) only for
readability: a UUID never matches "bulk".
"""

from messaging.campaigns.api_urls import urlpatterns as campaigns
from messaging.channels.api_urls import urlpatterns as channels
from messaging.hooks_out.api_urls import urlpatterns as hooks_out
from messaging.inbox.api_urls import urlpatterns as inbox
from messaging.media.api_urls import urlpatterns as media
from messaging.notifications.api_urls import urlpatterns as notifications
from messaging.sending.api_urls import urlpatterns as sending

urlpatterns = [*sending, *campaigns, *channels, *notifications, *inbox, *media, *hooks_out]
